// Where the fast path's time goes (rcu strategy, the kernel's configuration): the same 1024
// pages as pin/{4k,thp}/fast/rcu, taken apart.
//
//   breakdown/{4k,thp}/walk   the lockless walk alone: irqs off + RCU read section, each
//                             entry loaded once (ptep_get_lockless), the page array filled;
//                             no reference taken, nothing rechecked
//   breakdown/{4k,thp}/grab   the grab alone on pages found beforehand: try_grab_folio_fast
//                             per page (one per folio on THP) and unpin_user_pages; no walk
//   breakdown/{4k,thp}/core   gup_fast(), the lockless core, + unpin_user_pages: the full
//                             fast path minus the entry point (flag checks, MMF_HAS_PINNED)
// (breakdown/4k/atomics, the protocol's atomics on a fake memmap, is in floor_bench.cpp.)
// report.cpp derives the remainder: fast - walk - grab = the rechecks, PG_referenced, the
// policy checks and the entry.
#include <vector>

#include "fixture.h"
#include "pgtable/pgtable.h"
#include "suite.h"
#include "tlb/tlbflush.h"

namespace gupfast::bench {

namespace {

// The walk of gup_fast_pgd_range .. gup_fast_pte_range without grabs or rechecks.
// Context: irqs off + RCU read side (the rcu strategy's walker).
long walk_lockless(mm_struct* mm, unsigned long addr, unsigned long end, page** pages) {
  long nr = 0;
  while (addr != end) {
    unsigned long next = pmd_addr_end(addr, end);
    pgd_t pgd = pgdp_get(pgd_offset_pgd(mm->pgd, addr));
    if (pgd_none(pgd)) return nr;
    pud_t pud = pudp_get(pud_offset_lockless(pgd, addr));
    if (!pud_present(pud)) return nr;
    pmd_t pmd = pmdp_get_lockless(pmd_offset_lockless(pud, addr));
    if (!pmd_present(pmd)) return nr;
    if (pmd_leaf(pmd)) {
      page* p = pfn_to_page(pmd_pfn(pmd)) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
      for (; addr != next; addr += PAGE_SIZE) pages[nr++] = p++;
      continue;
    }
    pte_t* ptep = pte_offset_lockless(pmd, addr);
    for (; addr != next; addr += PAGE_SIZE, ptep++) {
      pte_t pte = ptep_get_lockless(ptep);
      if (!pte_present(pte)) return nr;
      pages[nr++] = pfn_to_page(pte_pfn(pte));
    }
  }
  return nr;
}

long walk_rcu(mm_struct* mm, unsigned long start, page** pages) {
  unsigned long irq = sync::local_irq_save();
  sync::rcu_read_lock();
  long n = walk_lockless(mm, start, start + NPAGES * PAGE_SIZE, pages);
  sync::rcu_read_unlock();
  sync::local_irq_restore(irq);
  return n;
}

enum class part { walk, grab, core };

void bm_breakdown(benchmark::State& state, bool thp, part what) {
  bench_machine m(state, table_strategy::rcu);
  if (!m.ok()) return;
  unsigned long start = thp ? THP_REGION : REGION;
  if (!m.populate(start, NPAGES, thp)) return;
  std::vector<page*> pages(NPAGES);
  mm_struct* mm = m.mm();
  switch_mm(mm);
  if (walk_rcu(mm, start, pages.data()) != NPAGES) {
    state.SkipWithError("walk: a page is not present");
    return;
  }
  const unsigned flags = PIN_FLAGS | FOLL_PIN;
  const long step = thp ? HPAGE_PMD_NR : 1;
  for (auto _ : state) {
    switch (what) {
      case part::walk:
        walk_rcu(mm, start, pages.data());
        benchmark::ClobberMemory();
        break;
      case part::grab: {
        unsigned long irq = sync::local_irq_save();
        for (long i = 0; i < NPAGES; i += step) try_grab_folio_fast(pages[i], static_cast<int>(step), flags);
        sync::local_irq_restore(irq);
        unpin_user_pages(pages.data(), NPAGES);
        break;
      }
      case part::core: {
        long n = static_cast<long>(gup_fast(mm, start, start + NPAGES * PAGE_SIZE, flags, pages.data()));
        unpin_user_pages(pages.data(), n);
        if (n != NPAGES) {
          state.SkipWithError("gup_fast: short");
          return;
        }
        break;
      }
    }
  }
  state.counters[PAGES_PER_ITER] = static_cast<double>(NPAGES);
}

}  // namespace

void register_breakdown_suite(std::vector<std::string>* ids, const suite_timing& t) {
  for (bool thp : {false, true}) {
    std::string size = thp ? "thp" : "4k";
    register_one(
        ids, "breakdown/" + size + "/walk", [thp](benchmark::State& s) { bm_breakdown(s, thp, part::walk); },
        t.min_time, t.repetitions);
    register_one(
        ids, "breakdown/" + size + "/grab", [thp](benchmark::State& s) { bm_breakdown(s, thp, part::grab); },
        t.min_time, t.repetitions);
    register_one(
        ids, "breakdown/" + size + "/core", [thp](benchmark::State& s) { bm_breakdown(s, thp, part::core); },
        t.min_time, t.repetitions);
  }
}

}  // namespace gupfast::bench
