// Transparent huge pages mapped by PMD leaves (mm/huge_memory.c).
#pragma once
#include "mm/mm.h"

GUPFAST_NS_BEGIN

inline constexpr vm_fault_t VM_FAULT_FALLBACK = 0x800;

// May addr's 2 MiB range be mapped by a leaf in this VMA (THP enabled, fully inside)?
bool thp_vma_suitable(vm_area_struct* vma, unsigned long addr);
// Context for all: mmap_lock held (read for faults, write for fork).
vm_fault_t do_huge_pmd_anonymous_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp);
vm_fault_t do_huge_pmd_wp_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, pmd_t orig, unsigned flags);
// split_huge_pmd(): the leaf becomes a PTE table mapping the same folio. 0 or -ENOMEM.
int __split_huge_pmd(vm_area_struct* vma, pmd_t* pmdp, unsigned long addr);
// zap_huge_pmd(): clear a leaf and hand its folio to the gather. false if the PMD is no
// longer a leaf under the PMD lock (a split under mmap_lock for read turned it into a PTE
// table since the caller looked): the caller zaps at PTE level instead.
bool zap_huge_pmd(mmu_gather* tlb, vm_area_struct* vma, pmd_t* pmdp, unsigned long addr);
// pgtable_trans_huge_deposit() / pgtable_trans_huge_withdraw() (mm/pgtable-generic.c): every
// PMD leaf keeps a PTE table in reserve, deposited on its PMD table's page (a LIFO list, as
// the kernel's pmd_huge_pte), so that a split never allocates and a collapse keeps the table
// it detached. Deposited at the huge fault, by collapse and by fork's copy; withdrawn by a
// split (it becomes the leaf's PTE table) and by the zap of the leaf, which frees it at once
// with pte_free(): no grace period, no IPI. That direct free is why collapse must sync with
// lockless walkers still inside the table it detaches (2ba99c5e0881, mm/khugepaged.cpp).
// Context: the PMD lock of pmdp.
void pgtable_trans_huge_deposit(mm_struct* mm, pmd_t* pmdp, page* pgtable);
page* pgtable_trans_huge_withdraw(mm_struct* mm, pmd_t* pmdp);
// 0, or -EAGAIN when the source was split (copy at PTE level instead), or -ENOMEM.
int copy_huge_pmd(vm_area_struct* dst_vma, vm_area_struct* src_vma, pmd_t* dst_pmdp, pmd_t* src_pmdp,
                  unsigned long addr);

GUPFAST_NS_END
