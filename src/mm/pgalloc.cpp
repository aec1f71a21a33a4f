// Page-table population and removal on the locked paths (mm/memory.c: __pte_alloc,
// __pmd_alloc, pte_offset_map_lock, free_pgtables).
#include <algorithm>
#include <cerrno>

#include "machine/counters.h"
#include "mm/mm.h"
#include "tlb/pt_seq.h"

GUPFAST_NS_BEGIN

namespace {
pteval_t* table_of(unsigned long pfn) { return reinterpret_cast<pteval_t*>(pfn_to_virt(pfn)); }
}  // namespace

// Publishing a new table: its zeroed contents and lock must be visible before the entry
// that points to it (pmd_install's smp_wmb). A lockless walker that loads the entry then
// reads zeroes, never allocator leftovers. Pairs with the walker's address dependency.
pud_t* pud_alloc(mm_struct* mm, pgd_t* pgdp, unsigned long addr) {
  if (pgd_none(pgdp_get(pgdp))) {
    page* t = pagetable_alloc(mm);
    if (!t) return nullptr;
    sync::spin_lock(&mm->page_table_lock);
    if (pgd_none(pgdp_get(pgdp))) {
      sync::smp_wmb();
      set_pgd(pgdp, {table_entry(page_to_pfn(t))});
      t = nullptr;
    }
    sync::spin_unlock(&mm->page_table_lock);
    if (t) pagetable_free(t);
  }
  return pud_offset(pgdp, addr);
}

pmd_t* pmd_alloc(mm_struct* mm, pud_t* pudp, unsigned long addr) {
  if (pud_none(pudp_get(pudp))) {
    page* t = pagetable_alloc(mm);
    if (!t) return nullptr;
    sync::spin_lock(&mm->page_table_lock);
    if (pud_none(pudp_get(pudp))) {
      sync::smp_wmb();
      set_pud(pudp, {table_entry(page_to_pfn(t))});
      mm->nr_pmds.fetch_add(1, sync::relaxed);
      t = nullptr;
    }
    sync::spin_unlock(&mm->page_table_lock);
    if (t) pagetable_free(t);
  }
  return pmd_offset(pudp, addr);
}

sync::spinlock_t* pmd_lockptr(mm_struct*, pmd_t* pmdp) { return &virt_to_table_page(pmdp)->ptl; }

int __pte_alloc(mm_struct* mm, pmd_t* pmdp) {
  page* t = pagetable_alloc(mm);
  if (!t) return -ENOMEM;
  sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
  sync::spin_lock(ptl);
  if (pmd_none(pmdp_get(pmdp))) {  // pmd_install()
    mm->nr_ptes.fetch_add(1, sync::relaxed);
    sync::smp_wmb();
    set_pmd(pmdp, pfn_pmd_table(page_to_pfn(t)));
    t = nullptr;
  }
  sync::spin_unlock(ptl);
  if (t) pagetable_free(t);
  return 0;
}

pmd_t* mm_find_pmd(mm_struct* mm, unsigned long addr) {
  pgd_t* pgdp = pgd_offset_pgd(mm->pgd, addr);
  pgd_t pgd = pgdp_get(pgdp);
  if (!pgd_present(pgd)) return nullptr;
  pud_t* pudp = pud_offset_lockless(pgd, addr);
  pud_t pud = pudp_get(pudp);
  if (!pud_present(pud)) return nullptr;
  return pmd_offset_lockless(pud, addr);
}

