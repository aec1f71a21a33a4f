// The swap device (mm/swapfile.c), in memory: one device (type 0), slots numbered from 1
// (slot 0 is the swap header in the kernel; here it is simply never handed out).
//
// A slot's swap_map entry is split as the kernel's: `count` swap PTEs name it, and
// `has_cache` (SWAP_HAS_CACHE) says a folio is in, or being added to, the swap cache for
// it. SWAP_HAS_CACHE is also the swap-in lock: swapcache_prepare() sets it only once.
// A slot is free when both are gone; its data (host memory) goes with it.
//
// Everything here is under the device lock (si->lock); data copies too, which keeps a slot
// from being freed in the middle of one.
#include <cerrno>
#include <memory>

#include "machine/counters.h"
#include "mm/swap.h"

GUPFAST_NS_BEGIN

namespace {

struct swap_slot {
  int count = 0;           // swap PTEs naming this slot
  bool has_cache = false;  // SWAP_HAS_CACHE
  bool in_use = false;
  std::unique_ptr<uint64_t[]> data;  // the written-out page, or null
};

struct swap_info_struct {
  sync::spinlock_t lock;
  std::vector<swap_slot> slots;       // index = offset; grows on demand
  std::vector<unsigned long> free;    // free offsets, reused LIFO
  unsigned long inuse = 0;
};
GUPFAST_WORLD swap_info_struct g_si;

constexpr unsigned SWAP_TYPE = 0;
constexpr unsigned long SWAP_MAX_SLOTS = 1ul << 22;  // 16 GiB of swap

// Context: device lock held. The slot e names, or nullptr if e is not a slot of ours.
swap_slot* slot_of(swp_entry_t e) {
  if (swp_type(e) != SWAP_TYPE) return nullptr;
  unsigned long off = swp_offset(e);
  if (off == 0 || off >= g_si.slots.size()) return nullptr;
  return &g_si.slots[off];
}

// Context: device lock held. Free the slot once nothing names it (swap_entries_free).
void maybe_free_slot(unsigned long off) {
  swap_slot& s = g_si.slots[off];
  if (!s.in_use || s.count || s.has_cache) return;
  s.in_use = false;
  s.data.reset();
  g_si.free.push_back(off);
  g_si.inuse--;
}

}  // namespace

void swap_init() {
  sync::spin_lock(&g_si.lock);
  g_si.slots.clear();
  g_si.slots.resize(1);  // slot 0: never used
  g_si.free.clear();
  g_si.inuse = 0;
  sync::spin_unlock(&g_si.lock);
  swap_cache_reset();
}

// The machine is going: give back every buffer (a machine's globals hold no memory between
// machines, which is what the explorer's world snapshots assume: explore/world.h).
void swap_exit() {
  swap_init();
  std::vector<swap_slot>().swap(g_si.slots);
  std::vector<unsigned long>().swap(g_si.free);
  swap_cache_release();
}

swp_entry_t folio_alloc_swap(folio* f) {
  if (folio_test_large(f)) return {};  // no THP swap: reclaim splits large folios first
  sync::spin_lock(&g_si.lock);
  unsigned long off = 0;
  if (!g_si.free.empty()) {
    off = g_si.free.back();
    g_si.free.pop_back();
  } else if (g_si.slots.size() < SWAP_MAX_SLOTS) {
    off = g_si.slots.size();
    g_si.slots.emplace_back();
  }
  if (off) {
    swap_slot& s = g_si.slots[off];
    s.in_use = true;
    s.has_cache = true;
    s.count = 0;
    g_si.inuse++;
  }
  sync::spin_unlock(&g_si.lock);
  return off ? swp_entry(SWAP_TYPE, off) : swp_entry_t{};
}

int swap_duplicate(swp_entry_t e) {
  sync::spin_lock(&g_si.lock);
  swap_slot* s = slot_of(e);
  int err = (s && s->in_use) ? 0 : -ENOENT;
  if (!err) s->count++;
  sync::spin_unlock(&g_si.lock);
  return err;
}

