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
#include <climits>

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
// The count drops by nr unless it is below min (then nothing changes: a caller released
// references it does not hold). Returns -1 refused, 1 if the count reached zero (the caller
// frees), 0 otherwise. Fully ordered as folio_ref_sub_and_test when it drops. A CAS loop, not
// a fetch_sub and an undo: between the two, a racing folio_ref_sub_and_test could see zero
// and free a folio others hold. Used by the unpin path ([UNPIN-CHECK], gup/grab.cpp).
inline int atomic_sub_unless_below(sync::atomic<int>& v, int nr, int min, sync::mo order) {
  int old = v.load(sync::relaxed);
  do {
    if (old < min) return -1;
  } while (!v.compare_exchange(old, old - nr, order));
  return old - nr == 0 ? 1 : 0;
}
inline int folio_ref_sub_unless_below(folio* f, int nr, int min) {
  return atomic_sub_unless_below(f->page._refcount, nr, min, sync::acq_rel);
}

// Overflow guard ([REF-OVERFLOW]): GUP takes no new reference on a folio whose count is
// negative (it wrapped) or within FOLIO_REF_HEADROOM of INT_MAX. The kernel refuses only once
// the count is negative (WARN_ON_ONCE(folio_ref_count(folio) < 0) in try_get_folio, <= 0 in
// try_grab_folio): by then it has wrapped. Ours refuses before: one grab adds at most 2^10
// between its check and its add (GUP_PIN_COUNTING_BIAS for a small folio's pin, HPAGE_PMD_NR
// for a PMD leaf), at most NR_CPUS (64) grabs run at once, so 2^26 of headroom (room for
// 2^16 more pins after the first refusal) means the count never wraps. A large
// folio's _pincount is bounded by its _refcount (every pin holds a reference): the same check
// guards it. Checked by one load, as the kernel's WARN (the grab's own RMW follows).
inline constexpr int FOLIO_REF_HEADROOM = 1 << 26;
inline bool folio_ref_count_unsafe(int count) { return count < 0 || count > INT_MAX - FOLIO_REF_HEADROOM; }

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
