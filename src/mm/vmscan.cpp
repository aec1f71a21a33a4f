// Page reclaim (mm/vmscan.c): isolate, shrink_folio_list, __remove_mapping.
#include "mm/vmscan.h"

#include <cerrno>
#include <unordered_set>

#include "machine/counters.h"
#include "mm/lazyfree.h"
#include "mm/rmap.h"
#include "mm/split.h"
#include "mm/swap.h"

GUPFAST_NS_BEGIN

namespace {

enum class keep_why { pinned, busy, referenced, freeze_failed, split_failed };

void count_keep(reclaim_stats* st, keep_why why) {
  switch (why) {
    case keep_why::pinned: st->nr_pinned++; count_event(CNT_reclaim_skip_pinned); break;
    case keep_why::busy: st->nr_busy++; count_event(CNT_reclaim_busy); break;
    case keep_why::referenced: st->nr_referenced++; count_event(CNT_reclaim_referenced); break;
    case keep_why::freeze_failed: st->nr_freeze_failed++; count_event(CNT_reclaim_freeze_failed); break;
    case keep_why::split_failed: st->nr_split_failed++; count_event(CNT_reclaim_split_failed); break;
  }
}

// __remove_mapping() for a swap-cache folio: the refcount must be exactly ours (isolation)
// plus the swap cache's; freeze it there, and the folio is ours alone.
// [REF-FREEZE] Races with GUP-fast (try_get_folio's [REF-TRY-ADD] on a PTE it read before
// try_to_unmap replaced it) and with swap-in faults (swap_cache_get_folio): either their
// add-unless-zero came first and our CAS sees the extra count and fails (we back off; they
// drop it after their PTE recheck fails, or map the folio again), or our CAS came first
// and their add fails on zero.
// Context: f locked, isolated, unmapped, written out. true: frozen at 0 and out of the
// swap cache, ours to free.
bool __remove_mapping(folio* f) {
  int expected = 1 + static_cast<int>(folio_nr_pages(f));
  sync::yield_point("remove_mapping:before_freeze");
  swp_entry_t e = folio_swap_entry(f);
  if (is_unsafe(NO_RECLAIM_FREEZE)) {
    // Mutant: assume nobody else holds a reference. A GUP-fast that grabbed the folio
    // after the unmap still holds one when we free it below (pinned-freed).
    __delete_from_swap_cache(f, e);
    put_swap_folio(f, e);
    folio_set_count(f, 0);
    return true;
  }
  if (!folio_ref_freeze(f, expected)) return false;
  // The fully ordered cmpxchg keeps the dirty test after it (the kernel's smp_rmb note):
  // whoever dirtied the folio through a reference did so before dropping it.
  if (folio_test_dirty(f)) {
    folio_ref_unfreeze(f, expected);
    return false;
  }
  __delete_from_swap_cache(f, e);
  put_swap_folio(f, e);
  return true;
}

// shrink_folio_list(): reclaim what can be reclaimed of `work`, isolated folios each with
// one reference; everything kept goes back to the LRU.
unsigned long shrink_folio_list(std::vector<folio*>& work, reclaim_stats* st, bool ignore_references) {
  std::vector<folio*> keep, freed;
  tlbflush_unmap_batch batch;
  unsigned long reclaimed = 0;
  // `work` grows while we go: splitting a large folio appends its tails.
  for (size_t i = 0; i < work.size(); i++) {
    folio* f = work[i];
    st->nr_scanned++;
    count_event(CNT_reclaim_scanned);
    if (!folio_trylock(f)) {
      count_keep(st, keep_why::busy);
      keep.push_back(f);
      continue;
    }
    anon_vma* av = folio_get_anon_vma(f);  // nullptr if no longer mapped
    auto keep_locked = [&](keep_why why) {
      count_keep(st, why);
      folio_unlock(f);
      if (av) put_anon_vma(av);
      keep.push_back(f);
    };
    if (!ignore_references && av && folio_referenced(f, av) > 0) {
      // folio_check_references(): an anon folio with young PTEs gets another round.
      folio_set_referenced(f);
      keep_locked(keep_why::referenced);
      continue;
    }
    // A lazyfree folio (MADV_FREE) is not swapped: try_to_unmap drops it if nobody wants
    // its data, and the freeze below checks that again.
    if (folio_test_swapbacked(f) && !folio_test_swapcache(f)) {
      // A pinned folio's contents are the device's: swapping it out would write a page the
      // DMA still changes, and the process would fault in a stale copy. Racy (GUP-fast
      // may pin right after): such a pin is caught by the pin check after the PTE clear,
      // or its references by the freeze.
      // Mutant no-pinned-swap-check: swap it out anyway (before feb889fb40fa, v5.11).
      if (!is_unsafe(NO_PINNED_SWAP_CHECK) && folio_maybe_dma_pinned(f)) {
        keep_locked(keep_why::pinned);
        continue;
      }
      // No THP swap: split, and reclaim the small folios (the tails join `work`).
      if (folio_test_large(f) && split_folio_to_list(f, &work)) {
        keep_locked(keep_why::split_failed);
        continue;
      }
      if (!add_to_swap(f)) {
        keep_locked(keep_why::busy);  // swap full
        continue;
      }
    }
    // Mapcounts change under us only by fork copying a present PTE, which only an mm the
    // walk skipped (contended) can still have: then the folio stays mapped and we keep it.
    if (folio_mapped(f)) {
      ttu_result r = av ? try_to_unmap(f, av, &batch) : ttu_result::busy;
      if (r == ttu_result::pinned) count_event(CNT_reclaim_unmap_pinned);
      if (folio_mapped(f)) {
        keep_locked(r == ttu_result::pinned ? keep_why::pinned : keep_why::busy);
        continue;
      }
    }
    // A pin taken before the unmap on a page that was not AnonExclusive (no pin check on
    // it): the freeze would fail too, but don't write out what a device may be writing.
    if (!is_unsafe(NO_PINNED_SWAP_CHECK) && folio_maybe_dma_pinned(f)) {
      keep_locked(keep_why::pinned);
      continue;
    }
    bool lazyfree = folio_test_lazyfree(f);
    if (lazyfree) {
      // Discarded from its mappings: free it if the isolation's reference is the last one
      // (as __remove_mapping would), and it was not dirtied since.
      if (!folio_ref_freeze(f, 1)) {
        keep_locked(keep_why::freeze_failed);
        continue;
      }
      if (folio_test_dirty(f)) {
        folio_ref_unfreeze(f, 1);
        keep_locked(keep_why::freeze_failed);
        continue;
      }
      count_event(CNT_lazyfree_freed);
    } else if (folio_test_dirty(f)) {
      // pageout(): a CPU whose TLB still holds a dirty (writable) translation could write
      // the page after we copy it: flush those first (try_to_unmap_flush_dirty).
      try_to_unmap_flush_dirty(&batch);
      folio_clear_dirty(f);  // folio_clear_dirty_for_io
      if (swap_writepage(f, folio_swap_entry(f))) {
        folio_set_dirty(f);
        keep_locked(keep_why::busy);
        continue;
      }
    }
    if (!lazyfree && !__remove_mapping(f)) {
      keep_locked(keep_why::freeze_failed);
      continue;
    }
    // Frozen: nobody can find or take it; the lock bit goes with the free.
    clear_bit_flag(&f->page, PG_locked);
    if (av) put_anon_vma(av);
    freed.push_back(f);
    reclaimed += folio_nr_pages(f);
    count_event(CNT_reclaim_done, folio_nr_pages(f));
  }
  // Invariant 10: no CPU may still translate to a frame we free.
  if (is_unsafe(NO_FLUSH_BEFORE_FREE) && !freed.empty()) {
    // Mutant: free first; a CPU with a cached translation reaches a recycled frame.
    for (folio* f : freed) __free_pages(&f->page, folio_order(f));
    freed.clear();
    sync::yield_point("shrink_folio_list:freed_before_flush");
  }
  try_to_unmap_flush(&batch);
  for (folio* f : freed) __free_pages(&f->page, folio_order(f));
  // Kept folios were isolated all along (our reference): none could be freed before the
  // flush above, even with its PTEs already replaced by swap entries.
  for (folio* f : keep) folio_putback_lru(f);
  st->nr_reclaimed += reclaimed;
  return reclaimed;
}

}  // namespace

