// Internal helpers shared by the GUP files.
#pragma once
#include "gup/gup.h"

GUPFAST_NS_BEGIN

// mm_set_has_pinned_flag(): test before set, so the common case does not dirty the line.
inline void mm_set_has_pinned_flag(mm_struct* mm) {
  if (!mm_flags_test(mm, MMF_HAS_PINNED)) mm_flags_set(mm, MMF_HAS_PINNED);
}

long __get_user_pages(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages);
long __get_user_pages_locked(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages,
                             bool locked);
long __gup_longterm_locked(mm_struct* mm, unsigned long start, long nr_pages, page** pages, bool locked,
                           unsigned gup_flags);
// A PMD leaf on the slow path (follow_huge_pmd). Context: mmap_lock held.
long follow_huge_pmd(vm_area_struct* vma, unsigned long address, pmd_t* pmdp, unsigned flags, page** out);

GUPFAST_NS_END
