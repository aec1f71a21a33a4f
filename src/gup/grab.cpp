// Taking and releasing GUP references and pins (mm/gup.c: try_get_folio,
// try_grab_folio_fast, try_grab_folio, gup_put_folio, unpin_user_pages*).
//
// The folio refcount protocol (memmap/page_ref.h) seen from GUP:
//   - the fast path holds no lock that keeps the folio alive, so it may only "add unless
//     zero" ([REF-TRY-ADD]); zero means freed or frozen by a mutator that owns it now;
//   - the reference it gets may be on a folio that was freed and reallocated since the
//     PTE was read: harmless, because the memmap is never freed and the caller then
//     rechecks the PTE and drops the reference (maybe the last one, which frees correctly);
//   - a pin is a reference plus accounting: _pincount for large folios, or
//     GUP_PIN_COUNTING_BIAS extra references for small ones.
#include <cerrno>

#include "gup/gup.h"
#include "machine/counters.h"

GUPFAST_NS_BEGIN

namespace {

inline bool folio_has_pincount(const folio* f) { return folio_test_large(f); }

// try_get_folio(): a reference on the folio the page belongs to, or nullptr.
folio* try_get_folio(page* p, int refs) {
  for (;;) {
    folio* f = page_folio(p);
    sync::yield_point("try_get_folio:before_ref");
    // [REF-OVERFLOW] No new reference on a count that wrapped or is close to it (page_ref.h;
    // the kernel's WARN_ON_ONCE(folio_ref_count(folio) < 0) refuses only once it wrapped).
    // A plain load: the headroom covers every grab that passed it concurrently.
    if (folio_ref_count_unsafe(folio_ref_count(f))) {
      count_event(CNT_stop_ref_overflow);
      return nullptr;
    }
    if (is_unsafe(GET_NOT_TRY_GET)) {
      // Mutant: a plain add, as if the caller already held a reference. On a freed or
      // frozen folio (count 0) this resurrects it behind the freezer's back.
      f->page._refcount.fetch_add(refs, sync::seq_cst);
    } else if (!folio_ref_try_add(f, refs)) {  // [REF-TRY-ADD]
      count_event(CNT_stop_ref_zero);
      return nullptr;
    }
    page_table_check_gup_get(f, refs);
    sync::yield_point("try_get_folio:after_ref");
    // [FOLIO-RECHECK] The folio is stable now (we hold a reference), but between
    // page_folio() and the increment it may have been split or freed and reallocated as
    // part of another compound page: the page may belong to another folio now.
    // Races with split_folio (tail compound_head rewritten) and __free_pages.
    if (!is_unsafe(NO_FOLIO_RECHECK) && page_folio(p) != f) {
      count_event(CNT_stop_folio_changed);
      page_table_check_gup_put(f, refs);
      folio_put_refs(f, refs);
      continue;
    }
    return f;
  }
}

}  // namespace

int folio_pincount(folio* f) {
  if (folio_has_pincount(f)) return f->page._pincount.load(sync::relaxed);
  return folio_ref_count(f) / GUP_PIN_COUNTING_BIAS;
}

// Context: irqs off (or the seqcount walker), no lock held.
folio* try_grab_folio_fast(page* p, int refs, unsigned flags) {
  if (!(flags & (FOLL_GET | FOLL_PIN))) return nullptr;
  folio* f = try_get_folio(p, refs);
  if (flags & FOLL_GET) return f;
  if (!f) return nullptr;
  if ((flags & FOLL_LONGTERM) && !folio_is_longterm_pinnable(f)) {
    page_table_check_gup_put(f, refs);
    folio_put_refs(f, refs);
    count_event(CNT_stop_longterm);
    return nullptr;
  }
  // A large folio counts pins exactly; a small one by the bias (keeping the reference
  // try_get_folio took, so the folio really is held).
  if (folio_has_pincount(f))
    f->page._pincount.fetch_add(refs, sync::relaxed);
  else
    folio_ref_add(f, refs * (GUP_PIN_COUNTING_BIAS - 1));
  // [PIN-MB] The pin is visible before we recheck the PTE: smp_mb__after_atomic(), "essentially
  // a smp_mb()" after the non-returning add (the kernel's comment). Pairs with [PIN-CHECK]: the
  // smp_mb in __folio_try_share_anon_rmap (reclaim/migration) and fork's pin check under
  // write_protect_seq: either they see our pin, or we see their PTE change.
  if (!is_unsafe(NO_PIN_MB)) sync::smp_mb__after_atomic();
  return f;
}

// Context: the PTL is held, so the folio is mapped and its count is > 0.
int try_grab_folio(folio* f, int refs, unsigned flags) {
  int count = folio_ref_count(f);
  if (count <= 0) return -ENOMEM;  // WARN_ON_ONCE in the kernel: the PTL keeps it mapped
  if (folio_ref_count_unsafe(count)) {
    // [REF-OVERFLOW] (page_ref.h): refused, as the kernel refuses a count <= 0, with -ENOMEM.
    count_event(CNT_gup_ref_overflow);
    return -ENOMEM;
  }
  if (flags & FOLL_GET) {
    folio_ref_add(f, refs);
  } else if (flags & FOLL_PIN) {
    // No pin on the zero page: it is not going anywhere.
    if (is_zero_folio(f)) return 0;
    if (folio_has_pincount(f)) {
      folio_ref_add(f, refs);
      f->page._pincount.fetch_add(refs, sync::relaxed);
    } else {
      folio_ref_add(f, refs * GUP_PIN_COUNTING_BIAS);
    }
  } else {
    return 0;
  }
  page_table_check_gup_get(f, refs);
  return 0;
}

