// Address-space lifetime and the VMA syscalls (mm/mmap.c, mm/vma.c, mm/mprotect.c,
// mm/madvise.c, kernel/fork.c).
#include <cerrno>

#include "machine/counters.h"
#include "mm/huge_memory.h"
#include "mm/lazyfree.h"
#include "mm/mm.h"
#include "mm/pt_reclaim.h"
#include "mm/rmap.h"
#include "mm/vma.h"
#include "tlb/pt_seq.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

namespace {

GUPFAST_WORLD sync::atomic<uint64_t> g_next_ctx_id{1};
// addr == 0 picks below this: the top 1/128 of the user half stays free (0x7f0000000000 on
// x86-64's geometry).
unsigned long mmap_base() { return (TASK_SIZE + PAGE_SIZE) / 128 * 127; }
constexpr unsigned long MMAP_MIN_ADDR = 0x10000ul;

void anon_vma_join(mm_struct* mm, anon_vma* av) {
  av->refcount.fetch_add(1, sync::relaxed);
  sync::spin_lock(&av->lock);
  av->mms.push_back(mm);
  sync::spin_unlock(&av->lock);
  mm->av = av;
}

void anon_vma_leave(mm_struct* mm) {
  anon_vma* av = mm->av;
  sync::spin_lock(&av->lock);
  std::erase(av->mms, mm);
  sync::spin_unlock(&av->lock);
  put_anon_vma(av);  // freed after an RCU grace period (rmap walkers may hold the pointer)
  mm->av = nullptr;
}

vm_area_struct* insert_vma(mm_struct* mm, std::unique_ptr<vm_area_struct> v) {
  vm_area_struct* raw = v.get();
  mm->vmas.emplace(raw->vm_end, std::move(v));
  return raw;
}

void free_vma(std::unique_ptr<vm_area_struct> v) {
  if (v->vm_file) shmem_put(v->vm_file);
}

// Zap [start, end) of every VMA that overlaps it. Context: mmap_lock held.
void zap_range(mmu_gather* tlb, mm_struct* mm, unsigned long start, unsigned long end) {
  for (vm_area_struct* v = find_vma(mm, start); v && v->vm_start < end; v = find_vma(mm, v->vm_end))
    unmap_page_range(tlb, v, std::max(start, v->vm_start), std::min(end, v->vm_end));
}

// MADV_HUGEPAGE (hugepage_madvise): the range's VMAs may be mapped huge and collapsed by
// khugepaged. Context: takes mmap_lock for write.
int madvise_hugepage(mm_struct* mm, unsigned long addr, unsigned long end) {
  mm->mmap_lock.down_write();
  bool hole = !range_fully_mapped(mm, addr, end);
  split_vma_at(mm, addr);
  split_vma_at(mm, end);
  for (vm_area_struct* v = find_vma(mm, addr); v && v->vm_start < end; v = find_vma(mm, v->vm_end))
    v->vm_flags |= VM_HUGEPAGE;
  mm->mmap_lock.up_write();
  return hole ? -ENOMEM : 0;
}

void exit_mmap(mm_struct* mm) {
  mm->mmap_lock.down_write();
  std::map<unsigned long, std::unique_ptr<vm_area_struct>> vmas;
  {
    pt_seq_write whole_mm(mm, nullptr);
    mmu_gather tlb;
    tlb_gather_mmu_fullmm(&tlb, mm);
    zap_range(&tlb, mm, 0, TASK_SIZE);
    vmas.swap(mm->vmas);
    free_pgtables(&tlb, mm, 0, TASK_SIZE);
    tlb_finish_mmu(&tlb);
  }
  mm->mmap_lock.up_write();
  for (auto& [end, v] : vmas) free_vma(std::move(v));
}

}  // namespace

bool range_ok(unsigned long addr, unsigned long len) {
  if (addr & ~PAGE_MASK) return false;
  if (len == 0) return false;
  unsigned long alen = (len + PAGE_SIZE - 1) & PAGE_MASK;
  if (alen < len) return false;  // wraps when rounded
  if (addr + alen < addr) return false;
  return addr + alen <= TASK_SIZE;
}

// Split so that a VMA boundary falls at addr (split_vma). Context: mmap_lock for write.
void split_vma_at(mm_struct* mm, unsigned long addr) {
  vm_area_struct* v = vma_lookup(mm, addr);
  if (!v || v->vm_start == addr) return;
  auto node = mm->vmas.extract(v->vm_end);
  auto tail = std::make_unique<vm_area_struct>(*v);
  tail->vm_start = addr;
  if (tail->vm_file) {
    tail->vm_pgoff += (addr - v->vm_start) >> PAGE_SHIFT;
    shmem_get(tail->vm_file);
  }
  v->vm_end = addr;
  node.key() = addr;
  mm->vmas.insert(std::move(node));
  insert_vma(mm, std::move(tail));
}

