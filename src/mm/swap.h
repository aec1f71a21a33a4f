// The LRU list, the swap device and the swap cache (mm/swap.c, mm/swapfile.c,
// mm/swap_state.c, include/linux/swap.h), reduced to one anonymous LRU and one in-memory
// swap device (as zram: a write-out copies the page into host memory held by the slot).
//
// References, as in the kernel:
//   - being on the LRU holds no reference (PG_lru says the folio is on the list); the last
//     folio_put takes it off (__folio_lru_release), and isolation takes one (folio_get)
//   - the swap cache holds one reference per page of the folio (nr_pages)
//   - a swap slot counts the swap PTEs that name it (count) plus whether a folio is in the
//     swap cache for it (has_cache, SWAP_HAS_CACHE); it is free when both are gone
// Shared anonymous (shmem) folios are never put on this LRU: reclaim skips them (the kernel
// would write them to swap through shmem_writeout; the machine does not model that).
#pragma once
#include <vector>

#include "mm/swapops.h"

GUPFAST_NS_BEGIN

// ---- LRU (mm/swap.c, mm/vmscan.c) -----------------------------------------------------------
// Reset the (global) list; called when a machine is created.
void lru_init();
// Put a folio on the LRU (folio_add_lru). Context: the caller holds a reference; the folio
// is anonymous (a small folio or the head of a large one) and not on the LRU.
void folio_add_lru(folio* f);
// folio_isolate_lru(): take it off the LRU with a reference, or false if it is not on the
// LRU (never added, or isolated by someone else). Context: the caller holds a reference or
// the PTL of a PTE that maps it.
bool folio_isolate_lru(folio* f);
// Back on the LRU and drop the isolation reference (folio_putback_lru).
void folio_putback_lru(folio* f);
// isolate_lru_folios(): isolate up to nr_to_scan folios from the cold end of the list, each
// with a reference. Returns how many it looked at.
unsigned long isolate_lru_folios(unsigned long nr_to_scan, std::vector<folio*>* out);
// Called by the allocator when a folio on the LRU reaches refcount 0 (__page_cache_release).
void __folio_lru_release(folio* f);
// A tail of a large folio being split becomes a folio of its own (lru_add_split_folio):
// on the LRU next to the head if the head is there; otherwise, if `list` is given (the
// caller isolated the head), onto it, and then it returns true: the caller must give the
// tail one more reference (the isolation's). Context: head and tail frozen.
bool lru_add_split_folio(folio* head, folio* tail, std::vector<folio*>* list);
unsigned long lru_nr_folios();

// ---- the swap device (mm/swapfile.c) -----------------------------------------------------
// Create / drop the device's slots; called with the machine.
void swap_init();
void swap_exit();
// folio_alloc_swap(): a free slot for a small folio, with SWAP_HAS_CACHE set. {0} if full.
swp_entry_t folio_alloc_swap(folio* f);
// swap_duplicate(): one more swap PTE names the slot. 0, or -ENOENT if the slot is free.
int swap_duplicate(swp_entry_t e);
// swap_free(): one swap PTE less (the slot is freed when nothing names it).
void swap_free(swp_entry_t e);
// put_swap_folio(): the swap cache lets go of the slot (clears SWAP_HAS_CACHE).
void put_swap_folio(folio* f, swp_entry_t e);
// swapcache_prepare(): claim SWAP_HAS_CACHE for a swap-in. 0; -EEXIST if a folio is (being)
// added to the cache for it; -ENOENT if the slot is free (the PTE that named it is gone).
int swapcache_prepare(swp_entry_t e);
// Undo swapcache_prepare() when the swap-in gives up.
void swapcache_clear(swp_entry_t e);
// Swap PTEs naming the slot (__swap_count).
int __swap_count(swp_entry_t e);
// free_swap_and_cache(): zap of a swap PTE: one swap PTE less, and if it was the last and the
// swap cache still holds an unmapped folio for it, drop that folio from the cache too.
void free_swap_and_cache(swp_entry_t e);
// Data: the "I/O" of the in-memory device. 0 or -EIO (slot free, or never written).
int swap_writepage(folio* f, swp_entry_t e);
int swap_read_folio(folio* f, swp_entry_t e);
// Slots in use (count or has_cache). After every mm is gone this must be 0.
unsigned long swap_slots_in_use();

// ---- the swap cache (mm/swap_state.c) -------------------------------------------------
// Empty it (swap_init does, with the machine).
void swap_cache_reset();
void swap_cache_release();  // swap_exit: the cache's memory too
// add_to_swap_cache(): the cache now finds f by e, holding nr_pages references.
// Context: f locked, SWAP_HAS_CACHE held for e.
void add_to_swap_cache(folio* f, swp_entry_t e);
// __delete_from_swap_cache(): unlink only (no reference dropped, SWAP_HAS_CACHE kept).
// Context: f locked; used under a frozen refcount (__remove_mapping, migration).
void __delete_from_swap_cache(folio* f, swp_entry_t e);
// delete_from_swap_cache(): unlink, put_swap_folio, drop the cache's references.
// Context: f locked and the caller holds its own reference.
void delete_from_swap_cache(folio* f);
// Replace old by new in the cache (migration). Context: both locked, old frozen.
void swap_cache_replace_folio(folio* old_folio, folio* new_folio);
// The folio the cache holds for e, with a reference, or nullptr (also when it is frozen).
folio* swap_cache_get_folio(swp_entry_t e);
// folio->swap: the entry of a folio in the swap cache ({0} if it is not there).
swp_entry_t folio_swap_entry(const folio* f);
// add_to_swap(): allocate a slot and add f to the cache, dirty (it must be written out).
// Context: f locked, isolated, anonymous, small, not in the swap cache. false if no slot.
bool add_to_swap(folio* f);
// folio_swapped(): do swap PTEs still name f's slot?
bool folio_swapped(folio* f);
// folio_free_swap(): drop f from the cache if no swap PTE needs its slot any more.
// Context: f locked, the caller holds its own reference.
bool folio_free_swap(folio* f);
// free_swap_cache(): after the last mapping of f is gone (zap): try folio_free_swap.
// Context: the caller holds a reference.
void free_swap_cache(folio* f);

GUPFAST_NS_END
