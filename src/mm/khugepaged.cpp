// khugepaged collapse (mm/khugepaged.c: collapse_huge_page and its helpers): replace the PTE
// table that maps a 2 MiB range with one PMD leaf mapping a new huge folio holding a copy of
// the data.
//
// The race that matters is with GUP-fast. Collapse copies the small pages and then drops
// them; a DMA pin taken on one of them after the copy would write into a page the process no
// longer maps (lost-write). The handshake that prevents it, in order:
//  1. mmap_lock for write: faults, the GUP slow path, zaps, mprotect and rmap walks (reclaim,
//     migration: rmap_walk takes mmap_lock for read here, where the kernel's collapse takes
//     anon_vma_lock_write) are excluded; only lockless walkers (GUP-fast, the hardware
//     walker) can still reach the table.
//  2. pmdp_collapse_flush(): the PMD is cleared with a fully ordered xchg [COLLAPSE-DETACH],
//     then the TLB is flushed. From here no new walk can reach the old PTE table.
//  3. The walkers that loaded the PMD before step 2 are dealt with by the strategy
//     [COLLAPSE-SYNC]:
//       ipi       the flush of step 2 IPI'd every CPU of the mm and waited; a GUP-fast has
//                 irqs off for its whole walk, so every such walker has finished
//       rcu       tlb_remove_table_sync_one(): an IPI to every CPU that waits for irqs-off
//                 walkers (Jann Horn's 2ba99c5e0881, "mm/khugepaged: fix GUP-fast interaction
//                 by sending IPI": with RCU table freeing the flush need not IPI, yet GUP-fast
//                 may still be walking the detached table)
//       seqcount  the detach of step 2 is a write section on the PMD table's counter: a walker
//                 that loaded the old PMD fails its validation and drops what it took
//     Mutant no-collapse-sync removes the rcu IPI and the seqcount section (under ipi the
//     flush is the sync, so nothing is removed there; likewise rcu with --tlb ipi).
//  4. __collapse_huge_page_isolate(): every mapped folio is locked and its refcount must be
//     exactly what its mappings account for [COLLAPSE-REFCHECK]. A pin or a GUP reference
//     (or any other) makes collapse put the PMD back and back off. After step 3 no lockless
//     walker can add a reference through this table any more (seqcount: none that survives).
//  5. Copy into the new folio (zero-fill for none and zero-page entries), clear the old PTEs,
//     drop the old pages' mapping references, deposit the old (now empty) table for the
//     leaf and install the leaf. The deposit is freed with a plain pte_free() when the leaf
//     is zapped, or reused by a split: so step 3 is also what keeps the table alive for a
//     walker still inside it (Jann Horn's 2ba99c5e0881: a use-after-free of the table, which
//     the PMD recheck cannot prevent).
// GUP-fast's [PTE-RECHECK] compares its loaded PMD with *pmdp after its grab; that recheck
// alone also closes the race (store-buffer pairing: collapse clears the PMD then reads the
// refcount, the walker raises the refcount then rereads the PMD, both with full fences), and
// so does the sync alone: a lost write needs both no-pmd-recheck and no-collapse-sync
// (tests/replacers/khugepaged_inject_test.cpp shows the whole matrix).
#include "mm/khugepaged.h"

#include <algorithm>
#include <cerrno>
#include <vector>

#include "machine/counters.h"
#include "mm/huge_memory.h"
#include "mm/swap.h"
#include "tlb/pt_seq.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

const char* to_string(collapse_result r) {
  switch (r) {
    case collapse_result::succeeded: return "succeeded";
    case collapse_result::pmd_mapped: return "pmd_mapped";
    case collapse_result::vma_unsuitable: return "vma_unsuitable";
    case collapse_result::pmd_none: return "pmd_none";
    case collapse_result::pte_non_present: return "pte_non_present";
    case collapse_result::page_not_anon: return "page_not_anon";
    case collapse_result::page_lock: return "page_lock";
    case collapse_result::page_lru: return "page_lru";
    case collapse_result::page_count: return "page_count";
    case collapse_result::page_pinned: return "page_pinned";
    case collapse_result::alloc_fail: return "alloc_fail";
  }
  return "?";
}

