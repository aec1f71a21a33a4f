// Page faults (mm/memory.c): anonymous faults, the shared zero page, shared anonymous
// (shmem) faults, and write-protect faults that reuse or copy (COW) or unshare.
#include <cerrno>

#include "machine/counters.h"
#include "mm/huge_memory.h"
#include "mm/mempolicy.h"
#include "mm/mm.h"
#include "mm/swap.h"
#include "mm/swapin.h"
#include "tlb/pt_seq.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

pgprot vm_get_page_prot(unsigned long vm_flags) {
  if (vm_flags & VM_WRITE) return pgprot::write;
  if (vm_flags & VM_READ) return pgprot::read;
  return pgprot::none;
}

bool vma_access_permitted(const vm_area_struct* vma, bool write) {
  return write ? (vma->vm_flags & VM_WRITE) : (vma->vm_flags & VM_READ);
}

folio* vm_normal_folio(vm_area_struct*, unsigned long, pte_t pte) {
  if (pte_special(pte)) return nullptr;  // the zero page
  return page_folio(pfn_to_page(pte_pfn(pte)));
}

void folio_add_new_anon_rmap(folio* f, vm_area_struct* vma, unsigned long addr) {
  mm_struct* mm = vma->vm_mm;
  f->page.mapping.store(reinterpret_cast<unsigned long>(mm->av) | PAGE_MAPPING_ANON, sync::relaxed);
  f->page.index.store(addr >> PAGE_SHIFT, sync::relaxed);
  folio_set_swapbacked(f);  // __folio_set_swapbacked: not lazyfree until MADV_FREE says so
  SetPageAnonExclusive(&f->page);
  f->page._mapcount.store(0, sync::relaxed);
}

namespace {

// Make new page contents visible before the PTE that maps them (__folio_mark_uptodate's
// smp_wmb): a GUP-fast or a hardware walk that sees the PTE sees the data.
void folio_mark_uptodate(folio* f) {
  sync::smp_wmb();
  folio_set_uptodate(f);
}

vm_fault_t do_anonymous_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, unsigned flags) {
  mm_struct* mm = vma->vm_mm;
  sync::spinlock_t* ptl;
  if (!(flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE))) {
    // Read fault: map the shared zero page, special and read-only.
    pte_t entry = pte_mkspecial(pfn_pte(zero_pfn, vm_get_page_prot(vma->vm_flags & ~VM_WRITE)));
    pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
    if (!ptep) return VM_FAULT_RETRY;
    if (pte_none(ptep_get(ptep))) {
      set_pte(ptep, entry);
      count_event(CNT_fault_zero_page);
    }
    sync::spin_unlock(ptl);
    return 0;
  }
  folio* f = vma_alloc_folio(__GFP_ZERO, 0, vma, addr);
  if (!f) return VM_FAULT_OOM;
  folio_mark_uptodate(f);
  pte_t entry = pte_mkdirty(pfn_pte(folio_pfn(f), vm_get_page_prot(vma->vm_flags)));
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
  if (!ptep) {
    folio_put(f);
    return VM_FAULT_RETRY;
  }
  if (!pte_none(ptep_get(ptep))) {  // somebody else faulted it in
    sync::spin_unlock(ptl);
    folio_put(f);
    return 0;
  }
  folio_add_new_anon_rmap(f, vma, addr);
  folio_add_lru(f);
  mm->rss_anon.fetch_add(1, sync::relaxed);
  set_pte(ptep, entry);
  sync::spin_unlock(ptl);
  count_event(CNT_fault_anon);
  return 0;
}

vm_fault_t do_shared_fault(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp) {
  mm_struct* mm = vma->vm_mm;
  unsigned long index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
  folio* f = shmem_get_folio(vma->vm_file, index);  // with a reference for the mapping
  if (!f) return VM_FAULT_OOM;
  // shmem needs no dirty tracking: a shared writable VMA maps writable right away.
  pte_t entry = pfn_pte(folio_pfn(f), vm_get_page_prot(vma->vm_flags));
  sync::spinlock_t* ptl;
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
  if (!ptep) {
    folio_put(f);
    return VM_FAULT_RETRY;
  }
  if (!pte_none(ptep_get(ptep))) {
    sync::spin_unlock(ptl);
    folio_put(f);
    return 0;
  }
  f->page._mapcount.fetch_add(1, sync::relaxed);
  mm->rss_shmem.fetch_add(1, sync::relaxed);
  set_pte(ptep, entry);
  sync::spin_unlock(ptl);
  count_event(CNT_fault_shared);
  return 0;
}

