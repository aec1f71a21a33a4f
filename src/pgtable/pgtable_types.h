// x86-64 page-table entries: 4 levels (PGD -> PUD -> PMD -> PTE; the P4D level is folded,
// as on 4-level x86-64), 4 KiB pages; entries per table and so the PMD leaf size come from
// the geometry (pgtable/geometry.h: 512 and 2 MiB on x86-64).
//
// Entry bits are the hardware's (arch/x86/include/asm/pgtable_types.h):
//   0 present  1 RW  2 user  5 accessed  6 dirty  7 PSE (leaf at PMD level)  8 global /
//   protnone (only when not present)  9 special (software bit 1)  63 NX  12..51 pfn.
// In PAE mode the same 64-bit entry is written and read as two 32-bit halves (pgtable.h);
// the pfn then must fit 36-bit physical addresses (pfn < 2^24).
//
// Non-present, non-protnone entries that are not zero are swap-style entries: a type in
// bits 1..5 and an offset from bit 12 (swap slots, migration entries).
#pragma once
#include <cstdint>

#include "memmap/page.h"
#include "pgtable/geometry.h"

GUPFAST_NS_BEGIN

using pteval_t = uint64_t;

struct pte_t { pteval_t pte; };
struct pmd_t { pteval_t pmd; };
struct pud_t { pteval_t pud; };
struct pgd_t { pteval_t pgd; };

inline constexpr pteval_t _PAGE_PRESENT = 1ull << 0;
inline constexpr pteval_t _PAGE_RW = 1ull << 1;
inline constexpr pteval_t _PAGE_USER = 1ull << 2;
inline constexpr pteval_t _PAGE_ACCESSED = 1ull << 5;
inline constexpr pteval_t _PAGE_DIRTY = 1ull << 6;
inline constexpr pteval_t _PAGE_PSE = 1ull << 7;
inline constexpr pteval_t _PAGE_PROTNONE = 1ull << 8;  // aliases _PAGE_GLOBAL
inline constexpr pteval_t _PAGE_SPECIAL = 1ull << 9;   // _PAGE_SOFTW1
inline constexpr pteval_t _PAGE_NX = 1ull << 63;
inline constexpr pteval_t PTE_PFN_MASK = 0x000ffffffffff000ull;
inline constexpr pteval_t _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;

// Geometry: pgtable/geometry.h (x86-64's 512 entries per table, or the explorer's small one).
inline unsigned pgd_index(unsigned long a) { return (a >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1); }
inline unsigned pud_index(unsigned long a) { return (a >> PUD_SHIFT) & (PTRS_PER_PUD - 1); }
inline unsigned pmd_index(unsigned long a) { return (a >> PMD_SHIFT) & (PTRS_PER_PMD - 1); }
inline unsigned pte_index(unsigned long a) { return (a >> PAGE_SHIFT) & (PTRS_PER_PTE - 1); }

inline unsigned long pgd_addr_end(unsigned long a, unsigned long end) {
  unsigned long b = (a + PGDIR_SIZE) & PGDIR_MASK;
  return (b - 1 < end - 1) ? b : end;
}
inline unsigned long pud_addr_end(unsigned long a, unsigned long end) {
  unsigned long b = (a + PUD_SIZE) & PUD_MASK;
  return (b - 1 < end - 1) ? b : end;
}
inline unsigned long pmd_addr_end(unsigned long a, unsigned long end) {
  unsigned long b = (a + PMD_SIZE) & PMD_MASK;
  return (b - 1 < end - 1) ? b : end;
}

