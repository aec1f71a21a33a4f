// MADV_FREE (mm/madvise.c, mm/swap.c). See lazyfree.h.
#include "mm/lazyfree.h"

#include <cerrno>

#include "machine/counters.h"
#include "mm/mm.h"
#include "mm/swap.h"
#include "mm/vma.h"
#include "tlb/mmu_gather.h"

GUPFAST_NS_BEGIN

namespace {

// folio_mark_lazyfree() -> lru_lazyfree(): a swap-backed anon folio outside the swap cache
// becomes lazyfree (the kernel also moves it to the inactive file LRU, so reclaim finds it
// early; our one LRU has no lists to move between).
void folio_mark_lazyfree(folio* f) {
  if (!folio_test_anon(f) || !folio_test_swapbacked(f) || folio_test_swapcache(f)) return;
  folio_clear_swapbacked(f);
  folio_clear_referenced(f);
  count_event(CNT_lazyfree_marked);
}

// madvise_free_pte_range(): one PTE table's part of the range. Context: mmap_lock for read.
void madvise_free_pte_range(mmu_gather* tlb, vm_area_struct* vma, pmd_t* pmdp, unsigned long addr,
                            unsigned long end) {
  mm_struct* mm = vma->vm_mm;
  sync::spinlock_t* ptl;
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
  if (!ptep) return;
  for (; addr < end; addr += PAGE_SIZE, ptep++) {
    pte_t ptent = ptep_get(ptep);
    if (pte_none(ptent)) continue;
    if (!pte_present(ptent)) {
      // A swapped-out page: its data is not wanted, give the slot back (migration
      // entries stay: the migrator owns them).
      swp_entry_t e = pte_to_swp_entry(ptent);
      if (non_swap_entry(e)) continue;
      free_swap_and_cache(e);
      pte_clear(ptep);
      continue;
    }
    folio* f = vm_normal_folio(vma, addr, ptent);
    if (!f || !folio_test_anon(f) || folio_test_large(f)) continue;  // zero page; large: see lazyfree.h
    // Shared with another mm after fork: its data is still that mm's.
    if (folio_mapcount(f) != 1) continue;
    if (folio_test_swapcache(f) || folio_test_dirty(f)) {
      if (!folio_trylock(f)) continue;
      if (folio_test_swapcache(f) && !folio_free_swap(f)) {
        folio_unlock(f);
        continue;
      }
      folio_clear_dirty(f);
      folio_unlock(f);
    }
    if (pte_young(ptent) || pte_dirty(ptent)) {
      // [LAZYFREE-CLEAN] Clear the dirty bit, so that a later write by the process (the
      // hardware sets it again) tells reclaim the page is wanted. A CPU whose TLB still
      // holds the dirty translation would write without setting it: the gather flushes
      // before we return. GUP-fast may read either value; its PTE recheck compares
      // against the entry now there.
      ptent = ptep_get_and_clear(ptep);
      set_pte(ptep, pte_mkold(pte_mkclean(ptent)));
      tlb_remove_tlb_entry(tlb, addr);
    }
    folio_mark_lazyfree(f);
  }
  sync::spin_unlock(ptl);
}

}  // namespace

int madvise_free(mm_struct* mm, unsigned long start, unsigned long end) {
  mm->mmap_lock.down_read();
  bool hole = !range_fully_mapped(mm, start, end);
  mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm);
  for (vm_area_struct* v = find_vma(mm, start); v && v->vm_start < end; v = find_vma(mm, v->vm_end)) {
    if (!vma_is_anonymous(v) || (v->vm_flags & VM_SHARED)) continue;
    unsigned long a = std::max(start, v->vm_start), vend = std::min(end, v->vm_end);
    while (a < vend) {
      unsigned long next = pmd_addr_end(a, vend);
      pmd_t* pmdp = mm_find_pmd(mm, a);
      // A PMD leaf (a THP mapped whole) is left alone: see lazyfree.h.
      if (pmdp && !pmd_leaf(pmdp_get(pmdp))) madvise_free_pte_range(&tlb, v, pmdp, a, next);
      a = next;
    }
  }
  tlb_finish_mmu(&tlb);
  mm->mmap_lock.up_read();
  return hole ? -ENOMEM : 0;
}

GUPFAST_NS_END
