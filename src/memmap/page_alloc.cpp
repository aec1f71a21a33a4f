// The buddy allocator and the machine's physical memory (mm/page_alloc.c, mm/mm_init.c).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/mman.h>

#include "machine/counters.h"
#include "memmap/memmap.h"
#include "pgtable/geometry.h"

GUPFAST_NS_BEGIN

GUPFAST_WORLD page* mem_map = nullptr;
GUPFAST_WORLD uint8_t* frames_base = nullptr;
GUPFAST_WORLD unsigned long max_pfn = 0;
GUPFAST_WORLD unsigned long zero_pfn = 0;
GUPFAST_WORLD pglist_data node_data[MAX_NUMNODES];
GUPFAST_WORLD int nr_online_nodes = 0;

namespace {

// One zone per node (the node's ZONE_NORMAL), with its own lock and free lists.
struct zone {
  sync::spinlock_t lock;
  uint32_t free_head[MAX_PAGE_ORDER + 1];
  unsigned long nr_free;
  int nid;  // its node: node_data[nid] says which frames are the zone's
  // Frames [node start, fresh_top) have never been handed out. They are carved from the top
  // down in the largest aligned blocks, so untouched memory stays untouched (lazy backing).
  unsigned long fresh_top;
  unsigned long allocs, frees;
};

GUPFAST_WORLD zone g_zones[MAX_NUMNODES];
GUPFAST_WORLD bool g_poison = false;
GUPFAST_WORLD memmap_hooks g_hooks;
GUPFAST_WORLD bool g_active = false;
GUPFAST_WORLD size_t g_map_bytes = 0, g_frame_bytes = 0;

zone* page_zone(unsigned long pfn) { return &g_zones[pfn_to_nid(pfn)]; }

void list_add(zone* z, int order, unsigned long pfn) {
  page* p = pfn_to_page(pfn);
  uint32_t head = z->free_head[order];
  p->lru_next = head;
  p->lru_prev = NO_PFN;
  if (head != NO_PFN) pfn_to_page(head)->lru_prev = static_cast<uint32_t>(pfn);
  z->free_head[order] = static_cast<uint32_t>(pfn);
  p->order = static_cast<uint8_t>(order);
  set_bit_flag(p, PG_buddy);
}

void list_del(zone* z, int order, unsigned long pfn) {
  page* p = pfn_to_page(pfn);
  if (p->lru_prev != NO_PFN)
    pfn_to_page(p->lru_prev)->lru_next = p->lru_next;
  else
    z->free_head[order] = p->lru_next;
  if (p->lru_next != NO_PFN) pfn_to_page(p->lru_next)->lru_prev = p->lru_prev;
  p->lru_next = p->lru_prev = NO_PFN;
  clear_bit_flag(p, PG_buddy);
}

// The largest naturally aligned block (at most max order) that ends at fresh_top and lies
// inside the zone. Context: zone lock held.
bool refill_from_fresh(zone* z) {
  for (int order = MAX_PAGE_ORDER; order >= 0; order--) {
    unsigned long size = 1ul << order;
    if (z->fresh_top - NODE_DATA(z->nid)->node_start_pfn < size || ((z->fresh_top - size) & (size - 1))) continue;
    z->fresh_top -= size;
    list_add(z, order, z->fresh_top);
    return true;
  }
  return false;  // the whole zone has been handed out
}

// Context: zone lock held.
long take_block(zone* z, int order) {
  for (;;) {
    for (int o = order; o <= MAX_PAGE_ORDER; o++) {
      uint32_t pfn = z->free_head[o];
      if (pfn == NO_PFN) continue;
      list_del(z, o, pfn);
      // expand(): give back the upper halves
      while (o > order) {
        o--;
        list_add(z, o, pfn + (1ul << o));
      }
      return pfn;
    }
    if (!refill_from_fresh(z)) return -1;
  }
}

void poison_frames(unsigned long pfn, int order) {
  if (g_poison) std::memset(pfn_to_virt(pfn), PAGE_POISON, PAGE_SIZE << order);
}

void reset_page(page* p) {
  p->flags.store(0, sync::relaxed);
  p->compound_head.store(0, sync::relaxed);
  p->_mapcount.store(-1, sync::relaxed);
  p->_pincount.store(0, sync::relaxed);
  p->_entire_mapcount.store(-1, sync::relaxed);
  p->mapping.store(0, sync::relaxed);
  p->index.store(0, sync::relaxed);
  p->order = 0;
}

}  // namespace