pte_t* pte_offset_map_lock(mm_struct* mm, pmd_t* pmdp, unsigned long addr, sync::spinlock_t** ptlp) {
  // __pte_offset_map(): under the rcu strategy, PT reclaim (mm/pt_reclaim.cpp) may free the
  // table under mmap_lock for read; the RCU read lock from the PMD load until we hold the PTL
  // and have revalidated keeps the table and its PTL alive meanwhile (its free waits a grace
  // period). Once revalidated, holding the PTL keeps it: every freer takes the PTL or
  // mmap_lock for write. Seqcount tables are type-stable; ipi reclaim takes mmap_lock for
  // write. Context: a CPU thread (an unregistered thread's RCU read lock protects nothing).
  bool rcu = g_cfg.strategy == table_strategy::rcu;
  for (;;) {
    if (rcu) sync::rcu_read_lock();
    pmd_t pmd = pmdp_get_lockless(pmdp);
    if (!pmd_table(pmd)) {
      if (rcu) sync::rcu_read_unlock();
      return nullptr;
    }
    sync::spinlock_t* ptl = &pfn_to_page(pmd_pfn(pmd))->ptl;
    sync::spin_lock(ptl);
    // The table may have been detached (collapse, PT reclaim) between our read and the
    // lock: only a PMD that still points to it makes the lock the right one (Hugh Dickins'
    // 0d940a9b270b, "mm/pgtable: allow pte_offset_map[_lock]() to fail"). Mutant
    // no-pte-map-recheck trusts the first read.
    bool same = is_unsafe(NO_PTE_MAP_RECHECK) || pmd_val(pmdp_get_lockless(pmdp)) == pmd_val(pmd);
    if (rcu) sync::rcu_read_unlock();
    if (same) {
      *ptlp = ptl;
      return pte_offset_lockless(pmd, addr);
    }
    sync::spin_unlock(ptl);
    sync::cpu_relax();
  }
}

namespace {

bool range_has_vma(mm_struct* mm, unsigned long start, unsigned long end) {
  vm_area_struct* v = find_vma(mm, start);
  return v && v->vm_start < end;
}

// Context: mmap_lock held for write and no VMA over the table's range, so no fault or
// locked walker can reach it. Lockless walkers still can: that is what the strategy's
// deferred free (tlb_remove_table) is for. [TABLE-UNLINK] pairs with the walkers'
// single loads of the parent entry.
void free_pte_table(mmu_gather* tlb, mm_struct* mm, pmd_t* pmdp) {
  pmd_t pmd = pmdp_get(pmdp);
  if (!pmd_table(pmd)) return;
  {
    // Unlinking changes the PMD table's entry: walkers that may have loaded it discard.
    pt_seq_write seq(mm, virt_to_table_page(pmdp));
    pmd_clear(pmdp);
  }
  mm->nr_ptes.fetch_sub(1, sync::relaxed);
  tlb_remove_table(tlb, pfn_to_page(pmd_pfn(pmd)));
}

}  // namespace

void free_pgtables(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end) {
  for (unsigned long g = start & PGDIR_MASK; g < end; g += PGDIR_SIZE) {
    pgd_t* pgdp = pgd_offset_pgd(mm->pgd, g);
    pgd_t pgd = pgdp_get(pgdp);
    if (!pgd_present(pgd)) continue;
    unsigned long g_end = g + PGDIR_SIZE;
    for (unsigned long u = std::max(g, start & PUD_MASK); u < std::min(g_end, end); u += PUD_SIZE) {
      pud_t* pudp = pud_offset_lockless(pgd, u);
      pud_t pud = pudp_get(pudp);
      if (!pud_present(pud)) continue;
      for (unsigned long d = std::max(u, start & PMD_MASK); d < std::min(u + PUD_SIZE, end); d += PMD_SIZE) {
        if (range_has_vma(mm, d, d + PMD_SIZE)) continue;
        // A PMD leaf there was already zapped by unmap_page_range.
        free_pte_table(tlb, mm, pmd_offset_lockless(pud, d));
      }
      if (range_has_vma(mm, u, u + PUD_SIZE)) continue;
      // No VMA anywhere under this PMD table: none of its PTE tables is in use.
      auto* pmd_table_base = reinterpret_cast<pmd_t*>(table_of(pud_pfn(pud)));
      for (int i = 0; i < PTRS_PER_PMD; i++) free_pte_table(tlb, mm, pmd_table_base + i);
      {
        pt_seq_write seq(mm, nullptr);
        pud_clear(pudp);
      }
      mm->nr_pmds.fetch_sub(1, sync::relaxed);
      tlb_remove_table(tlb, pfn_to_page(pud_pfn(pud)));
    }
    if (range_has_vma(mm, g, g_end)) continue;
    auto* pud_table = reinterpret_cast<pud_t*>(table_of(pgd_pfn(pgd)));
    bool empty = true;
    for (int i = 0; i < PTRS_PER_PUD && empty; i++) empty = pud_none(pudp_get(pud_table + i));
    if (empty) {
      pt_seq_write seq(mm, nullptr);
      pgd_clear(pgdp);
      tlb_remove_table(tlb, pfn_to_page(pgd_pfn(pgd)));
    }
  }
}

GUPFAST_NS_END
