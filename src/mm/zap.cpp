// Unmapping pages (mm/memory.c: unmap_page_range -> zap_pte_range).
#include "machine/counters.h"
#include "mm/huge_memory.h"
#include "mm/mm.h"
#include "mm/swap.h"
#include "tlb/pt_seq.h"

GUPFAST_NS_BEGIN

namespace {

// [ZAP-CLEAR] Clear each entry with one atomic get-and-clear under the PTL, and hand the
// mapping's reference to the gather, which drops it after the TLB flush. Races with
// GUP-fast (gup/gup_fast.cpp): a walker that loaded the old entry and grabbed the folio
// rechecks the entry, sees it changed, and drops its reference; one that grabbed nothing
// yet finds the folio's refcount kept above zero until the flush is done.
void zap_pte_range(mmu_gather* tlb, vm_area_struct* vma, pmd_t* pmdp, unsigned long addr, unsigned long end) {
  mm_struct* mm = vma->vm_mm;
  sync::spinlock_t* ptl;
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
  if (!ptep) return;
  pt_seq_write seq(mm, virt_to_table_page(ptep));  // ends before the PTL is dropped
  for (; addr < end; addr += PAGE_SIZE, ptep++) {
    pte_t ptent = ptep_get(ptep);
    if (pte_none(ptent)) continue;
    if (!pte_present(ptent)) {
      // zap_nonpresent_ptes(): a swap entry gives its slot count back (and the swap-cache
      // folio, if that was the last user of the slot); a migration entry just goes (it
      // holds no reference: the migrator finds nothing to restore here).
      swp_entry_t e = pte_to_swp_entry(ptent);
      if (!non_swap_entry(e))
        free_swap_and_cache(e);
      else if (is_migration_entry(e))
        mm->rss_anon.fetch_sub(1, sync::relaxed);
      pte_clear(ptep);
      continue;
    }
    ptent = ptep_get_and_clear(ptep);
    tlb_remove_tlb_entry(tlb, addr);
    folio* f = vm_normal_folio(vma, addr, ptent);
    if (!f) continue;  // the zero page
    page* p = pfn_to_page(pte_pfn(ptent));
    if (pte_dirty(ptent)) folio_set_dirty(f);
    p->_mapcount.fetch_sub(1, sync::relaxed);  // folio_remove_rmap_pte
    if (folio_test_anon(f))
      mm->rss_anon.fetch_sub(1, sync::relaxed);
    else
      mm->rss_shmem.fetch_sub(1, sync::relaxed);
    tlb_remove_folio(tlb, f);
    count_event(CNT_pages_zapped);
  }
  seq.end();
  sync::spin_unlock(ptl);
}

}  // namespace

void unmap_page_range(mmu_gather* tlb, vm_area_struct* vma, unsigned long addr, unsigned long end) {
  mm_struct* mm = vma->vm_mm;
  while (addr < end) {
    unsigned long next = pmd_addr_end(addr, end);
    pmd_t* pmdp = mm_find_pmd(mm, addr);
    if (pmdp) {
      pmd_t pmd = pmdp_get(pmdp);
      if (pmd_leaf(pmd)) {
        // Read without the PMD lock: a split (mmap_lock for read) may run from here on;
        // zap_huge_pmd() rechecks the leaf under the lock.
        sync::yield_point("zap:after_pmd_load");
        bool whole = addr == (addr & PMD_MASK) && next - addr == PMD_SIZE;
        if (whole && zap_huge_pmd(tlb, vma, pmdp, addr)) {
          addr = next;
          continue;
        }
        // Part of the leaf: split, then zap PTEs. Or no longer a leaf (split meanwhile).
        if (!whole) __split_huge_pmd(vma, pmdp, addr);
        pmd = pmdp_get(pmdp);
      }
      if (pmd_table(pmd)) zap_pte_range(tlb, vma, pmdp, addr, next);
    } else {
      // No PMD table: skip to the next PUD boundary at least.
      next = std::min(end, (addr + PUD_SIZE) & PUD_MASK);
    }
    addr = next;
  }
}

GUPFAST_NS_END
