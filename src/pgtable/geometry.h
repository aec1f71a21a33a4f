// Page-table geometry: how many entries a table has at each level, and so how much a PMD
// leaf maps and how many pages a PMD-sized THP folio has.
//
//   x86-64   512 entries at every level (4-level paging, 4 KiB pages): a PMD leaf maps
//            2 MiB, a THP is 512 pages, the user half of the address space is 128 TiB.
//            The default for the machine, stress, bench and demo.
//   small    16 entries at every level: a PMD leaf maps 64 KiB, a THP is 16 pages, the
//            user half is 128 MiB. The explorer's default (docs/explore.md, "Geometry"):
//            a split, a collapse or a fork of a huge page walks 16 entries, not 512.
//
// The kernel reads most of these as compile-time constants, but not all: x86 with 5-level
// paging reads PGDIR_SHIFT and PTRS_PER_P4D from variables set at boot (pgdir_shift,
// ptrs_per_p4d, arch/x86/include/asm/pgtable_64_types.h, since 4.17). Here the whole
// geometry is such a variable, set once by machine_create() before anything maps memory;
// the kernel's names below read it. Code that must size an array at compile time uses the
// *_MAX bounds.
#pragma once
#include <optional>
#include <string_view>

#include "memmap/page.h"

GUPFAST_NS_BEGIN

enum class pgtable_geometry : uint8_t { x86_64, small };
const char* to_string(pgtable_geometry g);  // "x86-64", "small"
std::optional<pgtable_geometry> parse_geometry(std::string_view s);

// The active geometry, as derived values (geometry.cpp keeps them consistent).
struct geometry_values {
  pgtable_geometry kind;
  int table_bits;  // log2 of the entries per table (the same at every level)
  int ptrs_per_table;
  int pmd_shift, pud_shift, pgdir_shift;
  unsigned long pmd_size, pmd_mask, pud_size, pud_mask, pgdir_size, pgdir_mask;
  unsigned long task_size;
  int hpage_pmd_order, hpage_pmd_nr;
  unsigned long hpage_pmd_size;
};
extern geometry_values g_geometry;
// Make g the active geometry. Context: no machine exists (machine_create calls it).
void geometry_set(pgtable_geometry g);
geometry_values geometry_of(pgtable_geometry g);

// x86-64 coordinates. A smaller geometry is the x86-64 machine with every table cut to its
// first entries: the user address whose table indices are (pgd, pud, pmd, pte) and page
// offset o in geometry g is the x86-64 address with the same indices and offset. So an
// address written for x86-64 keeps its meaning (the same tables shared, the same huge page,
// the same subpage) exactly when each of its indices exists in g. Litmus files are written
// in x86-64 coordinates; reports print them.
unsigned long addr_to_x86_64(pgtable_geometry g, unsigned long a);
// The address of g at x86-64 address x, or nullopt if one of x's table indices is beyond g's
// tables. `end`: x is the exclusive end of a range (its last byte's address + 1), so
// 0x210000 ends the range of PTE indices 0..15 even where index 16 does not exist.
std::optional<unsigned long> addr_from_x86_64(pgtable_geometry g, unsigned long x, bool end = false);

inline constexpr int PTRS_PER_TABLE_MAX = 512;
inline constexpr int HPAGE_PMD_ORDER_MAX = 9;
inline constexpr int HPAGE_PMD_NR_MAX = 1 << HPAGE_PMD_ORDER_MAX;

// The kernel's names, read from the active geometry.
inline const int& PTRS_PER_PTE = g_geometry.ptrs_per_table;
inline const int& PTRS_PER_PMD = g_geometry.ptrs_per_table;
inline const int& PTRS_PER_PUD = g_geometry.ptrs_per_table;
inline const int& PTRS_PER_PGD = g_geometry.ptrs_per_table;
inline const int& PMD_SHIFT = g_geometry.pmd_shift;
inline const int& PUD_SHIFT = g_geometry.pud_shift;
inline const int& PGDIR_SHIFT = g_geometry.pgdir_shift;
inline const unsigned long& PMD_SIZE = g_geometry.pmd_size;
inline const unsigned long& PMD_MASK = g_geometry.pmd_mask;
inline const unsigned long& PUD_SIZE = g_geometry.pud_size;
inline const unsigned long& PUD_MASK = g_geometry.pud_mask;
inline const unsigned long& PGDIR_SIZE = g_geometry.pgdir_size;
inline const unsigned long& PGDIR_MASK = g_geometry.pgdir_mask;
// The user half of the address space, minus the guard page (x86-64: TASK_SIZE_MAX).
inline const unsigned long& TASK_SIZE = g_geometry.task_size;
inline const int& HPAGE_PMD_ORDER = g_geometry.hpage_pmd_order;
inline const int& HPAGE_PMD_NR = g_geometry.hpage_pmd_nr;
inline const unsigned long& HPAGE_PMD_SIZE = g_geometry.hpage_pmd_size;
// What one entry of a table at `level` maps, as a shift: 1 PTE, 2 PMD, 3 PUD, 4 PGD.
inline int pgtable_level_shift(int level) { return PAGE_SHIFT + (level - 1) * g_geometry.table_bits; }
// Folios come in orders 0 .. HPAGE_PMD_ORDER (no mTHP yet).
inline const int& MAX_FOLIO_ORDER = g_geometry.hpage_pmd_order;

GUPFAST_NS_END