void swap_free(swp_entry_t e) {
  sync::spin_lock(&g_si.lock);
  swap_slot* s = slot_of(e);
  if (s && s->in_use && s->count > 0) {
    s->count--;
    maybe_free_slot(swp_offset(e));
  } else {
    count_event(CNT_bad_page);  // a swap count underflow: report, don't corrupt
  }
  sync::spin_unlock(&g_si.lock);
}

void put_swap_folio(folio*, swp_entry_t e) {
  sync::spin_lock(&g_si.lock);
  if (swap_slot* s = slot_of(e); s && s->in_use) {
    s->has_cache = false;
    maybe_free_slot(swp_offset(e));
  }
  sync::spin_unlock(&g_si.lock);
}

int swapcache_prepare(swp_entry_t e) {
  sync::spin_lock(&g_si.lock);
  swap_slot* s = slot_of(e);
  int err = 0;
  if (!s || !s->in_use || (!s->count && !s->has_cache))
    err = -ENOENT;
  else if (s->has_cache)
    err = -EEXIST;
  else
    s->has_cache = true;
  sync::spin_unlock(&g_si.lock);
  return err;
}

void swapcache_clear(swp_entry_t e) { put_swap_folio(nullptr, e); }

int __swap_count(swp_entry_t e) {
  sync::spin_lock(&g_si.lock);
  swap_slot* s = slot_of(e);
  int n = (s && s->in_use) ? s->count : 0;
  sync::spin_unlock(&g_si.lock);
  return n;
}

void free_swap_and_cache(swp_entry_t e) {
  sync::spin_lock(&g_si.lock);
  swap_slot* s = slot_of(e);
  bool try_cache = false;
  if (s && s->in_use && s->count > 0) {
    s->count--;
    try_cache = !s->count && s->has_cache;
    maybe_free_slot(swp_offset(e));
  } else {
    count_event(CNT_bad_page);
  }
  sync::spin_unlock(&g_si.lock);
  if (!try_cache) return;
  // __try_to_reclaim_swap(): the last swap PTE is gone; if the cached folio is not mapped
  // either, nothing needs it in the cache any more. Trylock only: the caller may hold a PTL,
  // and whoever holds the folio lock (reclaim, swap-in) deals with the cache itself.
  folio* f = swap_cache_get_folio(e);
  if (!f) return;
  if (folio_trylock(f)) {
    if (!folio_mapped(f)) folio_free_swap(f);
    folio_unlock(f);
  }
  folio_put(f);
}

int swap_writepage(folio* f, swp_entry_t e) {
  auto* src = reinterpret_cast<const uint64_t*>(page_address(&f->page));
  sync::spin_lock(&g_si.lock);
  swap_slot* s = slot_of(e);
  int err = (s && s->in_use) ? 0 : -EIO;
  if (!err) {
    if (!s->data) s->data = std::make_unique<uint64_t[]>(PAGE_SIZE / 8);
    // The page is unmapped and flushed, but a DMA through a pin taken before the unmap
    // could still write it: word by word, as the device would read it.
    sync::load_words(s->data.get(), src, PAGE_SIZE / 8);
  }
  sync::spin_unlock(&g_si.lock);
  if (!err) count_event(CNT_pswpout);
  return err;
}

int swap_read_folio(folio* f, swp_entry_t e) {
  auto* dst = reinterpret_cast<uint64_t*>(page_address(&f->page));
  sync::spin_lock(&g_si.lock);
  swap_slot* s = slot_of(e);
  int err = (s && s->in_use && s->data) ? 0 : -EIO;
  if (!err)
    sync::store_words(dst, s->data.get(), PAGE_SIZE / 8);
  sync::spin_unlock(&g_si.lock);
  if (!err) count_event(CNT_pswpin);
  return err;
}

unsigned long swap_slots_in_use() {
  sync::spin_lock(&g_si.lock);
  unsigned long n = g_si.inuse;
  sync::spin_unlock(&g_si.lock);
  return n;
}

GUPFAST_NS_END
