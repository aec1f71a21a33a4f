// The explorer's GUP scenario, shared by the tests and bench/bench_explore.cpp: thread 0
// pins address A with pin_user_pages_fast while thread 1 zaps A (MADV_DONTNEED) and then
// stores to B, whose fault takes the frame A had (the allocator hands the last freed frame
// out first). If GUP-fast grabbed A's old page after it was freed and reused, only the
// PTE recheck (or the seqcount validation) stops it from pinning B's page for A.
//
// The check is inline (finish): "stale-pin" if the pinned page is the one B maps now.
#pragma once
#include <string>

#include "explore/search.h"
#include "gup/gup.h"
#include "machine/machine.h"
#include "support/probe.h"

namespace gupfast::test {

struct gup_scenario {
  table_strategy strategy = table_strategy::rcu;
  tlb_mode tlb = tlb_mode::broadcast;
  pte_mode pte = pte_mode::native;
  uint32_t unsafe = 0;
  // 1: DONTNEED then store B (reuse); 2: also munmap A afterwards
  bool reuse = true;
};

inline constexpr unsigned long SCEN_A = 0x10000000ul;
inline constexpr unsigned long SCEN_B = SCEN_A + 0x10000ul;  // same PTE table: B's fault allocates only the page

struct gup_scenario_state {
  mm_struct* mm = nullptr;
  bool machine_up = false;
  long pinned = 0;
  page* pages[1] = {};
};
inline gup_scenario_state g_scen;

inline explore::program make_gup_program(const gup_scenario& s) {
  explore::program p;
  p.nthreads = 2;
  p.setup = [s] {
    g_scen = {};
    machine_config cfg;
    cfg.frames = 2048;
    cfg.strategy = s.strategy;
    cfg.tlb = s.tlb;
    cfg.pte = s.pte;
    cfg.unsafe = s.unsafe;
    if (machine_create(cfg) != 0) explore::fail("setup", "machine_create failed");
    g_scen.machine_up = true;
    g_scen.mm = mm_alloc();
    if (vm_mmap(g_scen.mm, SCEN_A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_) != long(SCEN_A) ||
        vm_mmap(g_scen.mm, SCEN_B, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_) != long(SCEN_B) ||
        mm_store(g_scen.mm, SCEN_A, 0x11) != 0)
      explore::fail("setup", "mmap/store failed");
  };
  p.thread = [s](int tid) {
    mm_struct* mm = g_scen.mm;
    if (tid == 0) {
      explore::annotate("pin_user_pages_fast A");
      g_scen.pinned = pin_user_pages_fast(mm, SCEN_A, 1, FOLL_WRITE, g_scen.pages);
    } else {
      explore::annotate("madvise A DONTNEED");
      do_madvise(mm, SCEN_A, PAGE_SIZE, MADV_DONTNEED_);
      if (s.reuse) {
        explore::annotate("store B");
        mm_store(mm, SCEN_B, 0x22);
      }
    }
  };
  p.finish = [] {
    if (g_scen.pinned == 1) {
      long pfn = static_cast<long>(page_to_pfn(g_scen.pages[0]));
      long b = mapped_pfn(g_scen.mm, SCEN_B);
      unpin_user_pages(g_scen.pages, 1);
      g_scen.pinned = 0;
      if (pfn == b)
        explore::fail("stale-pin", "pin_user_pages_fast(A) returned pfn " + std::to_string(pfn) +
                                       ", which B maps now: A's page was freed and reused under the walker");
    }
  };
  p.teardown = [] {
    if (g_scen.pinned > 0) unpin_user_pages(g_scen.pages, g_scen.pinned);
    if (g_scen.mm) mmput(g_scen.mm);
    if (g_scen.machine_up) machine_destroy();
    g_scen = {};
  };
  return p;
}

}  // namespace gupfast::test