namespace {

bool pte_none_or_zero(pte_t pte) {
  return pte_none(pte) || (pte_present(pte) && is_zero_pfn(pte_pfn(pte)));
}

// folio_expected_ref_count() of an anonymous folio: one reference per page-table mapping
// (PTE and PMD), plus the swap cache's, one per page. Anything above is someone else's:
// a GUP reference or pin, or a transient speculative reference.
int folio_expected_ref_count(const folio* f) {
  int refs = folio_mapcount(f);
  if (folio_test_swapcache(f)) refs += static_cast<int>(folio_nr_pages(f));
  return refs;
}

// pmdp_collapse_flush() (mm/pgtable-generic.c): detach the PTE table and flush the range.
// Context: mmap_lock for write, the PMD lock held.
pmd_t pmdp_collapse_flush(mm_struct* mm, unsigned long haddr, pmd_t* pmdp) {
  // [COLLAPSE-DETACH] Races with GUP-fast's single load of the PMD (gup_fast_pmd_range) and
  // the hardware walker's. One fully ordered xchg: it is ordered before our refcount reads in
  // [COLLAPSE-REFCHECK], pairing with [PIN-MB] and the walker's PMD recheck [PTE-RECHECK].
  // Seqcount: a change to the PMD table's entries, so walkers that loaded the old PMD fail
  // validation (pairs with [PT-SEQ]); mutant no-collapse-sync leaves the section out.
  bool seq = pt_seq_enabled() && !is_unsafe(NO_COLLAPSE_SYNC);
  page* pmd_table = virt_to_table_page(pmdp);
  if (seq) pt_seq_write_begin(mm, pmd_table);
  pmd_t old = pmdp_huge_get_and_clear(pmdp);
  if (seq) pt_seq_write_end(mm, pmd_table);
  sync::yield_point("collapse:after_pmd_clear");
  // No CPU may keep a small-page translation once the range is remapped huge. With --tlb ipi
  // this waits for every CPU of the mm that has irqs off: the ipi strategy's sync.
  flush_tlb_mm_range(mm, haddr, haddr + PMD_SIZE);
  return old;
}

// [COLLAPSE-SYNC] Wait for (or invalidate) every lockless walker that may have loaded the
// PMD before the detach. See the file comment, step 3.
void collapse_sync_walkers() {
  switch (g_cfg.strategy) {
    case table_strategy::ipi:
      // pmdp_collapse_flush's flush IPI'd every CPU of the mm and waited for each: an
      // irqs-off GUP-fast that saw the old PMD has finished its walk.
      break;
    case table_strategy::rcu:
      if (!is_unsafe(NO_COLLAPSE_SYNC)) tlb_remove_table_sync_one();
      break;
    case table_strategy::seqcount:
      // The write section around the detach: walkers validate, nobody waits.
      break;
  }
}

// release_pte_folio(): unlock, back on the LRU, drop the isolation reference. After a
// successful copy (`unmapped`), also let go of a swap-cache copy nobody needs any more; the
// caller still holds the mapping references it is about to drop.
void release_folios(std::vector<folio*>& locked, bool unmapped) {
  for (folio* f : locked) {
    folio_unlock(f);
    folio_putback_lru(f);
    if (unmapped) free_swap_cache(f);
  }
  locked.clear();
}

// __collapse_huge_page_isolate(): lock every folio the table maps, check that nobody but its
// mappings (and the swap cache) holds a reference, and take it off the LRU. On failure
// everything isolated so far is released.
// Context: mmap_lock for write; the table is detached; its PTL held.
collapse_result collapse_isolate(vm_area_struct* vma, unsigned long haddr, pte_t* ptes,
                                 std::vector<folio*>* locked) {
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    unsigned long addr = haddr + i * PAGE_SIZE;
    pte_t pte = ptep_get(ptes + i);
    if (pte_none_or_zero(pte)) continue;
    collapse_result why = collapse_result::succeeded;
    folio* f = nullptr;
    if (!pte_present(pte)) {
      why = collapse_result::pte_non_present;
    } else if (!(f = vm_normal_folio(vma, addr, pte)) || !folio_test_anon(f)) {
      why = collapse_result::page_not_anon;
    } else if (folio_test_large(f) && std::find(locked->begin(), locked->end(), f) != locked->end()) {
      continue;  // another PTE of a PTE-mapped THP we already checked
    } else if (!folio_trylock(f)) {
      why = collapse_result::page_lock;  // reclaim, migration or a split is working on it
    } else if (folio_ref_count(f) != folio_expected_ref_count(f)) {
      // [COLLAPSE-REFCHECK] Races with GUP-fast's grab through the old table. The table is
      // detached and the walkers synced (step 3), so no GUP-fast can add a lasting
      // reference through it from now on (seqcount: one may still grab, but its validation
      // then fails and it drops the reference). A reference seen here is a pin or GUP
      // reference taken earlier, or a transient one: back off either way. Ordered after
      // [COLLAPSE-DETACH] by the flush's smp_mb; pairs with [PIN-MB] / [PTE-RECHECK].
      folio_unlock(f);
      why = folio_maybe_dma_pinned(f) ? collapse_result::page_pinned : collapse_result::page_count;
    } else if (!folio_isolate_lru(f)) {
      // Off the LRU: reclaim or migration isolated it (with a reference we would have seen
      // above, unless it was taken just now). Back off as the kernel's SCAN_DEL_PAGE_LRU.
      folio_unlock(f);
      why = collapse_result::page_lru;
    }
    if (why != collapse_result::succeeded) {
      release_folios(*locked, false);
      return why;
    }
    locked->push_back(f);
  }
  return collapse_result::succeeded;
}

