// The GUP entry points (mm/gup.c: is_valid_gup_args, gup_fast_fallback,
// get_user_pages_fast, pin_user_pages_fast, get_user_pages, pin_user_pages).
#include <cerrno>

#include "gup/gup_internal.h"
#include "machine/counters.h"

GUPFAST_NS_BEGIN

namespace {

bool is_valid_gup_args(page** pages, unsigned* gup_flags_p, unsigned to_set) {
  unsigned gup_flags = *gup_flags_p;
  if (gup_flags & INTERNAL_GUP_FLAGS) return false;  // FOLL_PIN etc. are ours to set
  gup_flags |= to_set;
  if ((gup_flags & (FOLL_PIN | FOLL_GET)) == (FOLL_PIN | FOLL_GET)) return false;
  if (!(gup_flags & FOLL_PIN) && (gup_flags & FOLL_LONGTERM)) return false;  // LONGTERM only pins
  if ((gup_flags & (FOLL_GET | FOLL_PIN)) && !pages) return false;
  constexpr unsigned known = FOLL_WRITE | FOLL_GET | FOLL_FORCE | FOLL_NOFAULT | FOLL_LONGTERM |
                             INTERNAL_GUP_FLAGS;
  if (gup_flags & ~known) return false;
  *gup_flags_p = gup_flags;
  return true;
}

// gup_fast_fallback(): the fast path for as much as it can, then the slow path from where
// it stopped. A slow-path error after fast-path progress returns the progress: the caller
// owns those pages and must release them.
long gup_fast_fallback(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages) {
  if (!mm || nr_pages < 0) return -EINVAL;
  if (!sync::this_cpu()) return -EINVAL;  // the walker runs with irqs off on a CPU
  if (gup_flags & FOLL_PIN) mm_set_has_pinned_flag(mm);
  start &= PAGE_MASK;
  unsigned long len = static_cast<unsigned long>(nr_pages) << PAGE_SHIFT;
  unsigned long end;
  if ((len >> PAGE_SHIFT) != static_cast<unsigned long>(nr_pages) || __builtin_add_overflow(start, len, &end))
    return -EOVERFLOW;
  if (end > TASK_SIZE) return -EFAULT;
  if (nr_pages == 0) return 0;
  long nr_pinned = static_cast<long>(gup_fast(mm, start, end, gup_flags, pages));
  if (nr_pinned == nr_pages || (gup_flags & FOLL_FAST_ONLY)) return nr_pinned;
  start += static_cast<unsigned long>(nr_pinned) << PAGE_SHIFT;
  long ret = __gup_longterm_locked(mm, start, nr_pages - nr_pinned, pages + nr_pinned, false,
                                   gup_flags | FOLL_TOUCH | FOLL_UNLOCKABLE);
  if (ret < 0) return nr_pinned ? nr_pinned : ret;
  return ret + nr_pinned;
}

}  // namespace

long get_user_pages_fast(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages) {
  // The caller may or may not set FOLL_GET; the fast path always takes a +1 reference.
  if (!is_valid_gup_args(pages, &gup_flags, FOLL_GET)) return -EINVAL;
  return gup_fast_fallback(mm, start, nr_pages, gup_flags, pages);
}

long pin_user_pages_fast(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages) {
  if (gup_flags & FOLL_GET) return -EINVAL;
  if (!is_valid_gup_args(pages, &gup_flags, FOLL_PIN)) return -EINVAL;
  return gup_fast_fallback(mm, start, nr_pages, gup_flags, pages);
}

long get_user_pages_fast_only(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags,
                              page** pages) {
  if (!is_valid_gup_args(pages, &gup_flags, FOLL_GET)) return -EINVAL;
  gup_flags |= FOLL_FAST_ONLY;
  return gup_fast_fallback(mm, start, nr_pages, gup_flags, pages);
}

namespace {
long gup_slow_entry(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages,
                    unsigned to_set, bool locked) {
  if (!mm || nr_pages < 0) return -EINVAL;
  if (to_set == FOLL_PIN && (gup_flags & FOLL_GET)) return -EINVAL;
  if (!is_valid_gup_args(pages, &gup_flags, to_set)) return -EINVAL;
  // __get_user_pages: nothing asked is nothing done, whatever the address; then it walks
  // from the page that holds start (an unaligned start is fine) and stops at the first page
  // no VMA covers (beyond the user range, or wrapped: -EFAULT, or the prefix before it).
  if (nr_pages == 0) return 0;
  start &= PAGE_MASK;
  return __gup_longterm_locked(mm, start, nr_pages, pages, locked, gup_flags | FOLL_TOUCH);
}
}  // namespace

long get_user_pages(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages) {
  return gup_slow_entry(mm, start, nr_pages, gup_flags, pages, pages ? FOLL_GET : 0, true);
}
long pin_user_pages(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages) {
  return gup_slow_entry(mm, start, nr_pages, gup_flags, pages, FOLL_PIN, true);
}
long get_user_pages_unlocked(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags,
                             page** pages) {
  return gup_slow_entry(mm, start, nr_pages, gup_flags, pages, pages ? FOLL_GET : 0, false);
}
long pin_user_pages_unlocked(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags,
                             page** pages) {
  return gup_slow_entry(mm, start, nr_pages, gup_flags, pages, FOLL_PIN, false);
}

GUPFAST_NS_END
