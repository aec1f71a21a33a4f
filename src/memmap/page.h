// struct page and struct folio: the memmap entry of one frame, never freed.
//
// Jann Horn's point in the seed thread: GUP-fast may grab a reference on a page that was
// freed and reallocated since it read the PTE, and that is fine because the metadata that
// holds the refcount is never freed. So this array lives as long as the machine; only the
// frames it describes are recycled.
//
// Layout (64 bytes, as the kernel's struct page on x86-64):
//   flags          PG_* bits below
//   compound_head  tail page: address of the head page | 1; head or small page: 0
//   _refcount      references; 0 = free or frozen (see page_ref.h)
//   _mapcount      page-table mappings of this page - 1 (so -1 = unmapped)
//   _pincount      large folio head: FOLL_PIN pins (small folios count pins in _refcount)
//   _entire_mapcount large folio head: PMD mappings - 1
//   order          head: folio order (0..HPAGE_PMD_ORDER); free block: buddy order
//   ptl            page-table page: the split page-table lock (kernel: ptdesc->ptl)
//   mapping        anon folio: owner | PAGE_MAPPING_ANON; shmem: its object; table: its mm
//   index          anon/shmem: page offset; swapcache: swap entry
//   lru_next/prev  buddy free lists and LRU lists, as pfns (owner: zone or lru lock)
#pragma once
#include "sync/sync.h"

#include <cstddef>
#include <cstdint>

GUPFAST_NS_BEGIN

inline constexpr int PAGE_SHIFT = 12;
inline constexpr unsigned long PAGE_SIZE = 1ul << PAGE_SHIFT;
inline constexpr unsigned long PAGE_MASK = ~(PAGE_SIZE - 1);
inline constexpr int MAX_PAGE_ORDER = 10;                // buddy blocks of up to 4 MiB
inline constexpr uint32_t NO_PFN = UINT32_MAX;

enum pageflags : unsigned {
  PG_locked,
  PG_referenced,
  PG_uptodate,
  PG_dirty,
  PG_lru,
  PG_head,
  PG_swapcache,
  PG_anon_exclusive,  // kernel: PG_anon_exclusive aliases PG_mappedtodisk on anon pages
  PG_reserved,        // the shared zero page
  PG_buddy,           // kernel: a page_type; free block head in the buddy allocator
  PG_table,           // kernel: a page_type; page-table page
  PG_isolated,        // taken off the LRU by reclaim/migration/collapse
  PG_writeback,
  PG_unevictable,
  PG_free,            // every page of a free block (debug aid: catches double frees)
  PG_swapbacked,      // an anon folio's data lives only in RAM or swap; clear: MADV_FREE's lazyfree
  NR_PAGEFLAGS
};

inline constexpr unsigned long PAGE_MAPPING_ANON = 0x1;

struct mm_struct;

struct page {
  sync::atomic<unsigned long> flags;
  sync::atomic<unsigned long> compound_head;
  sync::atomic<int> _refcount;
  sync::atomic<int> _mapcount;
  sync::atomic<int> _pincount;
  sync::atomic<int> _entire_mapcount;
  uint8_t order;
  uint8_t pad_[3];
  sync::spinlock_t ptl;
  sync::atomic<unsigned long> mapping;
  sync::atomic<unsigned long> index;
  uint32_t lru_next;
  uint32_t lru_prev;
};
static_assert(sizeof(page) <= 64, "struct page must stay within 64 bytes");

// A folio is a head page (or a small page) seen as the owner of the whole compound.
// As in the kernel, struct folio overlays struct page: one is the other's first member.
struct folio {
  struct page page;
};
static_assert(sizeof(folio) == sizeof(page));

// ---- flags ------------------------------------------------------------------------------
inline bool test_bit_flag(const page* p, unsigned bit) { return p->flags.load(sync::relaxed) >> bit & 1; }
inline void set_bit_flag(page* p, unsigned bit) { p->flags.fetch_or(1ul << bit, sync::relaxed); }
inline void clear_bit_flag(page* p, unsigned bit) { p->flags.fetch_and(~(1ul << bit), sync::relaxed); }
// test_and_set with acquire: the folio lock's acquire side.
inline bool test_and_set_bit_lock(page* p, unsigned bit) {
  return p->flags.fetch_or(1ul << bit, sync::acquire) >> bit & 1;
}
inline void clear_bit_unlock(page* p, unsigned bit) { p->flags.fetch_and(~(1ul << bit), sync::release); }