// __collapse_huge_page_copy(): the new folio's subpage i gets page i's data, or zeroes.
// Nobody writes the old pages now: the process cannot reach them (detached and flushed) and
// no pin exists (isolate). Returns the number of none-or-zero entries.
int collapse_copy(folio* hf, pte_t* ptes, collapse_stats* st) {
  int nr_none = 0;
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    pte_t pte = ptep_get(ptes + i);
    unsigned long dst = folio_pfn(hf) + i;
    if (pte_none_or_zero(pte)) {
      clear_user_highpage(dst);
      nr_none++;
    } else {
      copy_user_highpage(dst, pte_pfn(pte));
      st->nr_copied++;
    }
  }
  return nr_none;
}

// __collapse_huge_page_copy_succeeded(): unmap the old pages from the detached table and
// drop this mapping's reference on each (the last one frees it). Context: mmap_lock for
// write; the old translations were flushed by pmdp_collapse_flush, so freeing is safe.
void collapse_release_old(mm_struct* mm, pte_t* ptes, std::vector<folio*>& locked) {
  std::vector<folio*> puts;
  sync::spinlock_t* ptl = &virt_to_table_page(ptes)->ptl;
  sync::spin_lock(ptl);
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    pte_t pte = ptep_get(ptes + i);
    if (pte_none(pte)) continue;
    ptep_get_and_clear(ptes + i);
    if (is_zero_pfn(pte_pfn(pte))) continue;  // the zero page holds no references
    page* p = pfn_to_page(pte_pfn(pte));
    p->_mapcount.fetch_sub(1, sync::relaxed);  // folio_remove_rmap_pte
    mm->rss_anon.fetch_sub(1, sync::relaxed);
    puts.push_back(page_folio(p));
  }
  sync::spin_unlock(ptl);
  release_folios(locked, true);
  for (folio* f : puts) folio_put(f);
}

// map_anon_folio_pmd(): the new folio's rmap and the leaf, with pgtable deposited for it.
// Context: mmap_lock for write.
void collapse_install(vm_area_struct* vma, unsigned long haddr, pmd_t* pmdp, folio* hf, page* pgtable) {
  mm_struct* mm = vma->vm_mm;
  // __folio_mark_uptodate(): the copied data before the leaf that maps it.
  sync::smp_wmb();
  folio_set_uptodate(hf);
  hf->page.mapping.store(reinterpret_cast<unsigned long>(mm->av) | PAGE_MAPPING_ANON, sync::relaxed);
  hf->page.index.store(haddr >> PAGE_SHIFT, sync::relaxed);
  folio_set_swapbacked(hf);
  SetPageAnonExclusive(&hf->page);  // RMAP_EXCLUSIVE: the head stands for the whole leaf
  hf->page._entire_mapcount.store(0, sync::relaxed);
  folio_add_lru(hf);  // folio_add_lru_vma
  pmd_t entry = pfn_pmd_leaf(folio_pfn(hf), vm_get_page_prot(vma->vm_flags));
  entry.pmd |= _PAGE_DIRTY;
  sync::spinlock_t* pml = pmd_lockptr(mm, pmdp);
  sync::spin_lock(pml);
  // Populating a none PMD replaces nothing: no pt_seq section (as pmd_install).
  pgtable_trans_huge_deposit(mm, pmdp, pgtable);
  set_pmd(pmdp, entry);
  mm->rss_anon.fetch_add(HPAGE_PMD_NR, sync::relaxed);
  sync::spin_unlock(pml);
}

