// The other half of the both-backends link test (test_explore_link.cpp): compiled against
// the model backend, it explores the same kind of workload under the explorer.
#include "explore/search.h"
#include "machine/machine.h"
#include "mm/mm.h"

namespace gupfast_link {

// Two threads storing to one page of a model machine, explored; the number of executions
// (> 0), or -1 if the exploration reported anything.
long model_probe() {
  using namespace gupfast;
  static mm_struct* mm;
  static bool up;
  explore::program p;
  p.nthreads = 2;
  p.setup = [] {
    machine_config cfg;
    cfg.frames = 2048;
    up = machine_create(cfg) == 0;
    mm = mm_alloc();
    vm_mmap(mm, 0x10000000ul, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_);
  };
  p.thread = [](int tid) { mm_store(mm, 0x10000000ul + tid, static_cast<uint8_t>(tid + 1)); };
  p.finish = [] {
    if (machine_frames_in_use() == 0) explore::fail("lost", "the stored page is gone");
  };
  p.teardown = [] {
    mmput(mm);
    if (up) {
      if (machine_frames_in_use() != 0) explore::fail("leak", "frames left after exit");
      machine_destroy();
    }
  };
  explore::options o;
  o.bound = 1;
  explore::result r = explore::explore(p, o);
  return r.found || !r.exhaustive ? -1 : static_cast<long>(r.executions);
}

}  // namespace gupfast_link
