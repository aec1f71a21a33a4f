// Address spaces: mmap/munmap/mprotect/madvise, faults, fork, exit, and the process's own
// loads and stores. Errors are negative errnos, as the kernel's syscalls return them.
#pragma once
#include <cstdint>

#include "mm/mm_types.h"
#include "tlb/mmu_gather.h"

GUPFAST_NS_BEGIN

// ---- lifetime ------------------------------------------------------------------------
mm_struct* mm_alloc();              // nullptr if out of memory
void mmget(mm_struct* mm);
void mmput(mm_struct* mm);          // last put: exit_mmap() and free
mm_struct* dup_mm(mm_struct* oldmm, int* err);  // fork: a copy-on-write child
// A new machine's address spaces are numbered from 1 again (their TLB context ids: the
// machine's TLBs start empty, tlb_reset). Context: no mm exists.
void mm_ids_reset();

// ---- syscalls ------------------------------------------------------------------------
// mmap: addr == 0 picks a free range; otherwise the range must be free (MAP_FIXED_NOREPLACE:
// -EEXIST). prot: PROT_READ_|PROT_WRITE_ or PROT_NONE_; flags: MAP_PRIVATE_ or MAP_SHARED_,
// optionally MAP_HUGE_THP (VM_HUGEPAGE). Returns the address or -EINVAL/-ENOMEM/-EEXIST.
long vm_mmap(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags);
// munmap: -EINVAL for unaligned, empty, wrapping or out-of-range; 0 otherwise (unmapping a
// hole is not an error, as in Linux, and changes nothing).
int vm_munmap(mm_struct* mm, unsigned long addr, unsigned long len);
// mprotect: -EINVAL for bad ranges/prot, -ENOMEM if the range has a hole (nothing changed).
int do_mprotect(mm_struct* mm, unsigned long addr, unsigned long len, int prot);
inline constexpr int MADV_DONTNEED_ = 4;
inline constexpr int MADV_FREE_ = 8;      // lazyfree (mm/lazyfree.h)
inline constexpr int MADV_HUGEPAGE_ = 14;  // mark VM_HUGEPAGE (khugepaged may collapse)
// madvise: -EINVAL for bad ranges/advice, -ENOMEM if the range has a hole (the mapped parts
// are still zapped or marked, as Linux does). DONTNEED also frees the PTE tables it empties
// when PT reclaim is on (mm/pt_reclaim.h).
int do_madvise(mm_struct* mm, unsigned long addr, unsigned long len, int advice);

// ---- faults --------------------------------------------------------------------------
using vm_fault_t = unsigned;
inline constexpr vm_fault_t VM_FAULT_OOM = 0x1;
inline constexpr vm_fault_t VM_FAULT_SIGBUS = 0x2;
inline constexpr vm_fault_t VM_FAULT_SIGSEGV = 0x40;
inline constexpr vm_fault_t VM_FAULT_RETRY = 0x400;
inline constexpr vm_fault_t VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV;
inline constexpr unsigned FAULT_FLAG_WRITE = 0x1;
inline constexpr unsigned FAULT_FLAG_UNSHARE = 0x400;  // break COW sharing without writing
// Context: mmap_lock held for read; the VMA permits the access.
vm_fault_t handle_mm_fault(vm_area_struct* vma, unsigned long addr, unsigned flags);
bool vma_access_permitted(const vm_area_struct* vma, bool write);

// ---- the process's own memory accesses ------------------------------------------------
// Through this CPU's TLB; a miss walks the tables; a missing or write-protected entry
// faults. -EFAULT is SIGSEGV (no VMA, or no permission), -ENOMEM is OOM.
// Context: the calling thread is a CPU (cpu_scope).
int mm_load(mm_struct* mm, unsigned long addr, uint8_t* val);
int mm_store(mm_struct* mm, unsigned long addr, uint8_t val);

// ---- page tables (locked paths) ---------------------------------------------------------
pud_t* pud_alloc(mm_struct* mm, pgd_t* pgdp, unsigned long addr);
pmd_t* pmd_alloc(mm_struct* mm, pud_t* pudp, unsigned long addr);
int __pte_alloc(mm_struct* mm, pmd_t* pmdp);
// The PMD entry covering addr, or nullptr if an upper level is missing. Context: mmap_lock.
pmd_t* mm_find_pmd(mm_struct* mm, unsigned long addr);
sync::spinlock_t* pmd_lockptr(mm_struct* mm, pmd_t* pmdp);
// Map and lock the PTE for addr: revalidates that *pmdp still points to the same table
// after taking its lock (Hugh Dickins's 2023 rule). nullptr if there is no PTE table.
pte_t* pte_offset_map_lock(mm_struct* mm, pmd_t* pmdp, unsigned long addr, sync::spinlock_t** ptlp);
// The folio a present PTE maps, or nullptr for the zero page (vm_normal_folio).
folio* vm_normal_folio(vm_area_struct* vma, unsigned long addr, pte_t pte);

// Unmap [start, end) of a VMA into the gather (unmap_page_range/zap_pte_range).
void unmap_page_range(mmu_gather* tlb, vm_area_struct* vma, unsigned long start, unsigned long end);
// Free the page tables under [start, end) that no VMA uses any more (free_pgtables).
// Context: mmap_lock held for write; the VMAs are already gone.
void free_pgtables(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end);
// fork's per-VMA page-table copy. Context: both mmap_locks held for write.
int copy_page_range(vm_area_struct* dst_vma, vm_area_struct* src_vma);

// Shared anonymous memory's page cache: the folio at index with a reference for the
// caller, allocated (zeroed) if absent. nullptr if out of memory.
folio* shmem_get_folio(shmem_object* s, unsigned long index);

// The anon rmap bookkeeping of a newly faulted or copied anonymous folio.
void folio_add_new_anon_rmap(folio* f, vm_area_struct* vma, unsigned long addr);

GUPFAST_NS_END
