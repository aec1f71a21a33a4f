// NUMA memory policy of a VMA (mm/mempolicy.c): mbind(2) and the allocations that honour
// it. The model keeps one policy mode beside the default, MPOL_PREFERRED with one node:
// faults in the VMA allocate on that node first and fall back along the zonelist, as
// alloc_pages_mpol() does for a preferred node. Enough to place a THP or a page on a
// chosen node (a PAE frame above 4 GiB, whose entry has a non-zero high half) without
// migrating it there.
#pragma once
#include "mm/mm_types.h"

GUPFAST_NS_BEGIN

inline constexpr int MPOL_DEFAULT_ = 0;
inline constexpr int MPOL_PREFERRED_ = 1;

// mbind(start, len, mode, {nid}): set the policy of [start, start + len), splitting VMAs at
// the edges (mbind_range). MPOL_DEFAULT ignores nid. Pages already there stay where they
// are (no MPOL_MF_MOVE). -EINVAL: unaligned or empty range, unknown mode, a node that is
// not online; -EFAULT: the range has a hole (nothing changed). Takes mmap_lock for write.
int do_mbind(mm_struct* mm, unsigned long start, unsigned long len, int mode, int nid);

// vma_alloc_folio(): a folio for a fault at addr in vma, on the node its policy prefers
// (the local node without one).
folio* vma_alloc_folio(gfp_t gfp, int order, const vm_area_struct* vma, unsigned long addr);

GUPFAST_NS_END
