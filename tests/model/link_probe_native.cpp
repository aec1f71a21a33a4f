// One half of the both-backends link test (test_explore_link.cpp): compiled against the
// native backend, it runs a small workload on real threads' seam.
#include "machine/machine.h"
#include "mm/mm.h"

namespace gupfast_link {

// A fault, a store and an exit on a native machine; the frames left over (0: no leak), or -1.
long native_probe() {
  using namespace gupfast;
  machine_config cfg;
  cfg.frames = 2048;
  if (machine_create(cfg) != 0) return -1;
  long left;
  {
    cpu_scope cpu;
    mm_struct* mm = mm_alloc();
    if (vm_mmap(mm, 0x10000000ul, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_) != 0x10000000l ||
        mm_store(mm, 0x10000000ul, 7) != 0)
      left = -1;
    else
      left = 0;
    mmput(mm);
    if (left == 0) left = static_cast<long>(machine_frames_in_use());
  }
  machine_destroy();
  return left;
}

}  // namespace gupfast_link
