// The swap-in fault (mm/memory.c: do_swap_page): a non-present, non-none PTE.
#pragma once
#include "mm/mm.h"

GUPFAST_NS_BEGIN

// do_swap_page(): orig is the swap-style entry handle_pte_fault read under the PTL. A swap
// entry maps the swap-cache folio (read back from the slot if it is not there); a migration
// entry waits for the migration (migration_entry_wait) and returns for a retry.
// Context: mmap_lock held for read; no PTL held.
vm_fault_t do_swap_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, pte_t orig, unsigned flags);

GUPFAST_NS_END
