// Helpers of the khugepaged collapse and PT reclaim tests (tests/replacers/khugepaged_*.cpp,
// pt_reclaim_*.cpp): a 2 MiB region of small pages with a known pattern, a PMD split, and a
// pin registry that fails the test if a pinned frame is freed.
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "gup/gup_support.h"
#include "support/race_harness.h"
#include "mm/huge_memory.h"
#include "mm/khugepaged.h"
#include "mm/pt_reclaim.h"

namespace gupfast::test {

inline constexpr unsigned long HREGION = 0x40000000ul;  // 2 MiB aligned, one PMD entry

// The pattern byte of page i at offset off (never 0, so a zero-filled page differs).
inline uint8_t pattern(int i, unsigned off, uint8_t salt = 0) {
  return static_cast<uint8_t>((i * 7 + off * 3 + salt) % 251 + 1);
}
// Offsets of page i that the tests write and check.
inline unsigned pattern_off(int i, int k) { return k == 0 ? 0u : static_cast<unsigned>((i * 97 + k * 1031) % PAGE_SIZE); }
inline constexpr int PATTERN_BYTES = 3;

// What the 512 pages of the region hold: kinds of entries collapse must handle.
enum class slot : uint8_t { data, none, zero_page };
inline slot slot_kind(int i, bool holes) {
  if (!holes) return slot::data;
  if (i % 61 == 5) return slot::none;
  if (i % 67 == 9) return slot::zero_page;
  return slot::data;
}

// Write the pattern through the process's own stores (faulting pages in), read-fault the
// zero-page slots, leave the none slots alone.
inline void fill_region(mm_struct* mm, unsigned long base, bool holes, uint8_t salt = 0) {
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    unsigned long a = base + i * PAGE_SIZE;
    switch (slot_kind(i, holes)) {
      case slot::none: break;
      case slot::zero_page: ASSERT_EQ(load(mm, a), 0); break;
      case slot::data:
        for (int k = 0; k < PATTERN_BYTES; k++) ASSERT_EQ(mm_store(mm, a + pattern_off(i, k), pattern(i, pattern_off(i, k), salt)), 0);
        break;
    }
  }
}

// Read the region back through the process's loads; the first mismatch, or -1.
inline int check_region(mm_struct* mm, unsigned long base, bool holes, uint8_t salt = 0) {
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    unsigned long a = base + i * PAGE_SIZE;
    bool data = slot_kind(i, holes) == slot::data;
    for (int k = 0; k < PATTERN_BYTES; k++) {
      unsigned off = pattern_off(i, k);
      int want = data ? pattern(i, off, salt) : 0;
      if (load(mm, a + off) != want) return i;
    }
  }
  return -1;
}

// split_huge_pmd() of the leaf mapping addr: a PTE table mapping the same folio.
inline int split_pmd(mm_struct* mm, unsigned long addr) {
  mm->mmap_lock.down_read();
  vm_area_struct* v = vma_lookup(mm, addr);
  pmd_t* pmdp = mm_find_pmd(mm, addr);
  int r = (v && pmdp) ? __split_huge_pmd(v, pmdp, addr) : -EINVAL;
  mm->mmap_lock.up_read();
  return r;
}

// The PMD entry of addr, read under mmap_lock (0 if no PMD table).
inline pteval_t pmd_entry(mm_struct* mm, unsigned long addr) {
  mm->mmap_lock.down_read();
  pmd_t* pmdp = mm_find_pmd(mm, addr);
  pteval_t v = pmdp ? pmd_val(pmdp_get(pmdp)) : 0;
  mm->mmap_lock.up_read();
  return v;
}

}  // namespace gupfast::test
