// Event counters of the machine: per-CPU, summed on read. They feed `gupfast stress`, the
// demo and the benchmarks; tests assert on them (e.g. "the fast path stopped because the
// PTE changed").
#pragma once
#include <cstdint>

#include "sync/sync.h"

GUPFAST_NS_BEGIN

#define GUPFAST_COUNTERS(X)                                                     \
  X(gup_fast_calls) X(gup_fast_pages) X(gup_slow_calls) X(gup_slow_pages)         \
  X(gup_unpins) X(gup_puts)                                                      \
  X(stop_pte_changed) X(stop_pmd_changed) X(stop_folio_changed)                  \
  X(stop_ref_zero) X(stop_seq_changed) X(stop_not_present) X(stop_permission)    \
  X(stop_unshare) X(stop_special) X(stop_longterm) X(stop_table_gone) X(stop_bad_pfn) X(stop_ref_overflow) \
  X(folio_recheck_retries) X(wp_seq_busy)                                        \
  X(faults) X(fault_anon) X(fault_zero_page) X(fault_shared) X(cow_copies)        \
  X(cow_reuses) X(unshare_copies) X(fork_pinned_copies) X(forks)                  \
  X(tlb_flushes) X(tlb_ipis) X(tlb_hits) X(tlb_misses) X(tlb_local_flushes)       \
  X(tables_allocated) X(tables_freed) X(tables_freed_rcu) X(tables_cached)        \
  X(table_sync_ipis) X(pages_zapped) X(thp_faults) X(thp_splits_pmd) X(bad_page)   \
  /* callers' mistakes the API refuses (docs/errors.md) */                      \
  X(bad_unpin) X(gup_ref_overflow)                                               \
  /* khugepaged collapse (mm/khugepaged.cpp) and empty PTE table reclaim */     \
  X(collapse_done) X(collapse_fail_pinned) X(collapse_fail_refcount)             \
  X(collapse_fail_busy) X(collapse_fail_unsuitable) X(collapse_fail_nomem)       \
  X(pt_reclaim_freed) X(pt_reclaim_not_empty)                                    \
  /* reclaim, swap, migration, split (mm/vmscan.cpp, mm/migrate.cpp, mm/split.cpp) */ \
  X(reclaim_scanned) X(reclaim_done) X(reclaim_skip_pinned) X(reclaim_unmap_pinned)  \
  X(reclaim_busy) X(reclaim_referenced) X(reclaim_freeze_failed)                  \
  X(reclaim_split_failed) X(pswpout) X(pswpin) X(swap_cache_hits) X(swapin_faults) \
  X(migrate_done) X(migrate_pinned) X(migrate_unmap_pinned) X(migrate_busy)       \
  X(migrate_freeze_failed) X(migrate_nomem) X(migrate_split_failed)               \
  X(migration_entry_waits) X(split_done) X(split_pinned) X(split_unmap_pinned)   \
  X(split_busy) X(split_freeze_failed)                                            \
  /* MADV_FREE (mm/lazyfree.cpp): marked lazyfree, dropped by reclaim, kept (redirtied or referenced) */ \
  X(lazyfree_marked) X(lazyfree_freed) X(lazyfree_kept)

enum counter_id : unsigned {
#define X(name) CNT_##name,
  GUPFAST_COUNTERS(X)
#undef X
  NR_COUNTERS
};
extern const char* const counter_names[NR_COUNTERS];

struct alignas(64) percpu_counters {
  sync::stat_counter v[NR_COUNTERS];
};
// One slot per CPU plus a shared slot for threads that are not CPUs.
extern percpu_counters g_counters[sync::NR_CPUS + 1];

inline void count_event(counter_id id, uint64_t n = 1) {
  int cpu = sync::smp_processor_id();
  // Single writer per CPU slot: a plain increment, no locked instruction on the hot path.
  // Threads that are not CPUs share the last slot.
  if (cpu >= 0)
    g_counters[cpu].v[id].add(n);
  else
    g_counters[sync::NR_CPUS].v[id].add_shared(n);
}
uint64_t counter_read(counter_id id);
void counters_reset();

GUPFAST_NS_END
