// mmu_gather: batch, flush, then free (mm/mmu_gather.c).
#include "tlb/mmu_gather.h"

#include "machine/counters.h"
#include "mm/swap.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

void tlb_table_flush(mmu_gather* tlb);  // tlb/table_free.cpp

void tlb_gather_mmu(mmu_gather* tlb, mm_struct* mm) {
  tlb->mm = mm;
  tlb->fullmm = false;
  tlb->freed_tables = false;
  tlb->start = ~0ul;
  tlb->end = 0;
  tlb->pages.clear();
  tlb->tables.clear();
}

void tlb_gather_mmu_fullmm(mmu_gather* tlb, mm_struct* mm) {
  tlb_gather_mmu(tlb, mm);
  tlb->fullmm = true;
}

void tlb_remove_folio(mmu_gather* tlb, folio* f) { tlb->pages.push_back(f); }

void tlb_remove_table(mmu_gather* tlb, page* table) {
  tlb->freed_tables = true;
  tlb->tables.push_back(table);
}

// Free the pages whose mappings this gather cleared. Context: after the TLB flush
// (invariant 10), unless the no-flush-before-free mutant moved us before it.
static void tlb_batch_pages_flush(mmu_gather* tlb) {
  // free_pages_and_swap_cache(): a folio whose last mapping this was leaves the swap cache.
  for (folio* f : tlb->pages) {
    free_swap_cache(f);
    folio_put(f);
  }
  tlb->pages.clear();
}

void tlb_flush_mmu(mmu_gather* tlb) {
  bool need_flush = tlb->end > tlb->start || tlb->freed_tables || tlb->fullmm;
  if (is_unsafe(NO_FLUSH_BEFORE_FREE)) {
    // Mutant: free first. A CPU still holding a cached translation now reaches a frame that
    // the allocator may hand to someone else (frame-uaf).
    tlb_batch_pages_flush(tlb);
    sync::yield_point("tlb_flush_mmu:freed_before_flush");
  }
  if (is_unsafe(NO_TABLE_SYNC) && g_cfg.strategy == table_strategy::ipi) {
    // Mutant: free the tables before the flush whose IPIs would wait for irqs-off walkers.
    tlb_table_flush(tlb);
    sync::yield_point("tlb_flush_mmu:tables_freed_before_flush");
  }
  if (need_flush) {
    // With freed tables the whole mm is flushed, as x86's flush_tlb_mm_range with
    // freed_tables also drops paging-structure caches.
    flush_tlb_mm_range(tlb->mm, tlb->freed_tables ? 0 : tlb->start,
                       tlb->freed_tables ? TASK_SIZE : tlb->end);
  }
  tlb->start = ~0ul;
  tlb->end = 0;
  tlb_batch_pages_flush(tlb);
  tlb_table_flush(tlb);
  tlb->freed_tables = false;
}

void tlb_finish_mmu(mmu_gather* tlb) { tlb_flush_mmu(tlb); }

GUPFAST_NS_END
