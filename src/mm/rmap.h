// Reverse mapping of anonymous folios (mm/rmap.c, include/linux/rmap.h): from a folio to
// every PTE that maps it, and the unmappers built on that walk: try_to_unmap (reclaim:
// swap entries), try_to_migrate (migration and split: migration entries),
// remove_migration_ptes, and folio_referenced.
//
// The machine's anon_vma is one list of mms per fork tree (mm/mm_types.h), and an anon
// folio's index is its virtual page number in every one of them, so the walk visits each
// mm of the list at the folio's address. Where the kernel's walk relies on the anon_vma
// lock keeping VMAs alive, ours takes each mm's mmap_lock with down_read_trylock under the
// anon_vma spinlock: a busy mm is skipped and reported (`contended`), never waited for.
// Fork appends the child after its parent (anon_vma_join), and a walk visits the list in
// order, which is what remove_migration_ptes relies on (see there).
#pragma once
#include <vector>

#include "mm/mm.h"
#include "mm/swapops.h"

GUPFAST_NS_BEGIN

// ---- anon_vma lifetime --------------------------------------------------------------------
// folio_get_anon_vma(): the folio's anon_vma with a reference, or nullptr if the folio is
// not anonymous or not mapped (then the pointer may be stale). Freed anon_vmas go through
// RCU (put_anon_vma), so reading folio->mapping under rcu_read_lock while the folio is
// mapped is safe. Context: the calling thread is a CPU (an RCU reader).
anon_vma* folio_get_anon_vma(folio* f);
void put_anon_vma(anon_vma* av);
// mmget_not_zero(): a user reference on an mm that has not started exiting.
bool mmget_not_zero(mm_struct* mm);

// ---- the walk ---------------------------------------------------------------------------------
struct rmap_walk_control {
  void* arg = nullptr;
  // Called for each private anonymous VMA that covers part of the folio's range, with that
  // part [start, end). Return false to stop the walk. Context: av->lock and the mm's
  // mmap_lock (read) held.
  bool (*rmap_one)(folio* f, vm_area_struct* vma, unsigned long start, unsigned long end, void* arg) = nullptr;
  bool contended = false;  // out: an mm's mmap_lock was busy, its mappings were not visited
  long nr_pages = 0;       // pages from the folio's index to walk; 0: folio_nr_pages
};
void rmap_walk(folio* f, anon_vma* av, rmap_walk_control* rwc);

// ---- deferred TLB flushes (TTU_BATCH_FLUSH; mm/rmap.c: tlbflush_unmap_batch) ---------------
// Unmappers clear PTEs and record the mm here instead of flushing each one; the caller
// flushes before the frames can be freed or their contents relied on. Holds an mm_users
// reference on each recorded mm until it is flushed.
struct tlbflush_unmap_batch {
  struct range {
    mm_struct* mm;
    unsigned long start, end;
  };
  std::vector<range> pending;
  bool writable = false;  // a cleared PTE was dirty: flush before writing the page out
};
// try_to_unmap_flush(): flush everything pending. Context: irqs on, no spinlock held.
void try_to_unmap_flush(tlbflush_unmap_batch* batch);
// try_to_unmap_flush_dirty(): flush if a dirty PTE was cleared (before pageout).
void try_to_unmap_flush_dirty(tlbflush_unmap_batch* batch);

// ---- unmappers ----------------------------------------------------------------------------------
enum class ttu_result : uint8_t {
  done,    // every mapping the walk could see was replaced
  busy,    // an mm was contended (its mappings were left alone)
  pinned,  // an AnonExclusive page may be pinned: its PTE was restored, walk aborted
  failed,  // no swap count could be taken (the slot vanished)
};

// [PIN-CHECK] __folio_try_share_anon_rmap(): may this AnonExclusive page stop being
// exclusive (be unmapped temporarily)? Only if it is not pinned. Context: the PTE that maps
// it is cleared (not present) and the PTL held. The full barrier orders our clear before
// the pin check; it pairs with [PIN-MB] in try_grab_folio_fast: either GUP-fast's PTE
// recheck sees our clear, or we see its pin. -EBUSY: pinned, restore the PTE.
inline int folio_try_share_anon_rmap_pte(folio* f, page* p) {
  sync::smp_mb();  // [SHARE-MB] the PTE clear before the pin check: pairs with [PIN-MB]
  if (folio_maybe_dma_pinned(f)) return -EBUSY;
  ClearPageAnonExclusive(p);  // clear_bit: unordered
  // [SHARE-AFTER] smp_mb__after_atomic(), "conceptually a smp_wmb() paired with the smp_rmb()
  // in gup_must_unshare()": the clear before the caller restores or replaces the PTE.
  sync::smp_mb__after_atomic();
  return 0;
}

// try_to_unmap(): replace every PTE mapping the (small, swap-cache) folio by its swap entry.
// Context: f locked, isolated, in the swap cache; av from folio_get_anon_vma.
ttu_result try_to_unmap(folio* f, anon_vma* av, tlbflush_unmap_batch* batch);
// try_to_migrate(): replace every PTE mapping a page of f by a migration entry for that
// page. PMD mappings must have been split (split_huge_pmd_folio). Context: f locked.
ttu_result try_to_migrate(folio* f, anon_vma* av, tlbflush_unmap_batch* batch);
// remove_migration_ptes(): map dst's pages where migration entries for src's pages are
// (dst == src: restore after a failed attempt; after a split, each page maps its new
// folio: pass the pre-split nr_pages). Retries busy mms until every entry is gone.
// Context: src (and dst) locked.
void remove_migration_ptes(folio* src, folio* dst, anon_vma* av, long nr_pages = 0);
// split_huge_pmd_folio(): split every PMD leaf that maps the large folio f (unmap_folio's
// TTU_SPLIT_HUGE_PMD). false if an mm was busy.
bool split_huge_pmd_folio(folio* f, anon_vma* av);
// folio_referenced(): young PTEs mapping f, clearing their accessed bits.
int folio_referenced(folio* f, anon_vma* av);

GUPFAST_NS_END