bool range_fully_mapped(mm_struct* mm, unsigned long start, unsigned long end) {
  unsigned long a = start;
  while (a < end) {
    vm_area_struct* v = vma_lookup(mm, a);
    if (!v) return false;
    a = v->vm_end;
  }
  return true;
}

bool split_range(mm_struct* mm, unsigned long start, unsigned long end) {
  if (!range_fully_mapped(mm, start, end)) return false;
  split_vma_at(mm, start);
  split_vma_at(mm, end);
  return true;
}

vm_area_struct* find_vma(mm_struct* mm, unsigned long addr) {
  auto it = mm->vmas.upper_bound(addr);
  return it == mm->vmas.end() ? nullptr : it->second.get();
}

vm_area_struct* vma_lookup(mm_struct* mm, unsigned long addr) {
  vm_area_struct* v = find_vma(mm, addr);
  return (v && v->vm_start <= addr) ? v : nullptr;
}

void mm_ids_reset() { g_next_ctx_id.store(1, sync::relaxed); }

mm_struct* mm_alloc() {
  page* pgd = pagetable_alloc(nullptr);
  if (!pgd) return nullptr;
  auto* mm = new mm_struct;
  pgd->mapping.store(reinterpret_cast<unsigned long>(mm), sync::relaxed);
  mm->pgd = reinterpret_cast<pgd_t*>(page_address(pgd));
  mm->ctx_id = g_next_ctx_id.fetch_add(1, sync::relaxed);
  auto* av = new anon_vma;
  av->refcount.store(0, sync::relaxed);
  anon_vma_join(mm, av);
  return mm;
}

void mmget(mm_struct* mm) { mm->mm_users.fetch_add(1, sync::relaxed); }

void mmput(mm_struct* mm) {
  if (mm->mm_users.fetch_sub(1, sync::acq_rel) != 1) return;
  exit_mmap(mm);
  // Nothing can walk a dead mm (callers of GUP hold mm_users), so the top table goes now.
  pagetable_free(pfn_to_page(virt_to_pfn(mm->pgd)));
  anon_vma_leave(mm);
  delete mm;
}

long vm_mmap(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags) {
  if (!mm) return -EINVAL;
  // do_mmap and __get_unmapped_area, in their order: empty -EINVAL; wrapping when rounded,
  // longer than the user range or running past it -ENOMEM; unaligned -EINVAL; below
  // mmap_min_addr -EPERM (security_mmap_addr without CAP_SYS_RAWIO); overlapping -EEXIST
  // (MAP_FIXED_NOREPLACE); then the mapping type -EINVAL. Unknown flags and prot bits
  // (PROT_EXEC is not modelled) are refused there too, where the kernel ignores them.
  if (len == 0) return -EINVAL;
  unsigned long alen = (len + PAGE_SIZE - 1) & PAGE_MASK;
  if (alen == 0 || alen > TASK_SIZE) return -ENOMEM;
  len = alen;
  if (addr) {
    if (addr > TASK_SIZE - len) return -ENOMEM;
    if (addr & ~PAGE_MASK) return -EINVAL;
    if (addr < MMAP_MIN_ADDR) return -EPERM;
  }
  bool shared = flags & MAP_SHARED_;
  bool bad_type = shared == bool(flags & MAP_PRIVATE_) ||  // exactly one of them
                  (flags & ~(MAP_SHARED_ | MAP_PRIVATE_ | MAP_HUGE_THP)) || (prot & ~(PROT_READ_ | PROT_WRITE_));
  mm->mmap_lock.down_write();
  if (addr) {
    vm_area_struct* v = find_vma(mm, addr);
    if (v && v->vm_start < addr + len) {
      mm->mmap_lock.up_write();
      return -EEXIST;
    }
  }
  if (bad_type) {
    mm->mmap_lock.up_write();
    return -EINVAL;
  }
  if (!addr) {
    // Top-down search for a gap below mmap_base().
    if (len > mmap_base() - MMAP_MIN_ADDR) {
      mm->mmap_lock.up_write();
      return -ENOMEM;
    }
    unsigned long cand = mmap_base() - len;
    for (;;) {
      vm_area_struct* v = find_vma(mm, cand);
      if (!v || v->vm_start >= cand + len) break;
      if (v->vm_start < len + MMAP_MIN_ADDR) {
        mm->mmap_lock.up_write();
        return -ENOMEM;
      }
      cand = v->vm_start - len;
    }
    addr = cand;
  }
  auto v = std::make_unique<vm_area_struct>();
  v->vm_start = addr;
  v->vm_end = addr + len;
  v->vm_mm = mm;
  v->vm_flags = VM_MAYREAD | VM_MAYWRITE;
  if (prot & PROT_READ_) v->vm_flags |= VM_READ;
  if (prot & PROT_WRITE_) v->vm_flags |= VM_WRITE | VM_READ;
  if (shared) {
    v->vm_flags |= VM_SHARED;
    v->vm_file = new shmem_object;
    v->vm_file->nr_pages = len >> PAGE_SHIFT;
  }
  if (flags & MAP_HUGE_THP) v->vm_flags |= VM_HUGEPAGE;
  insert_vma(mm, std::move(v));
  mm->mmap_lock.up_write();
  return static_cast<long>(addr);
}