int folio_mapcount(const folio* f) {
  if (!folio_test_large(f)) return page_mapcount(&f->page);
  int n = folio_entire_mapcount(f);
  long nr = folio_nr_pages(f);
  for (long i = 0; i < nr; i++) n += page_mapcount(&f->page + i);
  return n;
}

int physmem_init(unsigned long nr_frames, bool poison, int nr_nodes) {
  if (g_active) return -EBUSY;
  if (nr_nodes < 1 || nr_nodes > MAX_NUMNODES) return -EINVAL;
  // pfns must fit the PAE entry format (36-bit physical addresses: 2^24 frames = 64 GiB)
  // and our 32-bit list links.
  if (nr_frames < PHYSMEM_MIN_FRAMES || nr_frames > (1ul << 24)) return -EINVAL;
  unsigned long present[MAX_NUMNODES] = {nr_frames, 0}, start[MAX_NUMNODES] = {0, 0};
  if (nr_nodes == 2) {
    present[1] = nr_frames / 4;
    present[0] = nr_frames - present[1];
    unsigned long block = 1ul << MAX_PAGE_ORDER;
    start[1] = std::max(NODE1_MIN_START_PFN, (present[0] + block - 1) & ~(block - 1));
  }
  // Node 1 starts at 4 GiB with at most 2^20 / 3 frames, or at node 0's end rounded up to a
  // max-order block with a quarter of the frames: within 2^24 either way (checked anyway).
  unsigned long end = start[nr_nodes - 1] + present[nr_nodes - 1];
  if (end > (1ul << 24)) return -EINVAL;
  g_map_bytes = end * sizeof(page);
  g_frame_bytes = end * PAGE_SIZE;
  void* map = mmap(nullptr, g_map_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) return -ENOMEM;
  void* fr = mmap(nullptr, g_frame_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (fr == MAP_FAILED) {
    munmap(map, g_map_bytes);
    return -ENOMEM;
  }
  // Zero-filled memory is a valid memmap except for the counters whose "empty" value is
  // -1; those are set when a page is first handed out (reset_page).
  mem_map = static_cast<page*>(map);
  frames_base = static_cast<uint8_t*>(fr);
  max_pfn = end;
  nr_online_nodes = nr_nodes;
  for (int nid = 0; nid < MAX_NUMNODES; nid++) {
    node_data[nid] = {start[nid], nid < nr_nodes ? present[nid] : 0};
    zone& z = g_zones[nid];
    for (auto& h : z.free_head) h = NO_PFN;
    z.nr_free = node_data[nid].node_present_pages;
    z.nid = nid;
    z.fresh_top = node_end_pfn(nid);
    z.allocs = z.frees = 0;
  }
  g_poison = poison;
  g_hooks = {};
  g_active = true;
  page* zp = alloc_pages(__GFP_ZERO, 0);
  set_bit_flag(zp, PG_reserved);
  zero_pfn = page_to_pfn(zp);
  return 0;
}

void physmem_exit() {
  if (!g_active) return;
  munmap(mem_map, g_map_bytes);
  munmap(frames_base, g_frame_bytes);
  mem_map = nullptr;
  frames_base = nullptr;
  max_pfn = 0;
  nr_online_nodes = 0;
  g_active = false;
}

bool physmem_active() { return g_active; }

physmem_stats physmem_get_stats() {
  physmem_stats s{};
  for (int nid = 0; nid < nr_online_nodes; nid++) {
    zone& z = g_zones[nid];
    sync::spin_lock(&z.lock);
    s.nr_frames += node_data[nid].node_present_pages;
    s.nr_free += z.nr_free;
    s.allocs += z.allocs;
    s.frees += z.frees;
    sync::spin_unlock(&z.lock);
  }
  return s;
}

void physmem_set_hooks(const memmap_hooks& hooks) { g_hooks = hooks; }

void (*physmem_alloc_observer)(unsigned long pfn, int order) = nullptr;
unsigned long physmem_carved_start(int nid) { return g_zones[nid].fresh_top; }

page* alloc_pages_node(int nid, gfp_t gfp, int order) {
  if (order < 0 || order > MAX_PAGE_ORDER || nid < 0 || nid >= nr_online_nodes) return nullptr;
  long pfn = -1;
  // The zonelist: the preferred node first, then the others in order.
  for (int i = 0; i < nr_online_nodes && pfn < 0; i++) {
    zone* z = &g_zones[(nid + i) % nr_online_nodes];
    sync::spin_lock(&z->lock);
    pfn = take_block(z, order);
    if (pfn >= 0) {
      z->nr_free -= 1ul << order;
      z->allocs++;
    }
    sync::spin_unlock(&z->lock);
  }
  if (pfn < 0) return nullptr;
  if (physmem_alloc_observer) physmem_alloc_observer(static_cast<unsigned long>(pfn), order);
  for (unsigned long i = 0; i < (1ul << order); i++) reset_page(pfn_to_page(pfn + i));
  if (gfp & __GFP_ZERO) std::memset(pfn_to_virt(pfn), 0, PAGE_SIZE << order);
  page* p = pfn_to_page(pfn);
  // The oracle learns of the new incarnation before anyone can take a reference on it.
  if (g_hooks.frame_allocated) g_hooks.frame_allocated(g_hooks.ctx, pfn, order);
  // The new owner's first reference. Release: a GUP-fast that wins folio_ref_try_add() on
  // this recycled page sees the reset metadata (and then fails its PTE recheck).
  p->_refcount.store(1, sync::release);
  return p;
}

void __free_pages(page* p, int order) {
  unsigned long pfn = page_to_pfn(p);
  if (test_bit_flag(p, PG_free)) {
    // bad_page(): freeing a free block (a refcount went to zero twice). Report and leak
    // it rather than corrupt the free lists.
    bad_page(pfn, "free of a free block", CNT_bad_page);
    return;
  }
  if (g_hooks.frame_freed) g_hooks.frame_freed(g_hooks.ctx, pfn, order);
  for (unsigned long i = 0; i < (1ul << order); i++) {
    page* q = p + i;
    q->flags.store(1ul << PG_free, sync::relaxed);
    // A tail page stops pointing at its old head: a racing GUP-fast holding this page
    // sees page_folio() change and retries (try_get_folio's recheck).
    q->compound_head.store(0, sync::relaxed);
    q->_refcount.store(0, sync::relaxed);
    q->mapping.store(0, sync::relaxed);
  }
  poison_frames(pfn, order);
  zone* z = page_zone(pfn);
  sync::spin_lock(&z->lock);
  z->nr_free += 1ul << order;
  z->frees++;
  // __free_one_page(): merge with free buddies of the same order (inside the zone's
  // carved part: blocks are naturally aligned, so a buddy never crosses a node).
  while (order < MAX_PAGE_ORDER) {
    unsigned long buddy = pfn ^ (1ul << order);
    if (buddy >= z->fresh_top && buddy < node_end_pfn(z->nid)) {
      page* b = pfn_to_page(buddy);
      if (PageBuddy(b) && b->order == order) {
        list_del(z, order, buddy);
        pfn &= ~(1ul << order);
        order++;
        continue;
      }
    }
    break;
  }
  list_add(z, order, pfn);
  sync::spin_unlock(&z->lock);
}

folio* __folio_alloc_node(gfp_t gfp, int order, int nid) {
  if (order < 0 || order > MAX_FOLIO_ORDER) return nullptr;
  page* p = alloc_pages_node(nid, gfp, order);
  if (!p) return nullptr;
  if (order > 0) {
    // prep_compound_page(): the head owns the counts; tails point at it with bit 0 set.
    set_bit_flag(p, PG_head);
    p->order = static_cast<uint8_t>(order);
    for (long i = 1; i < (1l << order); i++)
      p[i].compound_head.store(reinterpret_cast<unsigned long>(p) | 1, sync::release);
  }
  return reinterpret_cast<folio*>(p);
}

void folio_uncompound(folio* f, int refs_each) {
  page* p = &f->page;
  long nr = folio_nr_pages(f);
  for (long i = nr - 1; i >= 1; i--) {
    p[i].flags.store(p->flags.load(sync::relaxed) & ~(1ul << PG_head), sync::relaxed);
    p[i].mapping.store(p->mapping.load(sync::relaxed), sync::relaxed);
    p[i].index.store(p->index.load(sync::relaxed) + i, sync::relaxed);
    p[i]._refcount.store(refs_each, sync::relaxed);
    // Publish the tail as its own folio: page_folio() no longer reaches the old head.
    p[i].compound_head.store(0, sync::release);
  }
  clear_bit_flag(p, PG_head);
  p->order = 0;
  p->_pincount.store(0, sync::relaxed);
  p->_entire_mapcount.store(-1, sync::relaxed);
}

static void free_folio(folio* f) {
  int order = folio_order(f);
  if (folio_test_reserved(f)) return;  // the zero page is never freed
  // __folio_put -> __page_cache_release: off the LRU (mm/swap.cpp) before the frame goes.
  if (folio_test_lru(f)) __folio_lru_release(f);
  __free_pages(&f->page, order);
}

void folio_put_refs(folio* f, int refs) {
  if (folio_ref_sub_and_test(f, refs)) free_folio(f);
}

void folio_put(folio* f) { folio_put_refs(f, 1); }

bool folio_put_refs_unless_below(folio* f, int refs, int min) {
  int r = folio_ref_sub_unless_below(f, refs, min);
  if (r > 0) free_folio(f);
  return r >= 0;
}

void bad_page(unsigned long pfn, const char* reason, unsigned counter) {
  count_event(static_cast<counter_id>(counter));
  if (g_hooks.bad_page) g_hooks.bad_page(g_hooks.ctx, pfn, reason);
}

bool page_in_memmap(const page* p) {
  if (!mem_map || p < mem_map || p >= mem_map + max_pfn) return false;
  // A pointer into the middle of a struct page is not a page either.
  auto off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(mem_map);
  return off % sizeof(page) == 0 && pfn_valid(page_to_pfn(p));
}

// ---- frame data ---------------------------------------------------------------------------
void frame_fill(unsigned long pfn, uint8_t byte) {
  auto* d = reinterpret_cast<uint64_t*>(pfn_to_virt(pfn));
  uint64_t w = 0x0101010101010101ull * byte;
  for (unsigned i = 0; i < PAGE_SIZE / 8; i++) sync::store(d + i, w, sync::relaxed);
}

void frame_zero(unsigned long pfn) { frame_fill(pfn, 0); }

void copy_user_highpage(unsigned long dst_pfn, unsigned long src_pfn) {
  auto* d = reinterpret_cast<uint64_t*>(pfn_to_virt(dst_pfn));
  auto* s = reinterpret_cast<const uint64_t*>(pfn_to_virt(src_pfn));
  // Races with device writes and user stores to the source (through pins or a stale TLB):
  // each word is whatever the source held when it was read, as with the kernel's copy.
  sync::load_words(d, s, PAGE_SIZE / 8);
}

void clear_user_highpage(unsigned long dst_pfn) { std::memset(pfn_to_virt(dst_pfn), 0, PAGE_SIZE); }

uint8_t frame_read_byte(unsigned long pfn, unsigned off) {
  return sync::load(pfn_to_virt(pfn) + off, sync::relaxed);
}

void frame_write_byte(unsigned long pfn, unsigned off, uint8_t v) {
  sync::store(pfn_to_virt(pfn) + off, v, sync::relaxed);
}

// A device's 8-byte DMA write (off 8-aligned): one access, as a bus write of a word.
void frame_write_word(unsigned long pfn, unsigned off, uint64_t v) {
  sync::store(reinterpret_cast<uint64_t*>(pfn_to_virt(pfn) + off), v, sync::relaxed);
}

GUPFAST_NS_END
