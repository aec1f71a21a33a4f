// Page-table lifetime under lockless walkers: the three strategies (docs/strategies.md).
#include <new>

#include "machine/counters.h"
#include "tlb/mmu_gather.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

namespace {

// ---- the seqcount strategy's type-stable cache --------------------------------------
// Frames that were tables are reused only as tables while the machine runs, so a walker
// that still holds a pointer into one reads page-table entries (stale or of another mm),
// never user data or allocator metadata; its pt_seq validation discards what it found.
struct table_cache {
  sync::spinlock_t lock;
  uint32_t head = NO_PFN;
  unsigned long nr = 0;
};
GUPFAST_WORLD table_cache g_table_cache;

// A cached table's entries (a table uses the first PTRS_PER_PTE words of its frame), set one
// relaxed store each: a stale walker may be reading them.
void table_fill(unsigned long pfn, uint64_t v) {
  auto* e = reinterpret_cast<uint64_t*>(pfn_to_virt(pfn));
  for (int i = 0; i < PTRS_PER_PTE; i++) sync::store(e + i, v, sync::relaxed);
}

void table_cache_put(page* table) {
  unsigned long pfn = page_to_pfn(table);
  if (GUPFAST_DEBUG) table_fill(pfn, 0x0101010101010101ull * PAGE_POISON);
  sync::spin_lock(&g_table_cache.lock);
  table->lru_next = g_table_cache.head;
  g_table_cache.head = static_cast<uint32_t>(pfn);
  g_table_cache.nr++;
  sync::spin_unlock(&g_table_cache.lock);
  count_event(CNT_tables_cached);
}

page* table_cache_get() {
  sync::spin_lock(&g_table_cache.lock);
  uint32_t pfn = g_table_cache.head;
  if (pfn != NO_PFN) {
    g_table_cache.head = pfn_to_page(pfn)->lru_next;
    g_table_cache.nr--;
  }
  sync::spin_unlock(&g_table_cache.lock);
  if (pfn == NO_PFN) return nullptr;
  // Relaxed atomic stores: a stale walker may be reading this table right now.
  table_fill(pfn, 0);
  return pfn_to_page(pfn);
}

// ---- rcu --------------------------------------------------------------------------
struct table_batch {
  sync::rcu_head rcu;
  std::vector<page*> tables;
};

void tlb_remove_table_rcu(sync::rcu_head* head) {
  auto* batch = reinterpret_cast<table_batch*>(head);
  for (page* t : batch->tables) {
    pagetable_free(t);
    count_event(CNT_tables_freed_rcu);
  }
  delete batch;
}

void tlb_remove_table_smp_sync(void*) { /* Simply deliver the interrupt. */ }

}  // namespace

page* pagetable_alloc(mm_struct* mm) {
  page* p = nullptr;
  if (g_cfg.strategy == table_strategy::seqcount && !is_unsafe(NO_TABLE_SYNC)) p = table_cache_get();
  if (!p) p = alloc_pages(__GFP_ZERO, 0);
  if (!p) return nullptr;
  // The table's identity before it is published (pmd_install's smp_wmb orders these).
  set_bit_flag(p, PG_table);
  p->mapping.store(reinterpret_cast<unsigned long>(mm), sync::relaxed);
  // A PMD table's list of deposited PTE tables (pgtable_trans_huge_deposit): empty; also
  // what a deposited table's own link holds when it is the last.
  p->lru_next = NO_PFN;
  count_event(CNT_tables_allocated);
  return p;
}

void pagetable_free(page* table) {
  count_event(CNT_tables_freed);
  if (g_cfg.strategy == table_strategy::seqcount && !is_unsafe(NO_TABLE_SYNC)) {
    table_cache_put(table);
    return;
  }
  clear_bit_flag(table, PG_table);
  table->mapping.store(0, sync::relaxed);
  folio_put(reinterpret_cast<folio*>(table));
}

unsigned long pagetable_cache_frames() {
  sync::spin_lock(&g_table_cache.lock);
  unsigned long n = g_table_cache.nr;
  sync::spin_unlock(&g_table_cache.lock);
  return n;
}

void pagetable_cache_drain() {
  for (;;) {
    sync::spin_lock(&g_table_cache.lock);
    uint32_t pfn = g_table_cache.head;
    if (pfn != NO_PFN) {
      g_table_cache.head = pfn_to_page(pfn)->lru_next;
      g_table_cache.nr--;
    }
    sync::spin_unlock(&g_table_cache.lock);
    if (pfn == NO_PFN) return;
    page* t = pfn_to_page(pfn);
    clear_bit_flag(t, PG_table);
    t->mapping.store(0, sync::relaxed);
    folio_put(reinterpret_cast<folio*>(t));
  }
}

void tlb_remove_table_sync_one() {
  count_event(CNT_table_sync_ipis);
  sync::smp_call_function_many(sync::cpu_online_mask(), tlb_remove_table_smp_sync, nullptr, true);
}

// Free the tables a gather collected. Context: after tlb_flush_mmu's TLB flush.
void tlb_table_flush(mmu_gather* tlb) {
  if (tlb->tables.empty()) return;
  switch (g_cfg.strategy) {
    case table_strategy::ipi:
      // The flush we just did IPI'd every CPU of the mm and waited: a GUP-fast walker has
      // irqs off for its whole walk, so it either finished or never saw these tables.
      // Mutant no-table-sync frees them in tlb_flush_mmu before that flush instead
      // (tlb_flush_mmu).
      for (page* t : tlb->tables) pagetable_free(t);
      break;
    case table_strategy::rcu:
      if (is_unsafe(NO_TABLE_SYNC)) {
        for (page* t : tlb->tables) pagetable_free(t);
      } else {
        // tlb_remove_table() -> tlb_table_flush() -> call_rcu(tlb_remove_table_rcu). GUP-fast's
        // irqs-off section is an RCU read-side section, so it holds off the grace period.
        auto* batch = new (std::nothrow) table_batch;
        if (!batch) {
          // tlb_remove_table_one(): no memory for a batch; sync with walkers by IPI.
          tlb_remove_table_sync_one();
          for (page* t : tlb->tables) pagetable_free(t);
          break;
        }
        batch->tables = std::move(tlb->tables);
        sync::call_rcu(&batch->rcu, tlb_remove_table_rcu);
      }
      break;
    case table_strategy::seqcount:
      // Type-stable: straight back to the table cache. The unlinker's pt_seq write
      // section (free_pgtables) tells walkers that saw it to discard.
      for (page* t : tlb->tables) pagetable_free(t);
      break;
  }
  tlb->tables.clear();
}

GUPFAST_NS_END