int vm_munmap(mm_struct* mm, unsigned long addr, unsigned long len) {
  if (!mm || !range_ok(addr, len)) return -EINVAL;
  unsigned long end = addr + ((len + PAGE_SIZE - 1) & PAGE_MASK);
  mm->mmap_lock.down_write();
  vm_area_struct* first = find_vma(mm, addr);
  if (!first || first->vm_start >= end) {  // a hole: nothing to do, as Linux
    mm->mmap_lock.up_write();
    return 0;
  }
  split_vma_at(mm, addr);
  split_vma_at(mm, end);
  // Zap and free_pgtables open their own pt_seq write sections, table by table.
  mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm);
  zap_range(&tlb, mm, addr, end);
  std::vector<std::unique_ptr<vm_area_struct>> gone;
  for (auto it = mm->vmas.upper_bound(addr); it != mm->vmas.end() && it->second->vm_start < end;) {
    gone.push_back(std::move(it->second));
    it = mm->vmas.erase(it);
  }
  // Tables whose whole range is now VMA-free: unlinked here, freed by the strategy.
  unsigned long floor = addr & PMD_MASK, ceiling = (end + PMD_SIZE - 1) & PMD_MASK;
  free_pgtables(&tlb, mm, floor, ceiling);
  tlb_finish_mmu(&tlb);
  mm->mmap_lock.up_write();
  for (auto& v : gone) free_vma(std::move(v));
  return 0;
}

int do_mprotect(mm_struct* mm, unsigned long addr, unsigned long len, int prot) {
  if (!mm) return -EINVAL;
  // do_mprotect_pkey's order: unaligned -EINVAL; empty is success; wrapping -ENOMEM; an
  // unknown prot -EINVAL; a range with a hole (past the user range too) -ENOMEM.
  if (addr & ~PAGE_MASK) return -EINVAL;
  if (len == 0) return 0;
  unsigned long alen = (len + PAGE_SIZE - 1) & PAGE_MASK;
  unsigned long end = addr + alen;
  if (end <= addr) return -ENOMEM;
  if (prot & ~(PROT_READ_ | PROT_WRITE_)) return -EINVAL;
  if (end > TASK_SIZE) return -ENOMEM;
  mm->mmap_lock.down_write();
  if (!split_range(mm, addr, end)) {
    mm->mmap_lock.up_write();
    return -ENOMEM;
  }
  bool changed = false;
  for (vm_area_struct* v = find_vma(mm, addr); v && v->vm_start < end; v = find_vma(mm, v->vm_end)) {
    unsigned long nf = v->vm_flags & ~(VM_READ | VM_WRITE);
    if (prot & PROT_READ_) nf |= VM_READ;
    if (prot & PROT_WRITE_) nf |= VM_WRITE | VM_READ;
    // A leaf is split and changed at PTE level (the kernel may keep a leaf that lies wholly
    // inside the range whole). Split while the VMA still has its old flags, as the kernel's
    // split_vma -> vma_adjust_trans_huge does: a read-only leaf's PTEs take their protection
    // from the VMA, and the new one would give the pages outside this range (in the
    // neighbouring VMAs the leaf also covers) the new protection. Found by the differential
    // fuzzer: fork (the leaf write-protected), then mprotect(PROT_NONE) of a part, made the
    // rest of the THP fault with SIGSEGV.
    for (unsigned long a = v->vm_start; a < v->vm_end; a = pmd_addr_end(a, v->vm_end)) {
      pmd_t* pmdp = mm_find_pmd(mm, a);
      if (pmdp && pmd_leaf(pmdp_get(pmdp))) __split_huge_pmd(v, pmdp, a);
    }
    v->vm_flags = nf;
    pgprot newprot = vm_get_page_prot(nf);
    // change_pte_range(): ptep_modify_prot_start/commit under the PTL.
    for (unsigned long a = v->vm_start; a < v->vm_end; a = pmd_addr_end(a, v->vm_end)) {
      pmd_t* pmdp = mm_find_pmd(mm, a);
      if (!pmdp) continue;
      sync::spinlock_t* ptl;
      pte_t* ptep = pte_offset_map_lock(mm, pmdp, a, &ptl);
      if (!ptep) continue;
      unsigned long e = pmd_addr_end(a, v->vm_end);
      for (unsigned long b = a; b < e; b += PAGE_SIZE, ptep++) {
        pte_t old = ptep_get(ptep);
        if (!pte_present(old)) continue;
        pgprot p = newprot;
        if (p == pgprot::write && !(nf & VM_SHARED)) {
          // A private page becomes writable only if it is ours alone (can_change_pte_writable);
          // otherwise the next write takes a COW fault.
          folio* f = vm_normal_folio(v, b, old);
          if (!f || !PageAnonExclusive(pfn_to_page(pte_pfn(old)))) p = pgprot::read;
        }
        pte_t nv = pfn_pte(pte_pfn(old), p);
        nv.pte |= old.pte & (_PAGE_DIRTY | _PAGE_SPECIAL);
        if (pte_val(nv) == pte_val(old)) continue;
        ptep_get_and_clear(ptep);
        set_pte(ptep, nv);
        changed = true;
      }
      sync::spin_unlock(ptl);
    }
  }
  if (changed) flush_tlb_mm_range(mm, addr, end);
  mm->mmap_lock.up_write();
  return 0;
}

