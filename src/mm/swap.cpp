// The LRU list (mm/swap.c: folio_add_lru, __page_cache_release; mm/vmscan.c:
// folio_isolate_lru, isolate_lru_folios; mm/huge_memory.c: lru_add_split_folio).
//
// One list for the machine (the kernel has one per memcg and node, split active/inactive
// and anon/file). Linked through struct page's lru_next/lru_prev as pfns, under lru_lock;
// newest at the head, reclaim scans from the tail.
//
// PG_lru says "on the list" and is what isolators race for: whoever clears it (atomically)
// takes the folio off the list. Isolating needs a reference first (folio_get by a holder,
// or folio_try_get under lru_lock by the scanner); the free path runs at refcount 0, when
// no isolator can hold one, so the two never both own a folio.
#include "machine/counters.h"
#include "mm/swap.h"

GUPFAST_NS_BEGIN

namespace {

struct lru_list {
  sync::spinlock_t lock;  // lru_lock (lruvec->lru_lock)
  uint32_t head = NO_PFN, tail = NO_PFN;
  unsigned long nr = 0;
};
GUPFAST_WORLD lru_list g_lru;

bool folio_test_clear_lru(folio* f) {
  return f->page.flags.fetch_and(~(1ul << PG_lru), sync::acq_rel) >> PG_lru & 1;
}

// Context: lru_lock held. Insert f after `pos` (towards the tail), or at the head.
void lru_link_after(folio* f, uint32_t pos) {
  uint32_t pfn = static_cast<uint32_t>(folio_pfn(f));
  page* p = &f->page;
  if (pos == NO_PFN) {
    p->lru_prev = NO_PFN;
    p->lru_next = g_lru.head;
    if (g_lru.head != NO_PFN) pfn_to_page(g_lru.head)->lru_prev = pfn;
    g_lru.head = pfn;
    if (g_lru.tail == NO_PFN) g_lru.tail = pfn;
  } else {
    page* q = pfn_to_page(pos);
    p->lru_prev = pos;
    p->lru_next = q->lru_next;
    if (q->lru_next != NO_PFN)
      pfn_to_page(q->lru_next)->lru_prev = pfn;
    else
      g_lru.tail = pfn;
    q->lru_next = pfn;
  }
  g_lru.nr++;
}

// Context: lru_lock held; f is on the list.
void lru_unlink(folio* f) {
  page* p = &f->page;
  if (p->lru_prev != NO_PFN)
    pfn_to_page(p->lru_prev)->lru_next = p->lru_next;
  else
    g_lru.head = p->lru_next;
  if (p->lru_next != NO_PFN)
    pfn_to_page(p->lru_next)->lru_prev = p->lru_prev;
  else
    g_lru.tail = p->lru_prev;
  p->lru_next = p->lru_prev = NO_PFN;
  g_lru.nr--;
}

}  // namespace

void lru_init() {
  g_lru.head = g_lru.tail = NO_PFN;
  g_lru.nr = 0;
}

void folio_add_lru(folio* f) {
  sync::spin_lock(&g_lru.lock);
  folio_set_lru(f);
  lru_link_after(f, NO_PFN);
  sync::spin_unlock(&g_lru.lock);
}

bool folio_isolate_lru(folio* f) {
  // Races with other isolators and the scanner: the one that clears PG_lru owns the unlink.
  if (!folio_test_clear_lru(f)) return false;
  folio_get(f);
  sync::spin_lock(&g_lru.lock);
  lru_unlink(f);
  sync::spin_unlock(&g_lru.lock);
  return true;
}

void folio_putback_lru(folio* f) {
  folio_add_lru(f);
  folio_put(f);
}

unsigned long isolate_lru_folios(unsigned long nr_to_scan, std::vector<folio*>* out) {
  std::vector<folio*> lost;  // won a reference but lost the PG_lru race: put after unlock
  unsigned long scanned = 0;
  sync::spin_lock(&g_lru.lock);
  uint32_t pfn = g_lru.tail;
  while (pfn != NO_PFN && scanned < nr_to_scan) {
    folio* f = reinterpret_cast<folio*>(pfn_to_page(pfn));
    pfn = f->page.lru_prev;
    scanned++;
    // A folio whose count already reached 0 is being freed; its freer unlinks it.
    if (!folio_try_get(f)) continue;
    if (!folio_test_clear_lru(f)) {
      lost.push_back(f);  // an isolator cleared PG_lru and waits for our lock to unlink
      continue;
    }
    lru_unlink(f);
    out->push_back(f);
  }
  sync::spin_unlock(&g_lru.lock);
  // Not under lru_lock: the last put frees, and freeing an LRU folio takes lru_lock.
  for (folio* f : lost) folio_put(f);
  return scanned;
}

void __folio_lru_release(folio* f) {
  // Refcount 0: no isolator holds a reference, so PG_lru is ours to clear.
  if (!folio_test_clear_lru(f)) return;
  sync::spin_lock(&g_lru.lock);
  lru_unlink(f);
  sync::spin_unlock(&g_lru.lock);
}

bool lru_add_split_folio(folio* head, folio* tail, std::vector<folio*>* list) {
  sync::spin_lock(&g_lru.lock);
  bool to_list = false;
  if (folio_test_lru(head)) {
    // The head is on the list (and frozen, so nobody can isolate it now).
    folio_set_lru(tail);
    lru_link_after(tail, static_cast<uint32_t>(folio_pfn(head)));
  } else if (list) {
    list->push_back(tail);
    to_list = true;
  }
  sync::spin_unlock(&g_lru.lock);
  return to_list;
}

unsigned long lru_nr_folios() {
  sync::spin_lock(&g_lru.lock);
  unsigned long n = g_lru.nr;
  sync::spin_unlock(&g_lru.lock);
  return n;
}

GUPFAST_NS_END
