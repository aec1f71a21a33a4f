// The mmu_gather (include/asm-generic/tlb.h, mm/mmu_gather.c): batch what an unmap frees
// so that it is freed only after the TLB flush, and page tables only after lockless walkers
// are done with them, by the machine's strategy (tlb/table_free.cpp):
//
//   ipi       tables freed right after the flush, whose IPIs waited for every irqs-off
//             walker (x86 without CONFIG_MMU_GATHER_RCU_TABLE_FREE)
//   rcu       tables freed after an RCU grace period (tlb_remove_table -> call_rcu)
//   seqcount  tables go back to a type-stable cache, reused only as tables; walkers
//             validate the sequence counters of tlb/pt_seq.h
#pragma once
#include <vector>

#include "mm/mm_types.h"

GUPFAST_NS_BEGIN

struct mmu_gather {
  mm_struct* mm = nullptr;
  bool fullmm = false;
  bool freed_tables = false;
  unsigned long start = ~0ul, end = 0;  // range of cleared entries to flush
  std::vector<folio*> pages;            // one reference each, dropped after the flush
  std::vector<page*> tables;            // page-table pages to free via the strategy
};

void tlb_gather_mmu(mmu_gather* tlb, mm_struct* mm);
void tlb_gather_mmu_fullmm(mmu_gather* tlb, mm_struct* mm);
inline void tlb_remove_tlb_entry(mmu_gather* tlb, unsigned long addr, unsigned long size = PAGE_SIZE) {
  if (addr < tlb->start) tlb->start = addr;
  if (addr + size > tlb->end) tlb->end = addr + size;
}
// __tlb_remove_page(): drop the mapping's reference on the folio after the flush.
void tlb_remove_folio(mmu_gather* tlb, folio* f);
// A page-table page unlinked from its parent; freed through the strategy.
void tlb_remove_table(mmu_gather* tlb, page* table);
void tlb_flush_mmu(mmu_gather* tlb);
void tlb_finish_mmu(mmu_gather* tlb);

// Wait until no CPU is inside an irqs-off lockless walk that may have seen a table we
// just unlinked (an IPI to every CPU, as smp_call_function(tlb_remove_table_smp_sync)).
// Context: irqs on.
void tlb_remove_table_sync_one();

// ---- page-table pages -------------------------------------------------------------------
// A zeroed page-table page with its split lock ready. From the type-stable cache under
// the seqcount strategy. nullptr if out of memory.
page* pagetable_alloc(mm_struct* mm);
// Free now (no walker can see it: never published, or after the strategy's wait).
void pagetable_free(page* table);
// Frames held by the seqcount strategy's type-stable cache.
unsigned long pagetable_cache_frames();
void pagetable_cache_drain();

GUPFAST_NS_END
