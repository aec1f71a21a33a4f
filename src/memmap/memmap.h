// The physical machine: frames, the memmap, NUMA nodes and the buddy allocator.
//
// Frames and the memmap are reserved as virtual memory up front (MAP_NORESERVE) and backed
// lazily by the host, so a 16 GiB machine costs only what it touches. The allocator hands
// out never-used memory from the top of each node downwards (so physical addresses above
// 4 GiB occur as soon as the machine is larger than that, which PAE mode must handle) and
// recycles freed blocks LIFO, so a freed frame really is the next one reused.
//
// One node, or two: node 1 then starts at 4 GiB (or right after node 0 if that is higher)
// and holds a quarter of the frames, with a hole in the physical address space between the
// nodes. Every CPU sits on node 0 (node 1 is memory only); allocations prefer node 0 and
// fall back to node 1, and migration moves a page to the other node. Two nodes give even a
// small machine frame numbers that differ in a PAE entry's high half.
#pragma once
#include "memmap/page.h"
#include "memmap/page_ref.h"

GUPFAST_NS_BEGIN

using gfp_t = unsigned;
inline constexpr gfp_t __GFP_ZERO = 0x1;
inline constexpr gfp_t GFP_KERNEL = 0;
inline constexpr gfp_t GFP_HIGHUSER = 0;

inline constexpr uint8_t PAGE_POISON = 0xaa;  // freed frames and tables in debug builds

// Events the oracle (and tests) may observe. Called with no lock held that matters.
struct memmap_hooks {
  void (*frame_freed)(void* ctx, unsigned long pfn, int order) = nullptr;
  void (*frame_allocated)(void* ctx, unsigned long pfn, int order) = nullptr;
  void* ctx = nullptr;
  // A refcount or free-list inconsistency (the kernel's bad_page()).
  void (*bad_page)(void* ctx, unsigned long pfn, const char* reason) = nullptr;
};

inline constexpr int MAX_NUMNODES = 2;
inline constexpr int NUMA_NO_NODE = -1;
inline constexpr unsigned long PHYSMEM_MIN_FRAMES = 256;  // 1 MiB (the explorer's small machines)
inline constexpr unsigned long NODE1_MIN_START_PFN = 1ul << 20;  // 4 GiB

struct physmem_stats {
  unsigned long nr_frames;     // present frames (holes excluded)
  unsigned long nr_free;       // frames in free lists or never used
  unsigned long allocs;        // blocks handed out
  unsigned long frees;         // blocks returned
};

// Create/destroy the machine's physical memory: nr_frames present frames on nr_nodes (1 or
// 2) nodes. One per process at a time (the memmap is global, as the kernel's mem_map).
// Returns 0, -EBUSY if one exists, -EINVAL for a bad size or node count (or a layout whose
// frame numbers do not fit PAE's 36-bit physical addresses), -ENOMEM if the host cannot
// reserve it.
int physmem_init(unsigned long nr_frames, bool poison, int nr_nodes = 1);
void physmem_exit();
bool physmem_active();
physmem_stats physmem_get_stats();
void physmem_set_hooks(const memmap_hooks& hooks);
// For the explorer's snapshots (explore/world.h), not machine state: told of every block the
// allocator hands out; and where each node's carved part begins (the memmap below it is
// untouched).
extern void (*physmem_alloc_observer)(unsigned long pfn, int order);
unsigned long physmem_carved_start(int nid);

// ---- pfn <-> page <-> address ----------------------------------------------------------
extern page* mem_map;
extern uint8_t* frames_base;
extern unsigned long max_pfn;  // one past the last node's last frame

// NODE_DATA(nid): where node nid's frames are. The memmap covers [0, max_pfn), holes too
// (FLATMEM): pfn_to_page() is plain arithmetic, pfn_valid() says whether RAM is there.
struct pglist_data {
  unsigned long node_start_pfn;
  unsigned long node_present_pages;
};
extern pglist_data node_data[MAX_NUMNODES];
extern int nr_online_nodes;
inline const pglist_data* NODE_DATA(int nid) { return &node_data[nid]; }
inline unsigned long node_end_pfn(int nid) { return node_data[nid].node_start_pfn + node_data[nid].node_present_pages; }

