// The locked slow path (mm/gup.c: __get_user_pages, follow_page_pte, faultin_page,
// __get_user_pages_locked, __gup_longterm_locked).
#include <cerrno>

#include "gup/gup_internal.h"
#include "machine/counters.h"

GUPFAST_NS_BEGIN

namespace {

// -EMLINK from follow_page: the page must be unshared first (FAULT_FLAG_UNSHARE).
constexpr long FOLLOW_UNSHARE = -EMLINK;

// gup_can_follow_protnone() without FOLL_HONOR_NUMA_FAULT's NUMA hinting (not modelled): a
// PROT_NONE entry of an inaccessible VMA is followed (only FOLL_FORCE gets this far:
// check_vma_flags); this machine makes no protnone entry in an accessible one.
bool gup_can_follow_protnone(const vm_area_struct* vma) { return !vma_is_accessible(vma); }

// check_vma_flags(): may this access go through this VMA at all?
int check_vma_flags(vm_area_struct* vma, unsigned gup_flags) {
  bool write = gup_flags & FOLL_WRITE;
  if (write) {
    if (!(vma->vm_flags & VM_WRITE)) {
      if (!(gup_flags & FOLL_FORCE)) return -EFAULT;
      // FOLL_FORCE writes break COW; they never write into a shared mapping's pages.
      if (!is_cow_mapping(vma->vm_flags)) return -EFAULT;
    }
    if (!(vma->vm_flags & VM_MAYWRITE)) return -EFAULT;
  } else if (!(vma->vm_flags & VM_READ)) {
    if (!(gup_flags & FOLL_FORCE) || !(vma->vm_flags & VM_MAYREAD)) return -EFAULT;
  }
  return 0;
}

// can_follow_write_pte()/can_follow_write_pmd(): a writable entry may be written. With
// FOLL_FORCE (ptrace) a read-only entry of a private read-only VMA may be written too once
// COW is broken, i.e. the page is an exclusive anon page; the entry stays read-only for
// the process (the write fault does not make it writable: maybe_mkwrite).
bool can_follow_write(bool entry_write, page* p, vm_area_struct* vma, unsigned flags) {
  if (entry_write) return true;
  if (!(flags & FOLL_FORCE)) return false;
  if (!is_cow_mapping(vma->vm_flags)) return false;
  if (vma->vm_flags & VM_WRITE) return false;  // just take the write fault
  return folio_test_anon(page_folio(p)) && PageAnonExclusive(p);
}

bool can_follow_write_pte(pte_t pte, vm_area_struct* vma, unsigned flags) {
  return can_follow_write(pte_write(pte), pfn_to_page(pte_pfn(pte)), vma, flags);
}

// follow_page_pte(): the page mapped at address with a reference/pin taken under the PTL;
// nullptr if it must be faulted in; FOLLOW_UNSHARE; or another negative errno.
long follow_page_pte(vm_area_struct* vma, unsigned long address, pmd_t* pmdp, unsigned flags, page** out) {
  mm_struct* mm = vma->vm_mm;
  sync::spinlock_t* ptl;
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, address, &ptl);
  if (!ptep) return 0;
  pte_t pte = ptep_get(ptep);
  long ret = 0;
  page* p = nullptr;
  if (!pte_present(pte)) goto out;
  if (pte_protnone(pte) && !gup_can_follow_protnone(vma)) goto out;
  if ((flags & FOLL_WRITE) && !can_follow_write_pte(pte, vma, flags)) goto out;
  p = pfn_to_page(pte_pfn(pte));  // the zero page too: it has a struct page
  if (!pte_write(pte) && gup_must_unshare(vma, flags, p)) {
    p = nullptr;
    ret = FOLLOW_UNSHARE;
    goto out;
  }
  if ((ret = try_grab_folio(page_folio(p), 1, flags))) {
    p = nullptr;
    goto out;
  }
  if (flags & FOLL_TOUCH) {
    folio* f = page_folio(p);
    if ((flags & FOLL_WRITE) && !pte_dirty(pte) && !folio_test_dirty(f)) folio_set_dirty(f);
    folio_set_referenced(f);
  }
out:
  sync::spin_unlock(ptl);
  *out = p;
  return ret;
}

long follow_page_mask(vm_area_struct* vma, unsigned long address, unsigned flags, page** out) {
  *out = nullptr;
  pmd_t* pmdp = mm_find_pmd(vma->vm_mm, address);
  if (!pmdp) return 0;
  pmd_t pmd = pmdp_get_lockless(pmdp);
  if (pmd_leaf(pmd)) return follow_huge_pmd(vma, address, pmdp, flags, out);
  if (!pmd_table(pmd)) return 0;
  return follow_page_pte(vma, address, pmdp, flags, out);
}

