// Page reclaim (mm/vmscan.c: shrink_folio_list, __remove_mapping, reclaim_pages), for
// anonymous memory with an in-memory swap device (mm/swap.h).
//
// What makes it safe against GUP-fast, in order (DESIGN.md section 4):
//   1. skip folios that may be DMA-pinned (folio_maybe_dma_pinned)
//   2. add the folio to the swap cache and try_to_unmap: each PTE becomes a swap entry under
//      the PTL; an AnonExclusive page is pin-checked after its PTE is cleared and put back
//      if it may be pinned ([PIN-CHECK], mm/rmap.h)
//   3. write the page out, after flushing TLBs that may still write it
//   4. __remove_mapping: freeze the refcount at exactly "isolation + swap cache"; any other
//      reference, even GUP-fast's transient one, makes the freeze fail and reclaim backs off
//      (the folio stays in the swap cache; the next fault maps the same folio again)
//   5. flush TLBs before the frame is freed
// Shared anonymous (shmem) folios are never on the LRU and are skipped (mm/swap.h).
#pragma once
#include <vector>

#include "mm/mm.h"

GUPFAST_NS_BEGIN

struct reclaim_stats {
  unsigned long nr_scanned = 0;        // folios looked at (after a split: each small one)
  unsigned long nr_reclaimed = 0;      // pages freed (their data is in swap)
  unsigned long nr_pinned = 0;         // kept: maybe DMA-pinned (before or during unmap)
  unsigned long nr_busy = 0;           // kept: locked, isolated elsewhere, mm contended, no slot
  unsigned long nr_referenced = 0;     // kept: young PTEs (reclaim_lru only)
  unsigned long nr_freeze_failed = 0;  // kept in swap cache: an extra reference at the freeze
  unsigned long nr_split_failed = 0;   // a large folio that could not be split
  unsigned long nr_not_anon = 0;       // reclaim_range: shmem or zero pages skipped
};

// reclaim_range(): reclaim every anonymous folio mapped in [start, start + len) of mm,
// ignoring references (as MADV_PAGEOUT). Returns the pages reclaimed, or -EINVAL (bad
// range), -ENOMEM (no VMA in the range). `out` may be null.
// Context: the calling thread is a CPU (cpu_scope); no lock held (takes mmap_lock for
// read to find the folios, then drops it).
long reclaim_range(mm_struct* mm, unsigned long start, unsigned long len, reclaim_stats* out);
// reclaim_lru(): scan up to nr_to_scan folios from the cold end of the LRU; folios with
// young PTEs get another round (their accessed bits are cleared), the rest are reclaimed.
// Returns the pages reclaimed. `out` may be null. Context: as reclaim_range.
long reclaim_lru(unsigned long nr_to_scan, reclaim_stats* out);

// Shared with migration: [start, start + len) page-aligned, non-empty, in the user range.
bool user_range_ok(unsigned long start, unsigned long len, unsigned long* end);
// Isolate every anonymous folio mapped in [start, end) of mm, each once, with a reference
// (as madvise_cold_or_pageout / queue_pages_range). Folios not on the LRU (isolated by
// someone else) add to *nr_busy; shmem and zero pages to *nr_not_anon. 0, or -ENOMEM if no
// VMA overlaps the range. Context: takes mmap_lock for read.
int isolate_range_folios(mm_struct* mm, unsigned long start, unsigned long end, std::vector<folio*>* list,
                         unsigned long* nr_busy, unsigned long* nr_not_anon);

GUPFAST_NS_END
