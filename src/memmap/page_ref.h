// Folio reference counts, as include/linux/page_ref.h.
//
// The refcount word has three readings:
//   > 0   live; anyone who already holds a reference may add one
//   == 0  free, or frozen by a mutator (reclaim, migration, split) that owns the folio now
//   < 0   overflowed: refuse (try_get_folio's WARN_ON_ONCE(folio_ref_count(folio) < 0))
// Lockless users that do not hold a reference (GUP-fast) may only use
// folio_ref_try_add(): "add unless zero". Zero is absorbing for them, which is what makes
// a freeze (CAS expected -> 0) exclusive: [REF-FREEZE] pairs with [REF-TRY-ADD].
#pragma once
#include "memmap/page.h"

GUPFAST_NS_BEGIN

inline int folio_ref_count(const folio* f) { return f->page._refcount.load(sync::relaxed); }
inline int page_ref_count(const page* p) { return folio_ref_count(page_folio(p)); }

inline void folio_set_count(folio* f, int v) { f->page._refcount.store(v, sync::relaxed); }
inline void folio_ref_add(folio* f, int nr) { f->page._refcount.fetch_add(nr, sync::relaxed); }
inline void folio_ref_sub(folio* f, int nr) { f->page._refcount.fetch_sub(nr, sync::relaxed); }
inline void folio_ref_inc(folio* f) { folio_ref_add(f, 1); }
inline void folio_get(folio* f) { folio_ref_inc(f); }

// Returns true if the count dropped to zero. Full ordering (atomic_dec_and_test): every
// access to the folio by this holder happens before whoever frees it.
inline bool folio_ref_sub_and_test(folio* f, int nr) {
  return f->page._refcount.fetch_sub(nr, sync::acq_rel) - nr == 0;
}
inline bool folio_ref_dec_and_test(folio* f) { return folio_ref_sub_and_test(f, 1); }

// [REF-TRY-ADD] add unless zero (atomic_add_unless(&folio->_refcount, nr, 0)). Fully
// ordered on success, as every value-returning atomic RMW in the kernel: the caller's later
// recheck of the PTE cannot be hoisted above it. Pairs with [REF-FREEZE].
inline bool folio_ref_try_add(folio* f, int nr) {
  int old = f->page._refcount.load(sync::relaxed);
  do {
    if (old == 0) return false;
  } while (!f->page._refcount.compare_exchange(old, old + nr, sync::seq_cst));
  return true;
}
inline bool folio_try_get(folio* f) { return folio_ref_try_add(f, 1); }

// [REF-FREEZE] CAS expected -> 0: succeeds only if nobody else holds a reference, and from
// then on folio_ref_try_add() fails. Pairs with [REF-TRY-ADD]; the freezer has already
// cleared the mappings (try_to_unmap), so a GUP-fast that grabbed before the freeze fails
// its PTE recheck, and one that grabs after the freeze fails here.
inline bool folio_ref_freeze(folio* f, int count) {
  int expected = count;
  return f->page._refcount.compare_exchange(expected, 0, sync::seq_cst);
}
// Unfreeze with a release store: everything the freezer did is visible to the next holder.
inline void folio_ref_unfreeze(folio* f, int count) {
  f->page._refcount.store(count, sync::release);
}

// FOLL_PIN on a small folio adds GUP_PIN_COUNTING_BIAS to _refcount instead of keeping a
// separate count (struct page has no room for one). 1024 leaves 2^21 pins before the
// 31-bit count overflows, and makes a refcount >= 1024 a cheap "maybe pinned" test whose
// false positives (1024 plain references) are harmless: callers then just copy or skip.
inline constexpr int GUP_PIN_COUNTING_BIAS = 1024;

// folio_maybe_dma_pinned(): may a DMA engine be writing this folio? Large folios count pins
// exactly in _pincount; small folios use the bias (false positives allowed, never false
// negatives). Callers that act on "not pinned" must have cleared the mapping first and
// issued a full barrier: [PIN-CHECK] pairs with try_grab_folio_fast's smp_mb.
inline bool folio_maybe_dma_pinned(const folio* f) {
  if (folio_test_large(f)) return f->page._pincount.load(sync::relaxed) > 0;
  return static_cast<unsigned>(folio_ref_count(f)) >= static_cast<unsigned>(GUP_PIN_COUNTING_BIAS);
}

GUPFAST_NS_END
