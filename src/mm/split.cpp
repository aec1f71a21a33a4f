// split_folio (mm/huge_memory.c: split_huge_page_to_list_to_order, can_split_folio,
// unmap_folio, __split_huge_page, remap_page). The sequence is in mm/split.h.
#include "mm/split.h"

#include <bitset>
#include <cerrno>

#include "machine/counters.h"
#include "mm/rmap.h"
#include "mm/swap.h"

GUPFAST_NS_BEGIN

namespace {

// can_split_folio(): every reference is a mapping's or the caller's. Racy (nothing stops
// a new reference right after), hence only a pre-check: the freeze decides.
bool can_split_folio(folio* f, int caller_pins) {
  int extra_pins = folio_test_swapcache(f) ? static_cast<int>(folio_nr_pages(f)) : 0;
  return folio_mapcount(f) == folio_ref_count(f) - extra_pins - caller_pins;
}

// __split_huge_page(): f is frozen and unmapped (migration entries). Each tail becomes an
// order-0 folio: folio_uncompound() rewrites its compound_head -- from then on page_folio()
// of a tail is the tail itself, which is what GUP-fast's [FOLIO-RECHECK] catches -- and
// leaves its refcount frozen at 0 while we set it up; only then is it unfrozen, with a
// release store, so whoever takes a reference sees it complete.
void __split_huge_page(folio* f, std::vector<folio*>* list) {
  page* head = &f->page;
  long nr = folio_nr_pages(f);
  // AnonExclusive is per page: keep each tail's own bit (folio_uncompound copies the head's
  // flags). Mapped pages had it moved into their migration entries anyway.
  std::bitset<HPAGE_PMD_NR_MAX> ae;
  for (long i = 1; i < nr; i++) ae[i] = PageAnonExclusive(head + i);
  unsigned long head_flags = head->flags.load(sync::relaxed);
  folio_uncompound(f, 0);
  // Flags a tail inherits from the head (__split_huge_page_tail): it is locked like the
  // head until remapped, and shares its state; never its LRU or swap-cache membership.
  constexpr unsigned long inherit = 1ul << PG_locked | 1ul << PG_referenced | 1ul << PG_uptodate | 1ul << PG_dirty |
                                   1ul << PG_swapbacked;
  for (long i = 1; i < nr; i++) {
    page* t = head + i;
    t->flags.store((head_flags & inherit) | (ae[i] ? 1ul << PG_anon_exclusive : 0), sync::relaxed);
    auto* tf = reinterpret_cast<folio*>(t);
    bool to_list = lru_add_split_folio(f, tf, list);
    // One reference to drop once remapped (as the caller's on the head), plus the
    // isolation's if it joined the caller's list.
    folio_ref_unfreeze(tf, 1 + (to_list ? 1 : 0));
  }
}

}  // namespace

int split_folio_to_list(folio* f, std::vector<folio*>* list) {
  if (!folio_test_large(f) || !folio_test_anon(f)) return -EINVAL;
  if (folio_test_swapcache(f)) return -EBUSY;  // never: large folios are not swapped whole
  long nr = folio_nr_pages(f);
  anon_vma* av = folio_get_anon_vma(f);
  if (!av) return -EBUSY;
  if (!can_split_folio(f, 1)) {
    count_event(folio_maybe_dma_pinned(f) ? CNT_split_pinned : CNT_split_busy);
    put_anon_vma(av);
    return -EAGAIN;
  }
  // unmap_folio(): PMD leaves first (a PMD migration entry is not modelled), then every
  // PTE of every page becomes a migration entry; flush before anyone relies on it.
  tlbflush_unmap_batch batch;
  ttu_result r = split_huge_pmd_folio(f, av) ? try_to_migrate(f, av, &batch) : ttu_result::busy;
  try_to_unmap_flush(&batch);
  sync::yield_point("split_folio:before_freeze");
  // [REF-FREEZE] Races with GUP-fast's [REF-TRY-ADD] on a PTE or leaf it read before the
  // unmap: its reference makes the freeze fail, or the freeze makes its add fail.
  if (folio_mapped(f) || !folio_ref_freeze(f, 1)) {
    if (r == ttu_result::pinned) {
      count_event(CNT_split_unmap_pinned);
      count_event(CNT_split_pinned);
    } else if (r == ttu_result::busy) {
      count_event(CNT_split_busy);
    } else {
      count_event(CNT_split_freeze_failed);
    }
    remove_migration_ptes(f, f, av);  // remap_page(): the large folio again, PTE-mapped
    put_anon_vma(av);
    return -EAGAIN;
  }
  sync::yield_point("split_folio:after_freeze");
  __split_huge_page(f, list);
  folio_ref_unfreeze(f, 1);  // the caller's
  // remap_page(): each migration entry now maps its page's own folio.
  remove_migration_ptes(f, f, av, nr);
  for (long i = 1; i < nr; i++) {
    auto* tf = reinterpret_cast<folio*>(&f->page + i);
    folio_unlock(tf);
    folio_put(tf);  // frees a tail that no PTE maps any more (a partially unmapped THP)
  }
  put_anon_vma(av);
  count_event(CNT_split_done);
  return 0;
}

int split_folio_at(mm_struct* mm, unsigned long addr) {
  addr &= PAGE_MASK;
  folio* f = nullptr;
  mm->mmap_lock.down_read();
  vm_area_struct* vma = vma_lookup(mm, addr);
  if (!vma) {
    mm->mmap_lock.up_read();
    return -EFAULT;
  }
  if (vma_is_anonymous(vma) && !(vma->vm_flags & VM_SHARED)) {
    if (pmd_t* pmdp = mm_find_pmd(mm, addr)) {
      if (pmd_leaf(pmdp_get(pmdp))) {
        sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
        sync::spin_lock(ptl);
        pmd_t pmd = pmdp_get(pmdp);
        if (pmd_leaf(pmd) && (pmd.pmd & _PAGE_PRESENT)) {
          f = page_folio(pfn_to_page(pmd_pfn(pmd)));
          folio_get(f);
        }
        sync::spin_unlock(ptl);
      } else {
        sync::spinlock_t* ptl;
        if (pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl)) {
          pte_t pte = ptep_get(ptep);
          if (pte_present(pte) && (f = vm_normal_folio(vma, addr, pte))) folio_get(f);
          sync::spin_unlock(ptl);
        }
      }
    }
  }
  mm->mmap_lock.up_read();
  if (!f) return -EINVAL;
  int rc = -EINVAL;
  if (folio_test_large(f) && folio_test_anon(f)) {
    if (folio_trylock(f)) {
      rc = split_folio_to_list(f, nullptr);
      folio_unlock(f);
    } else {
      count_event(CNT_split_busy);
      rc = -EAGAIN;
    }
  }
  folio_put(f);
  return rc;
}

GUPFAST_NS_END
