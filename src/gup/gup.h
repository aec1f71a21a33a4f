// get_user_pages and friends (mm/gup.c): the lockless fast path, the locked slow path,
// and pin accounting.
//
// Signatures follow the kernel's, with the address space passed explicitly (the kernel's
// fast variants use current->mm; ours behave like the *_remote variants on `mm`).
// Return values are the kernel's: the number of pages taken, a prefix of the request, or a
// negative errno if none was taken (every bad input and its errno: docs/errors.md). Pages
// taken with FOLL_PIN (pin_*) are released with unpin_user_page(s); pages taken with
// FOLL_GET (get_*) with put_page.
//
// Context: the caller is a CPU (cpu_scope) and holds a reference on mm (mm_users).
#pragma once
#include "mm/mm.h"

GUPFAST_NS_BEGIN

// gup_flags
inline constexpr unsigned FOLL_WRITE = 0x01;
inline constexpr unsigned FOLL_GET = 0x04;
inline constexpr unsigned FOLL_FORCE = 0x10;
inline constexpr unsigned FOLL_NOFAULT = 0x80;
inline constexpr unsigned FOLL_LONGTERM = 0x100;
// Internal: set by the entry points, refused from callers (INTERNAL_GUP_FLAGS).
inline constexpr unsigned FOLL_PIN = 0x40000;
inline constexpr unsigned FOLL_FAST_ONLY = 0x80000;
inline constexpr unsigned FOLL_TOUCH = 0x100000;
inline constexpr unsigned FOLL_UNLOCKABLE = 0x200000;
inline constexpr unsigned INTERNAL_GUP_FLAGS = FOLL_PIN | FOLL_FAST_ONLY | FOLL_TOUCH | FOLL_UNLOCKABLE;

// ---- fast (lockless, falls back to the slow path for the rest) --------------------------
long get_user_pages_fast(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages);
long pin_user_pages_fast(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages);
// Never falls back: may return fewer pages than asked, or 0.
long get_user_pages_fast_only(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags,
                              page** pages);

// ---- slow (locked) ----------------------------------------------------------------------
// Context: mmap_lock held for read.
long get_user_pages(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages);
long pin_user_pages(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages);
// Take and drop mmap_lock themselves.
long get_user_pages_unlocked(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags,
                             page** pages);
long pin_user_pages_unlocked(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags,
                             page** pages);

// ---- release --------------------------------------------------------------------------
// An unpin the counts cannot account for (a double unpin, a page never pinned or only got,
// a pointer that is no struct page) is reported (counter bad_unpin; the oracle's refcount
// verdict through bad_page) and refused: the counts stay as they were (docs/errors.md).
void unpin_user_page(page* p);
// Consecutive pages of one folio are released with one atomic per folio.
void unpin_user_pages(page** pages, long npages);
void unpin_user_pages_dirty_lock(page** pages, long npages, bool make_dirty);

// ---- grabbing references (shared by both paths) ---------------------------------------
// Context: lockless walker with page tables kept alive by the strategy.
folio* try_grab_folio_fast(page* p, int refs, unsigned flags);
// Context: the PTL (or another lock that keeps the mapping) is held. 0 or -ENOMEM.
int try_grab_folio(folio* f, int refs, unsigned flags);
void gup_put_folio(folio* f, int refs, unsigned flags);
// A read-only pin of a shared anonymous page must unshare it first.
bool gup_must_unshare(vm_area_struct* vma, unsigned flags, page* p);
inline bool folio_is_longterm_pinnable(folio*) {
  // No ZONE_MOVABLE/CMA/device memory in this machine: every folio may be pinned long term.
  return true;
}
// The number of pins on a folio (folio_maybe_dma_pinned is the cheap test).
int folio_pincount(folio* f);

// The lockless core, exposed for tests and the explorer: pins/gets up to the first
// failure and returns how many pages it took (gup_fast in mm/gup.c).
unsigned long gup_fast(mm_struct* mm, unsigned long start, unsigned long end, unsigned gup_flags,
                       page** pages);

GUPFAST_NS_END
