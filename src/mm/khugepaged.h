// khugepaged's collapse of a PTE-mapped 2 MiB range into one PMD-mapped THP
// (mm/khugepaged.c: collapse_huge_page, __collapse_huge_page_isolate,
// __collapse_huge_page_copy).
#pragma once
#include "mm/mm.h"

GUPFAST_NS_BEGIN

// Why a collapse did what it did: the kernel's enum scan_result, reduced to the cases the
// machine has.
enum class collapse_result : uint8_t {
  succeeded,         // SCAN_SUCCEED: the range is PMD-mapped by a new huge folio
  pmd_mapped,        // SCAN_PMD_MAPPED: already a PMD leaf, nothing to do
  vma_unsuitable,    // SCAN_VMA_NULL / SCAN_VMA_CHECK / SCAN_ADDRESS_RANGE: no THP VMA over it
  pmd_none,          // SCAN_PMD_NONE / SCAN_PMD_NULL: no PTE table to collapse
  pte_non_present,   // SCAN_PTE_NON_PRESENT: a swap or migration entry (no swap-in here)
  page_not_anon,     // SCAN_PAGE_ANON: not an anonymous page (shared anonymous memory)
  page_lock,         // SCAN_PAGE_LOCK: a folio lock is held by someone else
  page_lru,          // SCAN_DEL_PAGE_LRU: a folio is off the LRU (isolated by someone else)
  page_count,        // SCAN_PAGE_COUNT: an unexpected reference (a GUP reference, a transient ref)
  page_pinned,       // SCAN_PAGE_COUNT with folio_maybe_dma_pinned(): a DMA pin
  alloc_fail,        // SCAN_ALLOC_HUGE_PAGE_FAIL: no free order-9 block
};
const char* to_string(collapse_result r);

struct collapse_stats {
  collapse_result result = collapse_result::vma_unsuitable;
  int nr_copied = 0;      // subpages copied from mapped pages
  int nr_none = 0;        // none or zero-page entries, zero-filled
  unsigned long pfn = 0;  // the new huge folio's head pfn, when succeeded
};

// collapse_pmd_range(): collapse the 2 MiB range containing addr, in a VM_HUGEPAGE anonymous
// VMA that covers it entirely and maps it with a PTE table (small pages, a PTE-mapped THP,
// none and zero-page entries), into one newly allocated order-9 folio mapped by a PMD leaf.
// The data is copied; the old pages lose this mapping (and are freed if it was their last);
// the old PTE table is freed through the machine's table strategy.
//
// Returns 0 (collapsed, or already PMD-mapped), -EAGAIN (backed off: a page is pinned,
// referenced, locked or isolated; nothing changed, try later), -EINVAL (nothing suitable
// to collapse there), -ENOMEM (no huge folio). `out` (may be null) says why.
//
// Context: takes mmap_lock for write; the calling thread need not be a CPU.
int collapse_pmd_range(mm_struct* mm, unsigned long addr, collapse_stats* out);

GUPFAST_NS_END
