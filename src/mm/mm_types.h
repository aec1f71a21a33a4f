// mm_struct and vm_area_struct (include/linux/mm_types.h), reduced to what the machine
// models: private and shared anonymous memory, read-only or read-write, optionally THP.
#pragma once
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "memmap/memmap.h"
#include "pgtable/pgtable.h"
#include "sync/seqlock.h"

GUPFAST_NS_BEGIN

// vm_flags
inline constexpr unsigned long VM_READ = 0x1;
inline constexpr unsigned long VM_WRITE = 0x2;
inline constexpr unsigned long VM_SHARED = 0x8;
inline constexpr unsigned long VM_MAYREAD = 0x10;
inline constexpr unsigned long VM_MAYWRITE = 0x20;
inline constexpr unsigned long VM_HUGEPAGE = 0x20000000;

// PROT_* and MAP_* of our mmap(2).
inline constexpr int PROT_NONE_ = 0, PROT_READ_ = 1, PROT_WRITE_ = 2;
inline constexpr int MAP_PRIVATE_ = 0x02, MAP_SHARED_ = 0x01, MAP_HUGE_THP = 0x40000;

// mm->flags
inline constexpr unsigned MMF_HAS_PINNED = 27;

struct mm_struct;

// Shared anonymous memory is a shmem object (kernel: a file in shmem's tmpfs): a page
// cache of folios, each holding one reference for the cache.
struct shmem_object {
  sync::spinlock_t lock;
  std::unordered_map<unsigned long, folio*> cache;  // page index -> folio; under lock
  sync::atomic<long> refs{1};                       // VMAs mapping it
  unsigned long nr_pages = 0;
};
void shmem_get(shmem_object* s);
void shmem_put(shmem_object* s);

// Reverse map for anonymous folios (kernel: anon_vma). A fork tree shares one: the mms
// that may map a folio of it, at the folio's index. Over-approximate, hence correct.
struct anon_vma {
  sync::spinlock_t lock;
  std::vector<mm_struct*> mms;  // under lock
  sync::atomic<long> refcount{1};
};

struct vm_area_struct {
  unsigned long vm_start = 0, vm_end = 0;
  unsigned long vm_flags = 0;
  unsigned long vm_pgoff = 0;       // shared: page offset into the shmem object
  shmem_object* vm_file = nullptr;  // shared anonymous mappings
  // mbind(MPOL_PREFERRED): the node this VMA's faults allocate on first (vma->vm_policy;
  // NUMA_NO_NODE: the default policy, the local node). mm/mempolicy.h.
  int vm_policy_nid = NUMA_NO_NODE;
  mm_struct* vm_mm = nullptr;
};

inline bool is_cow_mapping(unsigned long flags) {
  return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}
inline bool vma_is_anonymous(const vm_area_struct* v) { return v->vm_file == nullptr; }
// vma_is_accessible(): not PROT_NONE (no PROT_EXEC here).
inline bool vma_is_accessible(const vm_area_struct* v) { return v->vm_flags & (VM_READ | VM_WRITE); }
pgprot vm_get_page_prot(unsigned long vm_flags);

struct mm_struct {
  pgd_t* pgd = nullptr;
  sync::atomic<int> mm_users{1};
  // mmap_lock: VMAs and the slow paths. Taken for read by faults and GUP's slow path,
  // for write by mmap/munmap/mprotect/fork. GUP-fast never takes it.
  sync::rw_semaphore mmap_lock;
  // Populating upper-level entries (kernel: mm->page_table_lock); PTE tables and PMD
  // tables have their own split locks in their struct page (ptl).
  sync::spinlock_t page_table_lock;
  // Odd while fork copies this mm's COW page tables (copy_page_range). Pairs with
  // [WP-SEQ] in gup_fast().
  seqcount_t write_protect_seq;
  // The seqcount table strategy's mm-level counter (tlb/pt_seq.h): changes
  // around every table free and every change that replaces or removes a mapped page.
  // Pairs with [PT-SEQ] in gup_fast().
  sync::atomic<uint64_t> pt_seq{0};
  sync::atomic<unsigned long> flags{0};
  sync::cpumask cpu_bitmap;           // mm_cpumask(): CPUs that used this mm
  sync::atomic<uint64_t> tlb_gen{1};  // bumped by every flush (arch/x86 tlb_gen)
  uint64_t ctx_id = 0;                // never reused: tags TLB entries (x86 ctx_id)
  std::map<unsigned long, std::unique_ptr<vm_area_struct>> vmas;  // by vm_end; mmap_lock
  anon_vma* av = nullptr;
  sync::atomic<long> rss_anon{0}, rss_shmem{0}, nr_ptes{0}, nr_pmds{0};
};

inline sync::cpumask& mm_cpumask(mm_struct* mm) { return mm->cpu_bitmap; }
inline bool mm_flags_test(mm_struct* mm, unsigned bit) { return mm->flags.load(sync::relaxed) >> bit & 1; }
inline void mm_flags_set(mm_struct* mm, unsigned bit) { mm->flags.fetch_or(1ul << bit, sync::relaxed); }

// The first VMA with vm_end > addr, or nullptr. Context: mmap_lock held.
vm_area_struct* find_vma(mm_struct* mm, unsigned long addr);
// The VMA containing addr, or nullptr. Context: mmap_lock held.
vm_area_struct* vma_lookup(mm_struct* mm, unsigned long addr);

GUPFAST_NS_END