bool user_range_ok(unsigned long start, unsigned long len, unsigned long* end) {
  if ((start & ~PAGE_MASK) || len == 0) return false;
  unsigned long alen = (len + PAGE_SIZE - 1) & PAGE_MASK;
  if (alen < len || __builtin_add_overflow(start, alen, end)) return false;
  return *end <= TASK_SIZE;
}

int isolate_range_folios(mm_struct* mm, unsigned long start, unsigned long end, std::vector<folio*>* list,
                         unsigned long* nr_busy, unsigned long* nr_not_anon) {
  std::unordered_set<folio*> seen;
  // Under the PTL of a PTE that maps it, the folio's count is above zero: isolating it
  // (folio_get) is safe; each folio once, however many of its pages are in the range.
  auto isolate = [&](folio* f) {
    if (!seen.insert(f).second) return;
    if (folio_isolate_lru(f))
      list->push_back(f);
    else
      ++*nr_busy;  // isolated by someone else (reclaim, migration, a split's caller)
  };
  bool any = false;
  mm->mmap_lock.down_read();
  for (vm_area_struct* v = find_vma(mm, start); v && v->vm_start < end; v = find_vma(mm, v->vm_end)) {
    any = true;
    if (!vma_is_anonymous(v) || (v->vm_flags & VM_SHARED)) {
      ++*nr_not_anon;  // shmem: never on the LRU, not reclaimed or migrated by this machine
      continue;
    }
    unsigned long vend = std::min(end, v->vm_end);
    for (unsigned long a = std::max(start, v->vm_start); a < vend;) {
      unsigned long next = pmd_addr_end(a, vend);
      pmd_t* pmdp = mm_find_pmd(mm, a);
      if (pmdp && pmd_leaf(pmdp_get(pmdp))) {
        sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
        sync::spin_lock(ptl);
        pmd_t pmd = pmdp_get(pmdp);
        if (pmd_leaf(pmd) && (pmd.pmd & _PAGE_PRESENT)) isolate(page_folio(pfn_to_page(pmd_pfn(pmd))));
        sync::spin_unlock(ptl);
      } else if (pmdp) {
        sync::spinlock_t* ptl;
        if (pte_t* ptep = pte_offset_map_lock(mm, pmdp, a, &ptl)) {
          for (unsigned long b = a; b < next; b += PAGE_SIZE, ptep++) {
            pte_t pte = ptep_get(ptep);
            if (!pte_present(pte)) continue;
            folio* f = vm_normal_folio(v, b, pte);
            if (f && folio_test_anon(f))
              isolate(f);
            else
              ++*nr_not_anon;  // the zero page
          }
          sync::spin_unlock(ptl);
        }
      }
      a = next;
    }
  }
  mm->mmap_lock.up_read();
  return any ? 0 : -ENOMEM;
}

long reclaim_range(mm_struct* mm, unsigned long start, unsigned long len, reclaim_stats* out) {
  if (!mm) return -EINVAL;
  reclaim_stats local;
  reclaim_stats* st = out ? out : &local;
  unsigned long end;
  if (!user_range_ok(start, len, &end)) return -EINVAL;
  std::vector<folio*> list;
  unsigned long busy = 0;
  int err = isolate_range_folios(mm, start, end, &list, &busy, &st->nr_not_anon);
  st->nr_busy += busy;
  count_event(CNT_reclaim_busy, busy);
  if (err) return err;
  return static_cast<long>(shrink_folio_list(list, st, true));
}

long reclaim_lru(unsigned long nr_to_scan, reclaim_stats* out) {
  reclaim_stats local;
  reclaim_stats* st = out ? out : &local;
  std::vector<folio*> list;
  isolate_lru_folios(nr_to_scan, &list);
  return static_cast<long>(shrink_folio_list(list, st, false));
}

GUPFAST_NS_END
