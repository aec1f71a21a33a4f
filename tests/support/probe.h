// Test probes shared by every suite: what the page tables map at an address, and the
// process's view of one byte.
#pragma once
#include <cstdint>

#include "mm/mm.h"

namespace gupfast::test {

// What maps addr in mm, read under mmap_lock: the pfn of the 4 KiB page (inside a PMD leaf
// too) and the entry's bits. present == false if nothing usable is mapped.
struct mapping_info {
  bool present = false;
  bool leaf = false;  // mapped by a PMD leaf
  bool write = false;
  unsigned long pfn = 0;
};

// Context: the caller does not hold mm's mmap_lock for write.
inline mapping_info lookup(mm_struct* mm, unsigned long addr) {
  mapping_info r;
  mm->mmap_lock.down_read();
  if (pmd_t* pmdp = mm_find_pmd(mm, addr)) {
    pmd_t pmd = pmdp_get(pmdp);
    if (pmd_leaf(pmd) && (pmd.pmd & _PAGE_PRESENT)) {
      r = {true, true, pmd_write(pmd), pmd_pfn(pmd) + pte_index(addr)};
    } else if (pmd_table(pmd)) {
      pte_t pte = ptep_get(pte_offset_lockless(pmd, addr));
      if (pte_present(pte) && !pte_protnone(pte)) r = {true, false, pte_write(pte), pte_pfn(pte)};
    }
  }
  mm->mmap_lock.up_read();
  return r;
}

// The pfn mapped at addr, or -1.
inline long mapped_pfn(mm_struct* mm, unsigned long addr) {
  mapping_info m = lookup(mm, addr);
  return m.present ? static_cast<long>(m.pfn) : -1;
}

// One byte loaded by the process, or -errno.
inline int load(mm_struct* mm, unsigned long addr) {
  uint8_t v = 0;
  int r = mm_load(mm, addr, &v);
  return r ? r : v;
}

}  // namespace gupfast::test
