// Splitting a large anonymous folio into small ones (mm/huge_memory.c: split_folio,
// split_huge_page_to_list_to_order, can_split_folio, unmap_folio, __split_huge_page,
// remap_page).
//
// The sequence, and what each step is against:
//   1. can_split_folio(): racy pre-check; any reference beyond mappings + the caller's (a
//      pin, a GUP-fast transient reference) -> -EAGAIN, nothing touched
//   2. unmap_folio(): split PMD leaves into PTE tables, then turn every PTE of every page
//      into a migration entry (try_to_migrate, with the AnonExclusive pin check), flush
//   3. folio_ref_freeze(folio, 1 + swap cache): exclusive from here; failure restores the
//      PTEs (remap_page) and returns -EAGAIN
//   4. __split_huge_page(): every tail's compound_head stops pointing at the head -- the
//      change GUP-fast's page->folio recheck (try_get_folio) exists for -- and each tail
//      becomes a folio of its own, refcount frozen until it is set up
//   5. unfreeze, remap every page to its own folio (remove_migration_ptes), unlock tails
#pragma once
#include <vector>

#include "mm/mm.h"

GUPFAST_NS_BEGIN

// split_folio_to_list(): split f into order-0 folios. The caller holds f locked and one
// reference (its isolation reference if `list` is given: the tails are then appended to
// list, isolated, one reference each, unlocked; otherwise they join the LRU next to f).
// f itself stays locked with the caller's reference, as its first page's folio.
// Context: a CPU; no spinlock or mmap_lock held.
// Returns 0; -EAGAIN (extra references or pins, a contended mm, or the freeze failed:
// nothing changed, try later); -EBUSY (no anon_vma: not mapped); -EINVAL (not a large
// anonymous folio).
int split_folio_to_list(folio* f, std::vector<folio*>* list);

// split_folio_at(): split the large folio mapped at addr in mm (as the debugfs
// split_huge_pages interface). 0, -EFAULT (no VMA), -EINVAL (not a large anonymous folio),
// -EAGAIN / -EBUSY as above. Context: the calling thread is a CPU (cpu_scope); no lock
// held (takes mmap_lock for read to find the folio, then drops it).
int split_folio_at(mm_struct* mm, unsigned long addr);

GUPFAST_NS_END