// wp_can_reuse_anon_folio(): the only reference is the mapping's own. Context: PTL held.
bool wp_can_reuse_anon_folio(folio* f) {
  if (folio_test_large(f)) return false;  // large folios: copy (as the kernel mostly does)
  if (is_unsafe(COW_REUSE_MAPCOUNT)) {
    // Mutant: reuse_swap_page() as do_wp_page() used it before 09854ba94c6a (v5.9): the
    // page is ours if we are its only mapping (and no swap entry names it), whoever else
    // holds a reference. A GUP reference another process took while the page was shared
    // then sees our writes (CVE-2020-29374).
    if (folio_mapcount(f) != 1 || !folio_trylock(f)) return false;
    bool ok = !folio_test_swapcache(f) || folio_free_swap(f);
    folio_unlock(f);
    return ok;
  }
  int expected = 1 + (folio_test_swapcache(f) ? 1 : 0);
  if (folio_ref_count(f) > expected) return false;
  if (!folio_trylock(f)) return false;
  // Reusing means writing: the slot's copy would go stale, so let the swap cache go first
  // (it fails if another mm's swap PTE still names the slot; then we copy).
  if (folio_test_swapcache(f)) folio_free_swap(f);
  bool ok = folio_ref_count(f) == 1;
  folio_unlock(f);
  return ok;
}

// wp_page_copy(): replace the mapped page (or the zero page) with a private copy.
// With FAULT_FLAG_UNSHARE the copy is mapped read-only (GUP's unshare of a shared anon
// page for a read pin). Context: PTL not held; mmap_lock held for read; the caller took a
// reference on `old` (the folio orig maps, nullptr for the zero page) under the PTL.
vm_fault_t wp_page_copy(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, pte_t orig, folio* old,
                        unsigned flags) {
  mm_struct* mm = vma->vm_mm;
  folio* nf = vma_alloc_folio(0, 0, vma, addr);
  if (!nf) {
    if (old) folio_put(old);
    return VM_FAULT_OOM;
  }
  if (old)
    copy_user_highpage(folio_pfn(nf), pte_pfn(orig));
  else
    clear_user_highpage(folio_pfn(nf));
  folio_mark_uptodate(nf);

  sync::spinlock_t* ptl;
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
  if (!ptep || pte_val(ptep_get(ptep)) != pte_val(orig)) {
    if (ptep) sync::spin_unlock(ptl);
    folio_put(nf);
    if (old) folio_put(old);
    return 0;  // someone else changed it: retry the access
  }
  bool unshare = (flags & FAULT_FLAG_UNSHARE) && !(flags & FAULT_FLAG_WRITE);
  // Unshare maps the copy read-only, and in a PROT_NONE VMA (a FOLL_FORCE read pin) PROT_NONE.
  pte_t entry = pte_mkdirty(
      pfn_pte(folio_pfn(nf), vm_get_page_prot(unshare ? vma->vm_flags & ~VM_WRITE : vma->vm_flags)));
  pt_seq_write seq(mm, virt_to_table_page(ptep));
  // Clear and flush before installing the new page, so no CPU holds the old translation
  // while another has the new one. [COW-CLEAR] GUP-fast's PTE recheck fails on it.
  ptep_get_and_clear(ptep);
  flush_tlb_page(mm, addr);
  folio_add_new_anon_rmap(nf, vma, addr);
  folio_add_lru(nf);
  set_pte(ptep, entry);
  // folio_remove_rmap_pte(old, page): the page orig maps, not the folio's head. A
  // PTE-mapped THP (after split_huge_pmd) counts mappings per page; taking the COWed
  // tail's mapping off the head left the tail "mapped" with no PTE and no reference, and
  // the head below -1. folio_mapcount() (a sum) hid it until reclaim's split_folio made
  // each page a folio of its own: the tail then stayed in the swap cache forever (leak).
  if (old) pfn_to_page(pte_pfn(orig))->_mapcount.fetch_sub(1, sync::relaxed);
  else mm->rss_anon.fetch_add(1, sync::relaxed);
  seq.end();
  sync::spin_unlock(ptl);
  if (old) {
    folio_put(old);  // the mapping's reference
    folio_put(old);  // ours
  }
  count_event(unshare ? CNT_unshare_copies : CNT_cow_copies);
  return 0;
}

