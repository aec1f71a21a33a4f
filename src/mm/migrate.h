// Page migration (mm/migrate.c: migrate_pages, migrate_folio_unmap, migrate_folio_move,
// __folio_migrate_mapping, remove_migration_ptes, migration_entry_wait), for anonymous
// folios: move each to a newly allocated frame, as move_pages(2)/compaction would.
//
// The handshake against GUP-fast is reclaim's (mm/vmscan.h), with migration entries in
// place of swap entries:
//   1. try_to_migrate: each PTE becomes a migration entry naming the old page (writable,
//      readable-exclusive or readable, remembering what the PTE allowed); AnonExclusive
//      pages are pin-checked after the clear ([PIN-CHECK]); flush
//   2. freeze the refcount at "isolation + swap cache" ([REF-FREEZE]); on failure restore
//      the old PTEs (remove_migration_ptes(old, old)) and back off
//   3. copy the data and state to the new folio, hand over the swap cache slot if any
//   4. remove_migration_ptes(old, new): map the new folio; free the old
// A fault (or GUP's slow path) that finds a migration entry waits for it to go away
// (migration_entry_wait) and retries.
#pragma once
#include "mm/mm.h"

GUPFAST_NS_BEGIN

struct migrate_stats {
  unsigned long nr_scanned = 0;        // folios tried (after a split: each small one)
  unsigned long nr_migrated = 0;       // pages moved to a new frame
  unsigned long nr_pinned = 0;         // maybe DMA-pinned: before or during the unmap
  unsigned long nr_busy = 0;           // locked or isolated elsewhere, or an mm contended
  unsigned long nr_freeze_failed = 0;  // an extra reference at the freeze
  unsigned long nr_nomem = 0;          // no frame for the copy
  unsigned long nr_split_failed = 0;   // a large folio that could not be split
  unsigned long nr_not_anon = 0;       // shmem or zero pages skipped
};

// migrate_range(): migrate every anonymous folio mapped in [start, start + len) of mm to a
// new frame (large folios are split first, as migrate_pages does when it cannot move them
// whole). Returns the pages migrated, or -EINVAL (bad range), -ENOMEM (no VMA in the
// range). `out` may be null. Context: the calling thread is a CPU (cpu_scope); no lock
// held (takes mmap_lock for read to find the folios, then drops it).
long migrate_range(mm_struct* mm, unsigned long start, unsigned long len, migrate_stats* out);

// migration_entry_wait(): the PTE at addr held a migration entry; wait until it does not.
// Context: mmap_lock held for read (so the VMA stays; the PTE table is re-found and its
// lock taken on each look).
void migration_entry_wait(mm_struct* mm, pmd_t* pmdp, unsigned long addr);

GUPFAST_NS_END