// faultin_page(): fault the page in (or unshare it) for the access GUP wants.
long faultin_page(vm_area_struct* vma, unsigned long address, unsigned flags, bool unshare) {
  unsigned fault_flags = 0;
  if (flags & FOLL_WRITE) fault_flags |= FAULT_FLAG_WRITE;
  if (unshare) fault_flags |= FAULT_FLAG_UNSHARE;
  vm_fault_t ret = handle_mm_fault(vma, address & PAGE_MASK, fault_flags);
  if (ret & VM_FAULT_OOM) return -ENOMEM;
  if (ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)) return -EFAULT;
  return 0;
}

}  // namespace

long follow_huge_pmd(vm_area_struct* vma, unsigned long address, pmd_t* pmdp, unsigned flags, page** out) {
  *out = nullptr;
  sync::spinlock_t* ptl = pmd_lockptr(vma->vm_mm, pmdp);
  sync::spin_lock(ptl);
  pmd_t pmd = pmdp_get(pmdp);
  long ret = 0;
  page* p = nullptr;
  if (!pmd_leaf(pmd) || (pmd_protnone(pmd) && !gup_can_follow_protnone(vma))) goto out;
  // AnonExclusive of the head page stands for the whole leaf.
  if ((flags & FOLL_WRITE) && !can_follow_write(pmd_write(pmd), pfn_to_page(pmd_pfn(pmd)), vma, flags)) goto out;
  p = pfn_to_page(pmd_pfn(pmd)) + pte_index(address);
  // The head's AnonExclusive, as the kernel's follow_huge_pmd (and gup_fast_pmd_leaf) ask:
  // do_huge_pmd_wp_page's reuse sets the head's only. Asking for the subpage's made a
  // read-only pin of a THP that a fork had shared unshare forever (-EAGAIN after 1000
  // faults; found by the differential fuzzer).
  if (!pmd_write(pmd) && gup_must_unshare(vma, flags, pfn_to_page(pmd_pfn(pmd)))) {
    p = nullptr;
    ret = FOLLOW_UNSHARE;
    goto out;
  }
  if ((ret = try_grab_folio(page_folio(p), 1, flags))) p = nullptr;
  else if (flags & FOLL_TOUCH) folio_set_referenced(page_folio(p));
out:
  sync::spin_unlock(ptl);
  *out = p;
  return ret;
}

// __get_user_pages(): Context: mmap_lock held for read.
long __get_user_pages(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages) {
  long i = 0;
  vm_area_struct* vma = nullptr;
  while (i < nr_pages) {
    if (!vma || start >= vma->vm_end) {
      vma = vma_lookup(mm, start);
      if (!vma) return i ? i : -EFAULT;
      if (int err = check_vma_flags(vma, gup_flags)) return i ? i : err;
    }
    page* p;
    long ret;
    int tries = 0;
    for (;;) {
      ret = follow_page_mask(vma, start, gup_flags, &p);
      if (p || (ret && ret != FOLLOW_UNSHARE)) break;
      if (gup_flags & FOLL_NOFAULT) return i ? i : -EFAULT;
      long err = faultin_page(vma, start, gup_flags, ret == FOLLOW_UNSHARE);
      if (err) return i ? i : err;
      if (++tries > 1000) return i ? i : -EAGAIN;  // livelock guard; never seen in practice
      sync::cpu_relax();
    }
    if (ret) return i ? i : ret;
    // pages may be NULL without FOLL_GET/FOLL_PIN (get_user_pages to fault a range in).
    if (pages) pages[i] = p;
    i++;
    start += PAGE_SIZE;
  }
  return i;
}

long __get_user_pages_locked(mm_struct* mm, unsigned long start, long nr_pages, unsigned gup_flags, page** pages,
                             bool locked) {
  if (gup_flags & FOLL_PIN) mm_set_has_pinned_flag(mm);
  if (!locked) mm->mmap_lock.down_read();
  long ret = __get_user_pages(mm, start, nr_pages, gup_flags, pages);
  if (!locked) mm->mmap_lock.up_read();
  if (ret > 0) {
    count_event(CNT_gup_slow_calls);
    count_event(CNT_gup_slow_pages, ret);
  }
  return ret;
}

// __gup_longterm_locked(): long-term pins would first migrate folios out of movable
// memory; this machine has none (folio_is_longterm_pinnable), so it is the plain path.
long __gup_longterm_locked(mm_struct* mm, unsigned long start, long nr_pages, page** pages, bool locked,
                           unsigned gup_flags) {
  return __get_user_pages_locked(mm, start, nr_pages, gup_flags, pages, locked);
}

GUPFAST_NS_END
