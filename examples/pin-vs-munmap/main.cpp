// pin-vs-munmap: a program built against the installed gupfast library.
//
// It builds a machine, then races two CPUs (two threads): one pins four pages of a region with
// pin_user_pages_fast, lets a "device" write through the pins and unpins them; the other
// munmaps the region and maps it again, over and over. The oracle watches every operation
// and judges each pin (was the page mapped there during the call? was it freed while
// pinned? did the device's write reach the process?). It prints the oracle's verdict.
//
//   pin-vs-munmap [ROUNDS] [MUTANT]    e.g. pin-vs-munmap 2000 no-pte-recheck
//
// Exit 0: no violation; 1: the oracle found one (expected, with luck, for a mutant: real
// threads do not promise to hit the window; `gupfast explore` does); 2: bad arguments.
#include <gupfast.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using namespace gupfast;

int main(int argc, char** argv) {
  long rounds = argc > 1 ? std::atol(argv[1]) : 2000;
  if (rounds <= 0 || argc > 3) {
    std::fprintf(stderr, "usage: pin-vs-munmap [ROUNDS] [MUTANT]\n");
    return 2;
  }
  machine_config cfg;
  cfg.frames = 1ul << 16;  // 256 MiB
  cfg.strategy = table_strategy::rcu;
  cfg.tlb = tlb_mode::broadcast;
  if (argc > 2) {
    std::string bad;
    auto mask = parse_unsafe_list(argv[2], &bad);
    if (!mask) {
      std::fprintf(stderr, "pin-vs-munmap: '%s' is not a mutant\n", bad.c_str());
      return 2;
    }
    cfg.unsafe = *mask;
  }
  if (int err = machine_create(cfg)) {
    std::fprintf(stderr, "pin-vs-munmap: machine_create returned %d\n", err);
    return 1;
  }
  check::oracle_start({});
  constexpr unsigned long REGION = 0x40000000ul, LEN = 4 * PAGE_SIZE;
  mm_struct* mm;
  {
    cpu_scope cpu;
    mm = check::op_mm_alloc();
    check::op_mmap(mm, REGION, LEN, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_);
    for (unsigned long a = REGION; a < REGION + LEN; a += PAGE_SIZE) check::op_user_write(mm, a + 1000, 1);
  }
  long pinned = 0, remaps = 0;
  std::thread pinner([&] {
    cpu_scope cpu;
    for (long i = 0; i < rounds; i++) {
      check::held_pages held;
      long n = check::op_gup(check::gup_call::pin_fast, mm, REGION, 4, FOLL_WRITE, &held);
      if (n > 0) {
        pinned += n;
        check::op_dma_write(&held, 0, 0x1000 + uint64_t(i));
      }
      check::op_release(&held, true);
    }
  });
  std::thread mutator([&] {
    cpu_scope cpu;
    for (long i = 0; i < rounds; i++) {
      check::op_munmap(mm, REGION, LEN);
      check::op_mmap(mm, REGION, LEN, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_);
      for (unsigned long a = REGION; a < REGION + LEN; a += PAGE_SIZE) check::op_user_write(mm, a + 1000, 2);
      remaps++;
    }
  });
  pinner.join();
  mutator.join();
  {
    cpu_scope cpu;
    check::op_readback(mm);
    check::oracle_finish();
    check::op_mm_put(mm);
  }
  uint64_t bad = check::oracle_violation_count();
  std::printf("pin-vs-munmap: %s, %ld pages pinned, %ld munmap+mmap rounds, strategy rcu, broadcast flushes\n",
              argc > 2 ? argv[2] : "every check on", pinned, remaps);
  if (bad) {
    std::printf("oracle: %llu violation%s; the first: %s\n", (unsigned long long)bad, bad == 1 ? "" : "s",
                check::oracle_violations().front().message.c_str());
  } else {
    std::printf("oracle: no violation\n");
  }
  check::oracle_stop();
  unsigned long leaked = machine_frames_in_use();
  machine_destroy();
  if (leaked) std::printf("leak: %lu frames still in use\n", leaked);
  return bad || leaked ? 1 : 0;
}