// Back off: put the PMD back as it was (pmd_populate). The table was never changed.
void collapse_restore(mm_struct* mm, pmd_t* pmdp, pmd_t orig) {
  sync::spinlock_t* pml = pmd_lockptr(mm, pmdp);
  sync::spin_lock(pml);
  set_pmd(pmdp, orig);
  sync::spin_unlock(pml);
}

void count_result(collapse_result r) {
  switch (r) {
    case collapse_result::succeeded: count_event(CNT_collapse_done); break;
    case collapse_result::pmd_mapped: break;
    case collapse_result::page_pinned: count_event(CNT_collapse_fail_pinned); break;
    case collapse_result::page_count: count_event(CNT_collapse_fail_refcount); break;
    case collapse_result::page_lock:
    case collapse_result::page_lru: count_event(CNT_collapse_fail_busy); break;
    case collapse_result::alloc_fail: count_event(CNT_collapse_fail_nomem); break;
    default: count_event(CNT_collapse_fail_unsuitable); break;
  }
}

int result_errno(collapse_result r) {
  switch (r) {
    case collapse_result::succeeded:
    case collapse_result::pmd_mapped: return 0;
    case collapse_result::page_lock:
    case collapse_result::page_lru:
    case collapse_result::page_count:
    case collapse_result::page_pinned: return -EAGAIN;
    case collapse_result::alloc_fail: return -ENOMEM;
    default: return -EINVAL;
  }
}

// collapse_huge_page() under mmap_lock for write, with the new folio allocated.
collapse_result collapse_locked(mm_struct* mm, unsigned long haddr, folio* hf, collapse_stats* st) {
  // hugepage_vma_revalidate() and check_pmd_still_valid().
  vm_area_struct* vma = vma_lookup(mm, haddr);
  if (!vma || !thp_vma_suitable(vma, haddr)) return collapse_result::vma_unsuitable;
  pmd_t* pmdp = mm_find_pmd(mm, haddr);
  if (!pmdp) return collapse_result::pmd_none;
  pmd_t cur = pmdp_get(pmdp);
  if (pmd_leaf(cur)) return collapse_result::pmd_mapped;
  if (!pmd_table(cur)) return collapse_result::pmd_none;

  sync::spinlock_t* pml = pmd_lockptr(mm, pmdp);
  sync::spin_lock(pml);
  pmd_t orig = pmdp_collapse_flush(mm, haddr, pmdp);
  sync::spin_unlock(pml);
  collapse_sync_walkers();
  sync::yield_point("collapse:after_sync");

  auto* ptes = reinterpret_cast<pte_t*>(pfn_to_virt(pmd_pfn(orig)));
  page* table = virt_to_table_page(ptes);
  std::vector<folio*> locked;
  // Isolate under the table's PTL, as the kernel; mmap_lock for write already keeps every
  // locked walker (faults, slow GUP, zaps, rmap walks) out of it.
  sync::spin_lock(&table->ptl);
  collapse_result r = collapse_isolate(vma, haddr, ptes, &locked);
  sync::spin_unlock(&table->ptl);
  if (r != collapse_result::succeeded) {
    collapse_restore(mm, pmdp, orig);
    return r;  // collapse_isolate released what it had isolated
  }
  sync::yield_point("collapse:before_copy");
  st->nr_none = collapse_copy(hf, ptes, st);
  collapse_release_old(mm, ptes, locked);
  sync::yield_point("collapse:before_install");
  // The old table, empty and unreachable, becomes the leaf's deposit (it stays counted in
  // nr_ptes): walkers that may still hold a pointer into it were synced above.
  collapse_install(vma, haddr, pmdp, hf, table);
  st->pfn = folio_pfn(hf);
  return collapse_result::succeeded;
}

}  // namespace

int collapse_pmd_range(mm_struct* mm, unsigned long addr, collapse_stats* out) {
  collapse_stats st;
  if (!mm || addr >= TASK_SIZE) {
    st.result = collapse_result::vma_unsuitable;
    if (out) *out = st;
    return -EINVAL;
  }
  unsigned long haddr = addr & PMD_MASK;
  // As the kernel: allocate before taking mmap_lock for write (it may take long).
  folio* hf = folio_alloc(0, HPAGE_PMD_ORDER);
  if (!hf) {
    st.result = collapse_result::alloc_fail;
  } else {
    mm->mmap_lock.down_write();
    st.result = collapse_locked(mm, haddr, hf, &st);
    mm->mmap_lock.up_write();
    if (st.result != collapse_result::succeeded) folio_put(hf);
  }
  count_result(st.result);
  if (out) *out = st;
  return result_errno(st.result);
}

GUPFAST_NS_END
