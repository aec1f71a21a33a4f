// Empty page-table reclaim on zap (CONFIG_PT_RECLAIM, mm/pt_reclaim.c, Linux 6.14+):
// MADV_DONTNEED frees the PTE tables it left empty, instead of keeping them until munmap.
// Off by default (machine_config.pt_reclaim); pt_reclaim_set_enabled() switches it at run
// time. See pt_reclaim.cpp for why it is safe under each table strategy.
#pragma once
#include "mm/mm.h"

GUPFAST_NS_BEGIN

void pt_reclaim_set_enabled(bool on);
bool pt_reclaim_enabled();

// Which mmap_lock mode MADV_DONTNEED must take when it reclaims tables: read (as the kernel)
// under rcu and seqcount, write under ipi (pt_reclaim.cpp says why).
bool pt_reclaim_needs_mmap_write_lock();

// try_to_free_pte(): if the PTE table *pmdp points to is empty, unlink it and hand it to the
// gather (freed through the strategy after its TLB flush). Returns whether it did.
// Context: mmap_lock held (pt_reclaim_needs_mmap_write_lock() says which mode); no PTL held.
bool try_to_free_pte(mmu_gather* tlb, mm_struct* mm, pmd_t* pmdp);

// After a zap of [start, end): try to free the PTE table of every PMD range that one VMA's
// part of the zap covered entirely (reclaim_pt_is_enabled: end - start >= PMD_SIZE).
// Context: as try_to_free_pte; the zap used `tlb`.
void reclaim_pt_range(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end);

GUPFAST_NS_END
