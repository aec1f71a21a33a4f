// Swap-style page-table entries (include/linux/swapops.h, arch/x86/include/asm/pgtable_64.h):
// what a non-present, non-none PTE holds once reclaim or migration took the page away.
//
// Layout of such a PTE here (pgtable_types.h reserves it):
//   bit 0 (present) = 0, bit 8 (protnone) = 0
//   bits 1..5   type: 0 = the swap device; SWP_MIGRATION_* = a migration entry
//   bit 7       _PAGE_SWP_EXCLUSIVE (x86 uses _PAGE_PSE too): the swapped-out page was
//               AnonExclusive, so swap-in may map it exclusive (writable) again
//   bits 12..51 offset: the swap slot, or the pfn of the page being migrated
// The kernel keeps swp_entry_t apart from the PTE encoding; so do we: swp_entry_t.val is
// type << SWP_TYPE_SHIFT | offset.
#pragma once
#include "memmap/memmap.h"
#include "pgtable/pgtable_types.h"

GUPFAST_NS_BEGIN

struct swp_entry_t {
  unsigned long val = 0;
};
inline bool operator==(swp_entry_t a, swp_entry_t b) { return a.val == b.val; }

inline constexpr int SWP_TYPE_SHIFT = 58;  // of swp_entry_t.val, as the kernel's
inline constexpr unsigned long SWP_OFFSET_MASK = (1ul << SWP_TYPE_SHIFT) - 1;
inline constexpr unsigned MAX_SWAPFILES = 28;  // types 0..27 could be swap devices; we have one (type 0)
// Migration entry types, above the swap devices (kernel: MAX_SWAPFILES + n).
inline constexpr unsigned SWP_MIGRATION_READ = MAX_SWAPFILES;
inline constexpr unsigned SWP_MIGRATION_READ_EXCLUSIVE = MAX_SWAPFILES + 1;
inline constexpr unsigned SWP_MIGRATION_WRITE = MAX_SWAPFILES + 2;

inline constexpr pteval_t _PAGE_SWP_TYPE_MASK = 0x1full << 1;
inline constexpr pteval_t _PAGE_SWP_EXCLUSIVE = 1ull << 7;

inline swp_entry_t swp_entry(unsigned type, unsigned long offset) {
  return {static_cast<unsigned long>(type) << SWP_TYPE_SHIFT | (offset & SWP_OFFSET_MASK)};
}
inline unsigned swp_type(swp_entry_t e) { return static_cast<unsigned>(e.val >> SWP_TYPE_SHIFT); }
inline unsigned long swp_offset(swp_entry_t e) { return e.val & SWP_OFFSET_MASK; }

// ---- PTE <-> entry -----------------------------------------------------------------------
// is_swap_pte(): neither none nor present (protnone counts as present).
inline bool is_swap_pte(pte_t p) { return !pte_none(p) && !pte_present(p); }
inline swp_entry_t pte_to_swp_entry(pte_t p) {
  return swp_entry(static_cast<unsigned>((p.pte & _PAGE_SWP_TYPE_MASK) >> 1), (p.pte & PTE_PFN_MASK) >> PAGE_SHIFT);
}
inline pte_t swp_entry_to_pte(swp_entry_t e) {
  return {(pteval_t(swp_type(e)) << 1 & _PAGE_SWP_TYPE_MASK) | (pteval_t(swp_offset(e)) << PAGE_SHIFT & PTE_PFN_MASK)};
}
inline bool pte_swp_exclusive(pte_t p) { return p.pte & _PAGE_SWP_EXCLUSIVE; }
inline pte_t pte_swp_mkexclusive(pte_t p) { return {p.pte | _PAGE_SWP_EXCLUSIVE}; }
inline pte_t pte_swp_clear_exclusive(pte_t p) { return {p.pte & ~_PAGE_SWP_EXCLUSIVE}; }

// ---- kinds ---------------------------------------------------------------------------------
// non_swap_entry(): a special entry (migration), not a swap slot.
inline bool non_swap_entry(swp_entry_t e) { return swp_type(e) >= MAX_SWAPFILES; }
inline bool is_migration_entry(swp_entry_t e) {
  unsigned t = swp_type(e);
  return t == SWP_MIGRATION_READ || t == SWP_MIGRATION_READ_EXCLUSIVE || t == SWP_MIGRATION_WRITE;
}
inline bool is_writable_migration_entry(swp_entry_t e) { return swp_type(e) == SWP_MIGRATION_WRITE; }
inline bool is_readable_migration_entry(swp_entry_t e) { return swp_type(e) == SWP_MIGRATION_READ; }
inline bool is_readable_exclusive_migration_entry(swp_entry_t e) {
  return swp_type(e) == SWP_MIGRATION_READ_EXCLUSIVE;
}
// A migration entry for a PTE: the page stays AnonExclusive across the migration if the
// entry is writable or readable-exclusive (the bit lives in the entry while unmapped).
inline swp_entry_t make_readable_migration_entry(unsigned long pfn) { return swp_entry(SWP_MIGRATION_READ, pfn); }
inline swp_entry_t make_readable_exclusive_migration_entry(unsigned long pfn) {
  return swp_entry(SWP_MIGRATION_READ_EXCLUSIVE, pfn);
}
inline swp_entry_t make_writable_migration_entry(unsigned long pfn) { return swp_entry(SWP_MIGRATION_WRITE, pfn); }
// swp_offset_pfn(): the pfn a migration entry points to.
inline unsigned long swp_offset_pfn(swp_entry_t e) { return swp_offset(e); }
inline page* pfn_swap_entry_to_page(swp_entry_t e) { return pfn_to_page(swp_offset_pfn(e)); }

GUPFAST_NS_END