int do_madvise(mm_struct* mm, unsigned long addr, unsigned long len, int advice) {
  if (!mm) return -EINVAL;
  // do_madvise's order: unknown advice, unaligned start, a length that rounds to zero or
  // wraps: -EINVAL; empty: success; a hole (past the user range too): -ENOMEM after the
  // mapped parts were advised.
  if (advice != MADV_DONTNEED_ && advice != MADV_FREE_ && advice != MADV_HUGEPAGE_) return -EINVAL;
  if (addr & ~PAGE_MASK) return -EINVAL;
  unsigned long alen = (len + PAGE_SIZE - 1) & PAGE_MASK;
  if (len && !alen) return -EINVAL;
  unsigned long end = addr + alen;
  if (end < addr) return -EINVAL;
  if (end == addr) return 0;
  if (addr >= TASK_SIZE) return -ENOMEM;
  if (end > TASK_SIZE) {
    int r = do_madvise(mm, addr, TASK_SIZE - addr, advice);
    return r ? r : -ENOMEM;
  }
  if (advice == MADV_HUGEPAGE_) return madvise_hugepage(mm, addr, end);
  if (advice == MADV_FREE_) return madvise_free(mm, addr, end);
  // PT reclaim frees tables under mmap_lock for read, except under the ipi strategy
  // (mm/pt_reclaim.cpp explains why); sampled once so lock and reclaim agree.
  bool reclaim = pt_reclaim_enabled();
  bool write = reclaim && pt_reclaim_needs_mmap_write_lock();
  write ? mm->mmap_lock.down_write() : mm->mmap_lock.down_read();
  bool hole = !range_fully_mapped(mm, addr, end);
  mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm);
  zap_range(&tlb, mm, addr, end);
  if (reclaim) reclaim_pt_range(&tlb, mm, addr, end);
  tlb_finish_mmu(&tlb);
  write ? mm->mmap_lock.up_write() : mm->mmap_lock.up_read();
  return hole ? -ENOMEM : 0;
}

mm_struct* dup_mm(mm_struct* oldmm, int* err) {
  if (!oldmm) {
    *err = -EINVAL;
    return nullptr;
  }
  mm_struct* mm = mm_alloc();
  if (!mm) {
    *err = -ENOMEM;
    return nullptr;
  }
  // The child shares the parent's anon rmap (its folios may be mapped in both).
  anon_vma_leave(mm);
  anon_vma_join(mm, oldmm->av);
  oldmm->mmap_lock.down_write();
  mm->mmap_lock.down_write();
  *err = 0;
  for (auto& [end, v] : oldmm->vmas) {
    auto nv = std::make_unique<vm_area_struct>(*v);
    nv->vm_mm = mm;
    if (nv->vm_file) shmem_get(nv->vm_file);
    vm_area_struct* raw = insert_vma(mm, std::move(nv));
    if ((*err = copy_page_range(raw, v.get()))) break;
  }
  mm->mmap_lock.up_write();
  // The parent's PTEs were write-protected: its CPUs must drop writable translations.
  flush_tlb_mm(oldmm);
  oldmm->mmap_lock.up_write();
  count_event(CNT_forks);
  if (*err) {
    mmput(mm);
    return nullptr;
  }
  return mm;
}

GUPFAST_NS_END