#define GUPFAST_FOLIO_FLAG(name, bit)                                             \
  inline bool folio_test_##name(const folio* f) { return test_bit_flag(&f->page, bit); } \
  inline void folio_set_##name(folio* f) { set_bit_flag(&f->page, bit); }          \
  inline void folio_clear_##name(folio* f) { clear_bit_flag(&f->page, bit); }
GUPFAST_FOLIO_FLAG(referenced, PG_referenced)
GUPFAST_FOLIO_FLAG(uptodate, PG_uptodate)
GUPFAST_FOLIO_FLAG(dirty, PG_dirty)
GUPFAST_FOLIO_FLAG(lru, PG_lru)
GUPFAST_FOLIO_FLAG(swapcache, PG_swapcache)
GUPFAST_FOLIO_FLAG(reserved, PG_reserved)
GUPFAST_FOLIO_FLAG(isolated, PG_isolated)
GUPFAST_FOLIO_FLAG(writeback, PG_writeback)
GUPFAST_FOLIO_FLAG(swapbacked, PG_swapbacked)
#undef GUPFAST_FOLIO_FLAG

inline bool folio_test_locked(const folio* f) { return test_bit_flag(&f->page, PG_locked); }
inline bool folio_trylock(folio* f) { return !test_and_set_bit_lock(&f->page, PG_locked); }
inline void folio_lock(folio* f) {
  while (!folio_trylock(f)) sync::cpu_relax();
}
inline void folio_unlock(folio* f) { clear_bit_unlock(&f->page, PG_locked); }

// AnonExclusive is per page (each subpage of a large anon folio has its own bit).
inline bool PageAnonExclusive(const page* p) { return test_bit_flag(p, PG_anon_exclusive); }
inline void SetPageAnonExclusive(page* p) { set_bit_flag(p, PG_anon_exclusive); }
inline void ClearPageAnonExclusive(page* p) { clear_bit_flag(p, PG_anon_exclusive); }
inline bool PageTable(const page* p) { return test_bit_flag(p, PG_table); }
inline bool PageBuddy(const page* p) { return test_bit_flag(p, PG_buddy); }

// ---- compound pages -------------------------------------------------------------------
inline bool PageTail(const page* p) { return p->compound_head.load(sync::relaxed) & 1; }
inline bool PageHead(const page* p) { return test_bit_flag(p, PG_head); }

// page_folio(): the folio a page belongs to *now*. Lockless callers (GUP-fast) must
// recheck it after taking a reference: a THP split or a free + reallocation as part of
// another compound page changes it (see try_get_folio in gup/grab.cpp).
inline folio* page_folio(const page* p) {
  unsigned long head = p->compound_head.load(sync::relaxed);  // READ_ONCE
  if (head & 1) return reinterpret_cast<folio*>(head - 1);
  return reinterpret_cast<folio*>(const_cast<page*>(p));
}
inline page* compound_head(const page* p) { return &page_folio(p)->page; }
inline page* folio_page(folio* f, long n) { return &f->page + n; }
inline int folio_order(const folio* f) {
  return test_bit_flag(&f->page, PG_head) ? f->page.order : 0;
}
inline long folio_nr_pages(const folio* f) { return 1l << folio_order(f); }
inline bool folio_test_large(const folio* f) { return test_bit_flag(&f->page, PG_head); }

// ---- mapping ----------------------------------------------------------------------------
inline bool folio_test_anon(const folio* f) {
  return f->page.mapping.load(sync::relaxed) & PAGE_MAPPING_ANON;
}
inline unsigned long folio_mapping_raw(const folio* f) { return f->page.mapping.load(sync::relaxed); }

// ---- mapcounts ------------------------------------------------------------------------
inline int page_mapcount(const page* p) { return p->_mapcount.load(sync::relaxed) + 1; }
inline int folio_entire_mapcount(const folio* f) {
  return folio_test_large(f) ? f->page._entire_mapcount.load(sync::relaxed) + 1 : 0;
}
// Total mappings of a folio (PTE mappings of every subpage plus PMD mappings).
int folio_mapcount(const folio* f);
inline bool folio_mapped(const folio* f) { return folio_mapcount(f) > 0; }

GUPFAST_NS_END