inline page* pfn_to_page(unsigned long pfn) { return mem_map + pfn; }
inline unsigned long page_to_pfn(const page* p) { return static_cast<unsigned long>(p - mem_map); }
inline unsigned long folio_pfn(const folio* f) { return page_to_pfn(&f->page); }
// The node holding pfn, or -1 for a hole or beyond the last node.
inline int pfn_to_nid(unsigned long pfn) {
  for (int nid = 0; nid < nr_online_nodes; nid++)
    if (pfn >= node_data[nid].node_start_pfn && pfn < node_end_pfn(nid)) return nid;
  return -1;
}
inline bool pfn_valid(unsigned long pfn) { return pfn_to_nid(pfn) >= 0; }
inline int folio_nid(const folio* f) { return pfn_to_nid(folio_pfn(f)); }
// The CPU's node: every CPU of the machine sits on node 0.
inline int numa_node_id() { return 0; }
inline uint8_t* pfn_to_virt(unsigned long pfn) { return frames_base + (pfn << PAGE_SHIFT); }
inline uint8_t* page_address(const page* p) { return pfn_to_virt(page_to_pfn(p)); }
inline unsigned long virt_to_pfn(const void* v) {
  return static_cast<unsigned long>(static_cast<const uint8_t*>(v) - frames_base) >> PAGE_SHIFT;
}

// The shared zero page (kernel: ZERO_PAGE / my_zero_pfn). Reserved, never freed.
extern unsigned long zero_pfn;
inline bool is_zero_pfn(unsigned long pfn) { return pfn == zero_pfn; }
inline bool is_zero_folio(const folio* f) { return folio_pfn(f) == zero_pfn; }

// ---- allocation ------------------------------------------------------------------------
// A block of 2^order frames, refcount 1 on the first page, or nullptr (-ENOMEM): from
// node nid if it has one, else from the next node that does (the zonelist's fallback).
page* alloc_pages_node(int nid, gfp_t gfp, int order);
inline page* alloc_pages(gfp_t gfp, int order) { return alloc_pages_node(numa_node_id(), gfp, order); }
void __free_pages(page* p, int order);
// A folio of 2^order pages (compound if order > 0), refcount 1, mapcounts -1.
folio* __folio_alloc_node(gfp_t gfp, int order, int nid);
inline folio* folio_alloc(gfp_t gfp, int order) { return __folio_alloc_node(gfp, order, numa_node_id()); }
// Drop a reference; the last one frees the folio (__folio_put).
void folio_put(folio* f);
void folio_put_refs(folio* f, int refs);
// folio_put_refs() unless the count is below min: then nothing changes and it returns false
// (the caller releases references it does not hold; it reports that with bad_page()).
bool folio_put_refs_unless_below(folio* f, int refs, int min);
// bad_page(): report a refcount inconsistency (the counter_id `counter`, the oracle's hook) and leave
// the page as it is rather than make it worse.
void bad_page(unsigned long pfn, const char* reason, unsigned counter);
// Is p a struct page of this machine's memmap (a present frame)?
bool page_in_memmap(const page* p);
// The last put of a folio on the LRU takes it off the list first (mm/swap.cpp).
void __folio_lru_release(folio* f);
inline void put_page(page* p) { folio_put(page_folio(p)); }
// Split a large folio's compound bookkeeping into 2^order small folios with the given
// refcount each (used by split_folio under a frozen refcount).
void folio_uncompound(folio* f, int refs_each);

// Frame data, accessed as the process and devices would: in 8-byte words, relaxed atomics
// (racing DMA and user access to the same bytes is a data race on real hardware too).
void frame_zero(unsigned long pfn);
void frame_fill(unsigned long pfn, uint8_t byte);
uint8_t frame_read_byte(unsigned long pfn, unsigned off);
void frame_write_byte(unsigned long pfn, unsigned off, uint8_t v);
void frame_write_word(unsigned long pfn, unsigned off, uint64_t v);  // off 8-aligned
// The same into a frame nobody else can reach yet (a new folio before the PTE, PMD or swap
// cache entry that publishes it, and before that publication's smp_wmb): the source is
// still read word by word as above (a device may be writing it), the destination is
// written as plain memory. Under the model backend those stores are no scheduling points:
// no other fiber can observe them before the publication, which is one.
void copy_user_highpage(unsigned long dst_pfn, unsigned long src_pfn);
void clear_user_highpage(unsigned long dst_pfn);

GUPFAST_NS_END
