// The swap-in fault (mm/memory.c: do_swap_page, should_try_to_free_swap).
#include "mm/swapin.h"

#include <cerrno>

#include "machine/counters.h"
#include "mm/migrate.h"
#include "mm/swap.h"

GUPFAST_NS_BEGIN

namespace {

// should_try_to_free_swap(): a write fault on a folio nobody else holds: the slot's copy
// is about to be stale anyway, so let the swap cache go and map the page exclusive.
bool should_try_to_free_swap(folio* f, unsigned flags) {
  if (!folio_test_swapcache(f)) return false;
  return (flags & FAULT_FLAG_WRITE) && folio_ref_count(f) == 1 + static_cast<int>(folio_nr_pages(f));
}

// Read the slot into a new folio added to the swap cache (swapin_readahead without the
// readahead). nullptr with *ret set when the fault must be retried or fail.
// Context: no lock held. Returns the folio locked, with a reference.
folio* swapin_new_folio(swp_entry_t entry, vm_fault_t* ret) {
  folio* nf = folio_alloc(0, 0);
  if (!nf) {
    *ret = VM_FAULT_OOM;
    return nullptr;
  }
  // SWAP_HAS_CACHE is the swap-in lock. -EEXIST: another fault is reading this slot in,
  // or reclaim is just deleting the folio from the cache; -ENOENT: the slot was freed,
  // so our PTE changed. Either way, retry the fault.
  if (int err = swapcache_prepare(entry)) {
    folio_put(nf);
    if (err == -EEXIST) sync::cpu_relax();
    *ret = 0;
    return nullptr;
  }
  folio_trylock(nf);  // unpublished: always succeeds; locked before the cache shows it
  folio_set_swapbacked(nf);  // __folio_set_swapbacked: a swap-cache folio is swap-backed
  add_to_swap_cache(nf, entry);
  if (swap_read_folio(nf, entry)) {
    delete_from_swap_cache(nf);
    folio_unlock(nf);
    folio_put(nf);
    *ret = VM_FAULT_SIGBUS;
    return nullptr;
  }
  sync::smp_wmb();  // the data before the uptodate flag and any PTE that maps it
  folio_set_uptodate(nf);
  folio_add_lru(nf);
  return nf;
}

}  // namespace

vm_fault_t do_swap_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, pte_t orig, unsigned flags) {
  mm_struct* mm = vma->vm_mm;
  swp_entry_t entry = pte_to_swp_entry(orig);
  if (non_swap_entry(entry)) {
    if (is_migration_entry(entry)) {
      migration_entry_wait(mm, pmdp, addr);
      return 0;
    }
    return VM_FAULT_SIGBUS;
  }
  vm_fault_t ret = 0;
  folio* f = swap_cache_get_folio(entry);
  if (f) {
    folio_lock(f);
  } else if (!(f = swapin_new_folio(entry, &ret))) {
    return ret;
  }
  // Under the folio lock: is it still the swap cache's folio for our entry? Migration may
  // have moved the entry to a new folio, or the cache let it go (free_swap_and_cache after
  // our PTE was zapped). Reclaim cannot have freed it: our reference fails its freeze.
  if (!folio_test_swapcache(f) || !(folio_swap_entry(f) == entry)) {
    folio_unlock(f);
    folio_put(f);
    return 0;
  }
  sync::spinlock_t* ptl;
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
  if (!ptep || pte_val(ptep_get(ptep)) != pte_val(orig)) {  // someone else swapped it in
    if (ptep) sync::spin_unlock(ptl);
    folio_unlock(f);
    folio_put(f);
    return 0;
  }
  page* p = &f->page;
  // Under the PTL, so a concurrent fork cannot share the entry meanwhile: the PTE says
  // whether the page was exclusive when it was swapped out.
  bool exclusive = pte_swp_exclusive(orig);
  swap_free(entry);  // our PTE's count
  if (should_try_to_free_swap(f, flags)) folio_free_swap(f);
  pte_t pte = pfn_pte(folio_pfn(f), vm_get_page_prot(vma->vm_flags & ~VM_WRITE));
  // Same logic as do_wp_page's reuse: certainly ours if the entry said so, or if our
  // reference is the only one left (the swap cache let go above).
  if (exclusive || folio_ref_count(f) == 1) {
    if (vma->vm_flags & VM_WRITE) {
      pte = pte_mkwrite(pte);
      if (flags & FAULT_FLAG_WRITE) pte = pte_mkdirty(pte);
    }
    SetPageAnonExclusive(p);
  }
  if (!folio_test_anon(f)) {
    // __folio_set_anon(): a folio read from the slot is new to the rmap.
    f->page.mapping.store(reinterpret_cast<unsigned long>(mm->av) | PAGE_MAPPING_ANON, sync::relaxed);
    f->page.index.store(addr >> PAGE_SHIFT, sync::relaxed);
  }
  p->_mapcount.fetch_add(1, sync::relaxed);  // folio_add_anon_rmap_pte; our reference is the mapping's now
  mm->rss_anon.fetch_add(1, sync::relaxed);
  // AnonExclusive and the contents before the PTE: GUP-fast reads the PTE, then the flag.
  sync::smp_wmb();
  set_pte(ptep, pte);
  sync::spin_unlock(ptl);
  folio_unlock(f);
  count_event(CNT_swapin_faults);
  // A write fault on a page that stayed shared returns with a read-only PTE: the retried
  // access takes the write-protect fault (do_wp_page), which copies or reuses.
  return 0;
}

GUPFAST_NS_END
