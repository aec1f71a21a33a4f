// Empty page-table reclaim on zap (mm/pt_reclaim.c, CONFIG_PT_RECLAIM, Qi Zheng, 6.14).
//
// MADV_DONTNEED runs under mmap_lock for *read*, so when it frees a PTE table, three kinds of
// walker may be inside or about to enter it:
//   lockless   GUP-fast and the hardware walker: no lock at all
//   locked     faults, the GUP slow path, concurrent zaps: mmap_lock for read, then
//              pte_offset_map_lock(), which loads the PMD, locks the table's PTL and
//              revalidates that the PMD still points to that table
//   rmap       reclaim and migration reach tables through the anon rmap; in this model
//              rmap_walk takes each mm's mmap_lock for read (trylock), then goes through
//              pte_offset_map_lock(): a locked walker like the others (the kernel's rmap walk
//              takes no mmap_lock and relies on the same RCU + revalidation)
// try_to_free_pte() takes the PMD lock and then the table's PTL, so it waits out every walker
// that already holds the PTL; rechecks the table is empty; clears the PMD; and frees the table
// through the strategy after the TLB flush. What protects a walker that loaded the PMD before
// the clear and is spinning on (or about to take) the old table's PTL depends on the strategy:
//
//   rcu       The table is freed after a grace period, and pte_offset_map_lock() holds the
//             RCU read lock from its PMD load until it holds the PTL and has revalidated
//             (the kernel's __pte_offset_map takes rcu_read_lock for exactly this): the table
//             and its PTL stay alive across the spin; the revalidation then fails and the
//             walker retries. Lockless walkers: irqs-off/RCU section, as for any table free.
//             This is the only configuration the kernel supports: in 6.14 PT_RECLAIM
//             selects MMU_GATHER_RCU_TABLE_FREE (later reworked to depend on it).
//   seqcount  Tables are type-stable: a frame that was a table is reused only as a table, and
//             pagetable_alloc() never reinitializes its PTL. A stale walker spins on the PTL
//             of some table, locks it, finds the PMD changed and retries: the
//             SLAB_TYPESAFE_BY_RCU "lock, then revalidate identity" pattern. The PMD clear is
//             a write section on the PMD table's counter, so lockless walkers that loaded the
//             old PMD fail validation [PT-RECLAIM-CLEAR].
//   ipi       The table is freed right after the flush IPI. Locked walkers run with irqs on,
//             so that IPI does not wait for them: a fault that loaded the PMD could spin on
//             the PTL of a table already freed and reused (in the kernel the ptdesc and its
//             lock word become anything; in this model the PTL lives in the never-freed
//             memmap, which would hide the bug, so we do not lean on that). Hence under ipi
//             the reclaiming MADV_DONTNEED takes mmap_lock for *write*: faults, the slow path,
//             other zaps and rmap walks (which take mmap_lock for read here) are excluded;
//             lockless walkers are held off by the flush IPI. The kernel instead allows
//             PT_RECLAIM only with RCU table freeing.
#include "mm/pt_reclaim.h"

#include <algorithm>

#include "machine/counters.h"
#include "tlb/pt_seq.h"

GUPFAST_NS_BEGIN

namespace {
GUPFAST_WORLD sync::atomic<bool> g_pt_reclaim{false};
}  // namespace

void pt_reclaim_set_enabled(bool on) { g_pt_reclaim.store(on, sync::relaxed); }
bool pt_reclaim_enabled() { return g_pt_reclaim.load(sync::relaxed); }

bool pt_reclaim_needs_mmap_write_lock() { return g_cfg.strategy == table_strategy::ipi; }

bool try_to_free_pte(mmu_gather* tlb, mm_struct* mm, pmd_t* pmdp) {
  sync::spinlock_t* pml = pmd_lockptr(mm, pmdp);
  sync::spin_lock(pml);
  // Stable under the PMD lock: every writer of a PMD entry holds it (__pte_alloc, split,
  // collapse, zap of a leaf) or holds mmap_lock for write (free_pgtables), which we exclude.
  pmd_t pmd = pmdp_get(pmdp);
  if (!pmd_table(pmd)) {
    sync::spin_unlock(pml);
    return false;
  }
  page* table = pfn_to_page(pmd_pfn(pmd));
  // The PTL after the PMD lock (the kernel's nesting order): a locked walker that has
  // revalidated and holds it finishes first; one that takes it after us finds the PMD none.
  sync::spin_lock(&table->ptl);
  auto* ptes = reinterpret_cast<pte_t*>(page_address(table));
  // The zap emptied the table, but dropped the PTL since: a fault (mmap_lock for read, as
  // ours) may have refilled it. Qi Zheng's f39edcf6349a ("mm: pgtable: fix incorrect reclaim
  // of non-empty PTE pages") made the kernel's direct path, which trusted the zap's count,
  // recheck like this one whenever the lock had been dropped; mutant no-pt-reclaim-recheck
  // trusts the zap.
  for (int i = 0; i < PTRS_PER_PTE && !is_unsafe(NO_PT_RECLAIM_RECHECK); i++) {
    if (!pte_none(ptep_get(ptes + i))) {  // refaulted since the zap (faults hold mmap_lock read)
      sync::spin_unlock(&table->ptl);
      sync::spin_unlock(pml);
      count_event(CNT_pt_reclaim_not_empty);
      return false;
    }
  }
  {
    // [PT-RECLAIM-CLEAR] Races with lockless walkers' single PMD load (GUP-fast, the
    // hardware walker) and locked walkers' pte_offset_map_lock. Lockless: the table is freed
    // only through the strategy (after the flush IPI, a grace period, or into the
    // type-stable cache with this write section telling seqcount walkers to discard).
    // Locked: they revalidate the PMD after taking the PTL and retry (see the file comment).
    pt_seq_write seq(mm, virt_to_table_page(pmdp));
    pmd_clear(pmdp);
  }
  sync::yield_point("pt_reclaim:after_clear");
  sync::spin_unlock(&table->ptl);
  sync::spin_unlock(pml);
  mm->nr_ptes.fetch_sub(1, sync::relaxed);
  tlb_remove_table(tlb, table);  // freed by tlb_finish_mmu, after its (whole-mm) TLB flush
  count_event(CNT_pt_reclaim_freed);
  return true;
}

void reclaim_pt_range(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end) {
  for (vm_area_struct* v = find_vma(mm, start); v && v->vm_start < end; v = find_vma(mm, v->vm_end)) {
    unsigned long s = std::max(start, v->vm_start), e = std::min(end, v->vm_end);
    for (unsigned long d = (s + PMD_SIZE - 1) & PMD_MASK; d + PMD_SIZE <= e && d + PMD_SIZE > d; d += PMD_SIZE) {
      pmd_t* pmdp = mm_find_pmd(mm, d);
      if (pmdp) try_to_free_pte(tlb, mm, pmdp);
    }
  }
}

GUPFAST_NS_END