namespace {
// An unpin of pins the folio does not have: reported (counter bad_unpin, the oracle's
// refcount verdict through bad_page) and refused, leaving the counts as they were.
void bad_unpin(folio* f, int refs) {
  page_table_check_gup_get(f, refs);  // the references gup_put_folio announced stay
  bad_page(folio_pfn(f), "unpin of a page that is not pinned (double unpin?)", CNT_bad_unpin);
}

}  // namespace

void gup_put_folio(folio* f, int refs, unsigned flags) {
  if (flags & FOLL_PIN) {
    if (is_zero_folio(f)) return;
  }
  page_table_check_gup_put(f, refs);
  if (!(flags & FOLL_PIN)) {
    folio_put_refs(f, refs);
    return;
  }
  // [UNPIN-CHECK] Refuse an unpin the counts cannot account for (the kernel subtracts
  // blindly: a double unpin there frees a page a device may still write). A large folio
  // counts its pins exactly; a small one must hold at least refs * GUP_PIN_COUNTING_BIAS
  // references. Each check is the CAS that does the subtraction, so a racing unpin cannot
  // slip between check and update. Not caught: an unpin of a small folio with >= 1024 plain
  // references, or of another caller's pin (the counts say "pinned"; docs/errors.md).
  if (folio_has_pincount(f)) {
    // Relaxed, as the kernel's atomic_sub: the reference dropped after it orders the release.
    if (atomic_sub_unless_below(f->page._pincount, refs, refs, sync::relaxed) < 0) return bad_unpin(f, refs);
    folio_put_refs(f, refs);
    return;
  }
  int bias = refs * GUP_PIN_COUNTING_BIAS;
  if (!folio_put_refs_unless_below(f, bias, bias)) bad_unpin(f, refs);
}

// gup_must_unshare(): would a read-only pin of this page see a page the process may
// later stop using (after a COW)? Anonymous pages must be exclusive to be pinned.
bool gup_must_unshare(vm_area_struct* vma, unsigned flags, page* p) {
  if ((flags & (FOLL_WRITE | FOLL_PIN)) != FOLL_PIN) return false;
  folio* f = page_folio(p);
  if (!folio_test_anon(f)) {
    // Only R/O long-term pins care: they must observe later writes through the page tables,
    // so a COW mapping (the zero page of a private mapping) must break COW first.
    if (!(flags & FOLL_LONGTERM)) return false;
    if (!vma) return true;  // the fast path has no VMA: let the slow path decide
    return is_cow_mapping(vma->vm_flags);
  }
  // [UNSHARE-RMB] Pairs with [SHARE-AFTER] (the smp_mb__after_atomic after
  // ClearPageAnonExclusive in __folio_try_share_anon_rmap): if it cleared AnonExclusive
  // before restoring the PTE we rechecked, we see the clear.
  sync::smp_rmb();
  return !PageAnonExclusive(p);
}

namespace {
// A pointer that is not a page of this machine (nullptr, a stale array, an address inside a
// struct page): reported and skipped. The kernel would oops on it.
bool unpin_page_ok(const page* p) {
  if (page_in_memmap(p)) return true;
  bad_page(~0ul, "unpin of a pointer that is not a struct page of this machine", CNT_bad_unpin);
  return false;
}

// gup_folio_next(): the folio of pages[i] and how many of the following entries are
// pages of that same folio. pages[i] is valid; a run ends at an invalid entry.
folio* gup_folio_next(page** pages, long npages, long i, int* ntails) {
  folio* f = page_folio(pages[i]);
  int nr = 1;
  while (i + nr < npages && page_in_memmap(pages[i + nr]) && page_folio(pages[i + nr]) == f) nr++;
  *ntails = nr;
  return f;
}

void unpin_pages(page** pages, long npages, bool make_dirty) {
  if (npages <= 0) return;
  if (!pages) {
    unpin_page_ok(nullptr);
    return;
  }
  count_event(CNT_gup_unpins, npages);
  for (long i = 0; i < npages;) {
    if (!unpin_page_ok(pages[i])) {
      i++;
      continue;
    }
    int nr;
    folio* f = gup_folio_next(pages, npages, i, &nr);
    if (make_dirty && !folio_test_dirty(f)) {
      // The device wrote the folio: mark it dirty under its lock, so reclaim writes it out.
      folio_lock(f);
      folio_set_dirty(f);
      folio_unlock(f);
    }
    gup_put_folio(f, nr, FOLL_PIN);
    i += nr;
  }
}
}  // namespace

void unpin_user_page(page* p) {
  count_event(CNT_gup_unpins);
  if (unpin_page_ok(p)) gup_put_folio(page_folio(p), 1, FOLL_PIN);
}

void unpin_user_pages(page** pages, long npages) { unpin_pages(pages, npages, false); }

void unpin_user_pages_dirty_lock(page** pages, long npages, bool make_dirty) {
  unpin_pages(pages, npages, make_dirty);
}

GUPFAST_NS_END