// ---- PTE values ------------------------------------------------------------------------
inline pteval_t pte_val(pte_t p) { return p.pte; }
inline pte_t __pte(pteval_t v) { return {v}; }
inline bool pte_none(pte_t p) { return p.pte == 0; }
// The kernel's pte_present() is true for protnone entries too (NUMA hinting, PROT_NONE).
inline bool pte_present(pte_t p) { return p.pte & (_PAGE_PRESENT | _PAGE_PROTNONE); }
inline bool pte_protnone(pte_t p) { return (p.pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE; }
inline bool pte_write(pte_t p) { return p.pte & _PAGE_RW; }
inline bool pte_dirty(pte_t p) { return p.pte & _PAGE_DIRTY; }
inline bool pte_young(pte_t p) { return p.pte & _PAGE_ACCESSED; }
inline bool pte_special(pte_t p) { return p.pte & _PAGE_SPECIAL; }
inline unsigned long pte_pfn(pte_t p) { return (p.pte & PTE_PFN_MASK) >> PAGE_SHIFT; }
inline pte_t pte_wrprotect(pte_t p) { return {p.pte & ~_PAGE_RW}; }
inline pte_t pte_mkwrite(pte_t p) { return {p.pte | _PAGE_RW}; }
inline pte_t pte_mkdirty(pte_t p) { return {p.pte | _PAGE_DIRTY}; }
inline pte_t pte_mkclean(pte_t p) { return {p.pte & ~_PAGE_DIRTY}; }
inline pte_t pte_mkyoung(pte_t p) { return {p.pte | _PAGE_ACCESSED}; }
inline pte_t pte_mkold(pte_t p) { return {p.pte & ~_PAGE_ACCESSED}; }
inline pte_t pte_mkspecial(pte_t p) { return {p.pte | _PAGE_SPECIAL}; }
// pte_access_permitted(): what the hardware (and GUP-fast) requires of a leaf.
inline bool pte_access_permitted(pte_t p, bool write) {
  pteval_t need = _PAGE_PRESENT | _PAGE_USER | (write ? _PAGE_RW : 0);
  return (p.pte & need) == need;
}

// Protections a VMA maps with (vm_get_page_prot). prot_none maps _PAGE_PROTNONE.
enum class pgprot : uint8_t { none, read, write };
inline pte_t pfn_pte(unsigned long pfn, pgprot prot) {
  if (prot == pgprot::none) return {(pteval_t(pfn) << PAGE_SHIFT) | _PAGE_PROTNONE | _PAGE_ACCESSED};
  pteval_t v = (pteval_t(pfn) << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX;
  if (prot == pgprot::write) v |= _PAGE_RW;
  return {v};
}

// ---- PMD values ------------------------------------------------------------------------
inline pteval_t pmd_val(pmd_t p) { return p.pmd; }
inline bool pmd_none(pmd_t p) { return p.pmd == 0; }
inline bool pmd_present(pmd_t p) { return p.pmd & (_PAGE_PRESENT | _PAGE_PSE | _PAGE_PROTNONE); }
inline bool pmd_leaf(pmd_t p) { return (p.pmd & _PAGE_PSE) != 0; }
inline bool pmd_trans_huge(pmd_t p) { return pmd_leaf(p); }
inline bool pmd_protnone(pmd_t p) { return (p.pmd & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE; }
inline bool pmd_write(pmd_t p) { return p.pmd & _PAGE_RW; }
inline bool pmd_special(pmd_t p) { return p.pmd & _PAGE_SPECIAL; }
inline unsigned long pmd_pfn(pmd_t p) { return (p.pmd & PTE_PFN_MASK) >> PAGE_SHIFT; }
// A table pointer, not a leaf and present (pmd_bad() is its negation for non-none).
inline bool pmd_table(pmd_t p) { return (p.pmd & (_PAGE_PRESENT | _PAGE_PSE)) == _PAGE_PRESENT; }
inline bool pmd_access_permitted(pmd_t p, bool write) {
  pteval_t need = _PAGE_PRESENT | _PAGE_USER | (write ? _PAGE_RW : 0);
  return (p.pmd & need) == need;
}
inline pmd_t pfn_pmd_table(unsigned long pfn) { return {(pteval_t(pfn) << PAGE_SHIFT) | _PAGE_TABLE}; }
inline pmd_t pfn_pmd_leaf(unsigned long pfn, pgprot prot) {
  return {pfn_pte(pfn, prot).pte | _PAGE_PSE};
}

inline pteval_t pud_val(pud_t p) { return p.pud; }
inline bool pud_none(pud_t p) { return p.pud == 0; }
inline bool pud_present(pud_t p) { return p.pud & _PAGE_PRESENT; }
inline unsigned long pud_pfn(pud_t p) { return (p.pud & PTE_PFN_MASK) >> PAGE_SHIFT; }
inline pteval_t pgd_val(pgd_t p) { return p.pgd; }
inline bool pgd_none(pgd_t p) { return p.pgd == 0; }
inline bool pgd_present(pgd_t p) { return p.pgd & _PAGE_PRESENT; }
inline unsigned long pgd_pfn(pgd_t p) { return (p.pgd & PTE_PFN_MASK) >> PAGE_SHIFT; }
inline pteval_t table_entry(unsigned long pfn) { return (pteval_t(pfn) << PAGE_SHIFT) | _PAGE_TABLE; }

GUPFAST_NS_END