// do_wp_page(): a write (or unshare) fault on a present, write-protected PTE.
// Context: PTL held on entry; released on return.
vm_fault_t do_wp_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, pte_t* ptep,
                      sync::spinlock_t* ptl, pte_t orig, unsigned flags) {
  bool unshare = (flags & FAULT_FLAG_UNSHARE) && !(flags & FAULT_FLAG_WRITE);
  if (vma->vm_flags & VM_SHARED) {
    // wp_page_shared(): shared pages are written in place.
    if (!unshare) set_pte(ptep, pte_mkdirty(pte_mkyoung(pte_mkwrite(orig))));
    sync::spin_unlock(ptl);
    return 0;
  }
  folio* f = vm_normal_folio(vma, addr, orig);
  if (f && folio_test_anon(f)) {
    page* p = pfn_to_page(pte_pfn(orig));
    bool reuse = PageAnonExclusive(p);
    if (!reuse && wp_can_reuse_anon_folio(f)) {
      SetPageAnonExclusive(p);
      reuse = true;
    }
    if (reuse) {
      // wp_page_reuse(): the page is ours alone; writable again (unshare: nothing to do).
      // maybe_mkwrite(): a FOLL_FORCE write to a read-only VMA leaves the entry read-only.
      if (!unshare) {
        pte_t e = pte_mkdirty(pte_mkyoung(orig));
        set_pte(ptep, (vma->vm_flags & VM_WRITE) ? pte_mkwrite(e) : e);
      }
      sync::spin_unlock(ptl);
      count_event(CNT_cow_reuses);
      return 0;
    }
  }
  if (f) folio_get(f);  // keep it alive for the copy once we drop the PTL
  sync::spin_unlock(ptl);
  return wp_page_copy(vma, addr, pmdp, orig, f, flags);
}

vm_fault_t handle_pte_fault(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, unsigned flags) {
  mm_struct* mm = vma->vm_mm;
  sync::spinlock_t* ptl;
  pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
  if (!ptep) return VM_FAULT_RETRY;
  pte_t entry = ptep_get(ptep);
  if (pte_none(entry)) {
    sync::spin_unlock(ptl);
    return vma_is_anonymous(vma) ? do_anonymous_page(vma, addr, pmdp, flags)
                                 : do_shared_fault(vma, addr, pmdp);
  }
  if (!pte_present(entry)) {
    // A swap or migration entry (reclaim, migration, split).
    sync::spin_unlock(ptl);
    return do_swap_page(vma, addr, pmdp, entry, flags);
  }
  if (pte_protnone(entry) && vma_is_accessible(vma)) {
    // A NUMA-hinting entry (do_numa_page): not modelled, and never made here.
    sync::spin_unlock(ptl);
    return VM_FAULT_SIGSEGV;
  }
  // In a PROT_NONE VMA only GUP with FOLL_FORCE (ptrace) faults: the entry is a present page
  // (handle_pte_fault's protnone test applies to accessible VMAs only), and a write breaks
  // COW as in any private mapping, the copy mapped PROT_NONE again (vm_page_prot).
  if (flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) {
    bool need_wp = (flags & FAULT_FLAG_WRITE) ? !pte_write(entry) : false;
    if (flags & FAULT_FLAG_UNSHARE) {
      // Unshare: a read pin needs an exclusive anon page (gup_must_unshare).
      folio* f = vm_normal_folio(vma, addr, entry);
      if (!(vma->vm_flags & VM_SHARED) && (!f || (folio_test_anon(f) && !PageAnonExclusive(pfn_to_page(pte_pfn(entry))))))
        need_wp = true;
    }
    if (need_wp) return do_wp_page(vma, addr, pmdp, ptep, ptl, entry, flags);
  }
  // Spurious fault (e.g. a stale TLB entry): set accessed/dirty as the hardware would.
  pte_t young = pte_mkyoung(entry);
  if (flags & FAULT_FLAG_WRITE) young = pte_mkdirty(young);
  if (pte_val(young) != pte_val(entry)) set_pte(ptep, young);
  sync::spin_unlock(ptl);
  return 0;
}

}  // namespace

vm_fault_t handle_mm_fault(vm_area_struct* vma, unsigned long addr, unsigned flags) {
  mm_struct* mm = vma->vm_mm;
  count_event(CNT_faults);
  pgd_t* pgdp = pgd_offset_pgd(mm->pgd, addr);
  pud_t* pudp = pud_alloc(mm, pgdp, addr);
  if (!pudp) return VM_FAULT_OOM;
  pmd_t* pmdp = pmd_alloc(mm, pudp, addr);
  if (!pmdp) return VM_FAULT_OOM;
  pmd_t pmd = pmdp_get_lockless(pmdp);
  if (pmd_none(pmd) && thp_vma_suitable(vma, addr)) {
    vm_fault_t ret = do_huge_pmd_anonymous_page(vma, addr, pmdp);
    if (!(ret & VM_FAULT_FALLBACK)) return ret;
    pmd = pmdp_get_lockless(pmdp);
  } else if (pmd_leaf(pmd)) {
    if (!(pmd.pmd & _PAGE_PRESENT)) return 0;  // being split: retry
    if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) && !pmd_write(pmd)) {
      vm_fault_t ret = do_huge_pmd_wp_page(vma, addr, pmdp, pmd, flags);
      if (!(ret & VM_FAULT_FALLBACK)) return ret;
      pmd = pmdp_get_lockless(pmdp);
    } else {
      return 0;  // accessed/dirty are set by the hardware walk
    }
  }
  if (pmd_none(pmd) && __pte_alloc(mm, pmdp)) return VM_FAULT_OOM;
  return handle_pte_fault(vma, addr, pmdp, flags);
}

GUPFAST_NS_END
