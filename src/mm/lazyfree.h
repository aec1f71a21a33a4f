// MADV_FREE: anonymous memory the process no longer needs but may reuse (mm/madvise.c:
// madvise_free_single_vma, madvise_free_pte_range; mm/swap.c: folio_mark_lazyfree).
//
// madvise(MADV_FREE) leaves the pages mapped and marks them clean and lazyfree (anon,
// !PG_swapbacked). Reclaim may then drop a lazyfree page instead of swapping it out: the
// PTE goes and the next access faults in a zero page. A write through the mapping before
// reclaim sets the PTE's dirty bit (the hardware), and reclaim keeps such a page
// (try_to_unmap_one's "MADV_FREE page check", mm/rmap.cpp). So does a reference nobody can
// see in the PTEs: GUP's, whose device write (a direct-IO read) marks the page dirty only
// when the I/O completes ([LAZYFREE-REFCHECK], 6c8e2a256915).
#pragma once
#include "mm/mm_types.h"

GUPFAST_NS_BEGIN

inline bool folio_test_lazyfree(const folio* f) { return folio_test_anon(f) && !folio_test_swapbacked(f); }

// madvise(MADV_FREE) on [start, end) of mm, the range's private anonymous VMAs (others are
// skipped: the kernel refuses them with -EINVAL only where the whole call is invalid).
// Small folios mapped by this mm alone become clean and lazyfree; swap entries are dropped
// (their data is not needed any more). Not modelled: PMD-mapped THPs and large folios
// (madvise_free_huge_pmd, and the split of a PTE-mapped large folio): left as they are,
// which MADV_FREE allows (it may free, it need not). 0, or -ENOMEM if the range has a hole
// (the mapped parts are still advised). Context: takes mmap_lock for read.
int madvise_free(mm_struct* mm, unsigned long start, unsigned long end);

GUPFAST_NS_END
