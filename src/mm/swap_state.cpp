// The swap cache (mm/swap_state.c): swap entry -> folio, so that every swap PTE naming a
// slot finds the same folio while it is in memory, and a folio being written out can be
// faulted back without I/O.
//
// It is the one lookup structure for anonymous memory, which is why __remove_mapping must
// freeze the refcount before deleting a folio from it: a fault may find the folio here and
// take a reference at any time until then (swap_cache_get_folio's folio_try_get fails once
// it is frozen). The kernel's folio->swap is a side table here (struct page has no room).
#include <unordered_map>

#include "machine/counters.h"
#include "mm/swap.h"

GUPFAST_NS_BEGIN

namespace {

struct swap_cache {
  sync::spinlock_t lock;  // the swap address_space's i_pages lock
  std::unordered_map<unsigned long, folio*> by_entry;       // swp_entry_t.val -> folio
  std::unordered_map<unsigned long, unsigned long> by_pfn;  // folio pfn -> swp_entry_t.val
};
GUPFAST_WORLD swap_cache g_cache;

}  // namespace

void swap_cache_reset() {
  sync::spin_lock(&g_cache.lock);
  g_cache.by_entry.clear();
  g_cache.by_pfn.clear();
  sync::spin_unlock(&g_cache.lock);
}

void swap_cache_release() {
  std::unordered_map<unsigned long, folio*>().swap(g_cache.by_entry);
  std::unordered_map<unsigned long, unsigned long>().swap(g_cache.by_pfn);
}

void add_to_swap_cache(folio* f, swp_entry_t e) {
  folio_ref_add(f, static_cast<int>(folio_nr_pages(f)));
  sync::spin_lock(&g_cache.lock);
  g_cache.by_entry[e.val] = f;
  g_cache.by_pfn[folio_pfn(f)] = e.val;
  folio_set_swapcache(f);
  sync::spin_unlock(&g_cache.lock);
}

void __delete_from_swap_cache(folio* f, swp_entry_t e) {
  sync::spin_lock(&g_cache.lock);
  g_cache.by_entry.erase(e.val);
  g_cache.by_pfn.erase(folio_pfn(f));
  folio_clear_swapcache(f);
  sync::spin_unlock(&g_cache.lock);
}

void delete_from_swap_cache(folio* f) {
  swp_entry_t e = folio_swap_entry(f);
  if (!e.val) return;
  __delete_from_swap_cache(f, e);
  put_swap_folio(f, e);
  folio_ref_sub(f, static_cast<int>(folio_nr_pages(f)));  // the caller still holds one
}

void swap_cache_replace_folio(folio* old_folio, folio* new_folio) {
  sync::spin_lock(&g_cache.lock);
  auto it = g_cache.by_pfn.find(folio_pfn(old_folio));
  if (it != g_cache.by_pfn.end()) {
    unsigned long val = it->second;
    g_cache.by_pfn.erase(it);
    g_cache.by_pfn[folio_pfn(new_folio)] = val;
    g_cache.by_entry[val] = new_folio;
    folio_set_swapcache(new_folio);
    folio_clear_swapcache(old_folio);
  }
  sync::spin_unlock(&g_cache.lock);
}

folio* swap_cache_get_folio(swp_entry_t e) {
  sync::spin_lock(&g_cache.lock);
  folio* f = nullptr;
  auto it = g_cache.by_entry.find(e.val);
  // Races with __remove_mapping's freeze: add-unless-zero fails on a frozen folio, which
  // is about to leave the cache; the caller retries. Otherwise the cache's own reference
  // keeps the count above zero while we hold the lock.
  if (it != g_cache.by_entry.end() && folio_try_get(it->second)) f = it->second;
  sync::spin_unlock(&g_cache.lock);
  if (f) count_event(CNT_swap_cache_hits);
  return f;
}

swp_entry_t folio_swap_entry(const folio* f) {
  sync::spin_lock(&g_cache.lock);
  auto it = g_cache.by_pfn.find(folio_pfn(f));
  swp_entry_t e{it == g_cache.by_pfn.end() ? 0ul : it->second};
  sync::spin_unlock(&g_cache.lock);
  return e;
}

bool add_to_swap(folio* f) {
  swp_entry_t e = folio_alloc_swap(f);
  if (!e.val) return false;
  add_to_swap_cache(f, e);
  // The slot holds nothing yet: the folio must be written out before it can be dropped
  // (add_to_swap's folio_mark_dirty).
  folio_set_dirty(f);
  return true;
}

bool folio_swapped(folio* f) {
  swp_entry_t e = folio_swap_entry(f);
  return e.val && __swap_count(e) > 0;
}

bool folio_free_swap(folio* f) {
  if (!folio_test_swapcache(f) || folio_test_writeback(f) || folio_swapped(f)) return false;
  delete_from_swap_cache(f);
  // The slot's copy is gone: memory holds the only copy now.
  folio_set_dirty(f);
  return true;
}

void free_swap_cache(folio* f) {
  if (folio_test_swapcache(f) && !folio_mapped(f) && folio_trylock(f)) {
    folio_free_swap(f);
    folio_unlock(f);
  }
}

GUPFAST_NS_END
