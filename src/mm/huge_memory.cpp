// Transparent huge pages mapped by a PMD leaf (mm/huge_memory.c): the huge fault, the
// write-protect fault, split_huge_pmd, and the zap and fork of a leaf.
//
// A PMD-mapped THP is one order-9 folio: one reference and _entire_mapcount 0 for the
// PMD mapping; AnonExclusive on the head page stands for the whole leaf. Splitting the
// PMD maps the same folio with 512 PTEs: one reference and one _mapcount per PTE.
// There is no huge zero page: a read fault on a THP VMA allocates the huge folio. Every leaf
// has a PTE table deposited for it (pgtable_trans_huge_deposit, below), as the kernel's:
// its split uses it, its zap frees it.
#include <cerrno>

#include "machine/counters.h"
#include "mm/huge_memory.h"
#include "mm/mempolicy.h"
#include "mm/swap.h"
#include "tlb/pt_seq.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

bool thp_vma_suitable(vm_area_struct* vma, unsigned long addr) {
  if (!(vma->vm_flags & VM_HUGEPAGE) || !vma_is_anonymous(vma) || (vma->vm_flags & VM_SHARED)) return false;
  unsigned long haddr = addr & PMD_MASK;
  return haddr >= vma->vm_start && haddr + PMD_SIZE <= vma->vm_end;
}

void pgtable_trans_huge_deposit(mm_struct*, pmd_t* pmdp, page* pgtable) {
  page* pmd_table = virt_to_table_page(pmdp);
  pgtable->lru_next = pmd_table->lru_next;  // NO_PFN: the first
  pmd_table->lru_next = static_cast<uint32_t>(page_to_pfn(pgtable));
}

page* pgtable_trans_huge_withdraw(mm_struct*, pmd_t* pmdp) {
  page* pmd_table = virt_to_table_page(pmdp);
  uint32_t pfn = pmd_table->lru_next;
  if (pfn == NO_PFN) return nullptr;  // a leaf without its deposit: a bug of ours
  page* pgtable = pfn_to_page(pfn);
  pmd_table->lru_next = pgtable->lru_next;
  pgtable->lru_next = NO_PFN;
  return pgtable;
}

vm_fault_t do_huge_pmd_anonymous_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp) {
  mm_struct* mm = vma->vm_mm;
  unsigned long haddr = addr & PMD_MASK;
  folio* f = vma_alloc_folio(__GFP_ZERO, HPAGE_PMD_ORDER, vma, haddr);
  if (!f) return VM_FAULT_FALLBACK;  // no huge folio: small pages will do
  page* pgtable = pagetable_alloc(mm);  // pte_alloc_one(): the leaf's deposit
  if (!pgtable) {
    folio_put(f);
    return VM_FAULT_FALLBACK;
  }
  sync::smp_wmb();                   // zeroed contents before the leaf that maps them
  folio_set_uptodate(f);
  pmd_t entry = pfn_pmd_leaf(folio_pfn(f), vm_get_page_prot(vma->vm_flags));
  entry.pmd |= _PAGE_DIRTY;
  sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
  sync::spin_lock(ptl);
  if (!pmd_none(pmdp_get(pmdp))) {
    sync::spin_unlock(ptl);
    pagetable_free(pgtable);
    folio_put(f);
    return 0;
  }
  f->page.mapping.store(reinterpret_cast<unsigned long>(mm->av) | PAGE_MAPPING_ANON, sync::relaxed);
  f->page.index.store(haddr >> PAGE_SHIFT, sync::relaxed);
  folio_set_swapbacked(f);
  SetPageAnonExclusive(&f->page);
  f->page._entire_mapcount.store(0, sync::relaxed);
  folio_add_lru(f);
  mm->rss_anon.fetch_add(HPAGE_PMD_NR, sync::relaxed);
  pgtable_trans_huge_deposit(mm, pmdp, pgtable);
  mm->nr_ptes.fetch_add(1, sync::relaxed);  // mm_inc_nr_ptes: a deposit counts as a table
  set_pmd(pmdp, entry);
  sync::spin_unlock(ptl);
  count_event(CNT_thp_faults);
  return 0;
}

int __split_huge_pmd(vm_area_struct* vma, pmd_t* pmdp, unsigned long addr) {
  mm_struct* mm = vma->vm_mm;
  unsigned long haddr = addr & PMD_MASK;
  sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
  sync::spin_lock(ptl);
  pmd_t old = pmdp_get(pmdp);
  // Any leaf, PROT_NONE ones included (_PAGE_PROTNONE, no _PAGE_PRESENT: khugepaged
  // collapses PROT_NONE VMAs too). Testing _PAGE_PRESENT here skipped those, so mprotect
  // left a PROT_NONE leaf under an accessible VMA, and copy_huge_pmd's split-and-retry
  // handed copy_page_range a leaf. The invalidated leaf below is never seen here: it only
  // exists while a splitter holds this PMD lock.
  if (!pmd_leaf(old)) {
    sync::spin_unlock(ptl);
    return 0;
  }
  page* table = pgtable_trans_huge_withdraw(mm, pmdp);  // the leaf's deposit becomes its table
  if (!table) {
    sync::spin_unlock(ptl);
    return -ENOMEM;
  }
  pt_seq_write seq(mm, virt_to_table_page(pmdp));
  // pmdp_invalidate(): not present for the hardware and GUP-fast (pmd_access_permitted
  // fails), still a leaf for us; flush so no CPU keeps the 2 MiB translation.
  // [SPLIT-INVALIDATE] GUP-fast's [LEAF-RECHECK] sees this change.
  pmd_t invalid{old.pmd & ~(_PAGE_PRESENT | _PAGE_PROTNONE)};
  set_pmd(pmdp, invalid);
  flush_tlb_mm_range(mm, haddr, haddr + PMD_SIZE);

  page* head = pfn_to_page(pmd_pfn(old));
  folio* f = page_folio(head);
  bool anon_exclusive = PageAnonExclusive(head);
  bool write = pmd_write(old);
  pgprot prot = write ? pgprot::write : (vma->vm_flags & VM_READ ? pgprot::read : pgprot::none);
  auto* ptes = reinterpret_cast<pte_t*>(page_address(table));
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    page* p = head + i;
    pte_t pte = pfn_pte(page_to_pfn(p), prot);
    if (old.pmd & _PAGE_DIRTY) pte = pte_mkdirty(pte);
    p->_mapcount.fetch_add(1, sync::relaxed);
    if (anon_exclusive) SetPageAnonExclusive(p);
    sync::store(&ptes[i].pte, pte.pte, sync::relaxed);
  }
  folio_ref_add(f, HPAGE_PMD_NR - 1);  // one reference per PTE mapping
  f->page._entire_mapcount.fetch_sub(1, sync::relaxed);
  sync::smp_wmb();  // the filled table before the PMD that points to it (pmd_populate)
  set_pmd(pmdp, pfn_pmd_table(page_to_pfn(table)));
  seq.end();
  sync::spin_unlock(ptl);
  count_event(CNT_thp_splits_pmd);
  return 0;
}

vm_fault_t do_huge_pmd_wp_page(vm_area_struct* vma, unsigned long addr, pmd_t* pmdp, pmd_t orig, unsigned flags) {
  mm_struct* mm = vma->vm_mm;
  bool unshare = (flags & FAULT_FLAG_UNSHARE) && !(flags & FAULT_FLAG_WRITE);
  sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
  sync::spin_lock(ptl);
  if (pmd_val(pmdp_get(pmdp)) != pmd_val(orig)) {
    sync::spin_unlock(ptl);
    return 0;
  }
  page* head = pfn_to_page(pmd_pfn(orig));
  folio* f = page_folio(head);
  bool reuse = PageAnonExclusive(head);
  if (!reuse && folio_ref_count(f) == 1 && folio_trylock(f)) {
    if (folio_ref_count(f) == 1) {
      SetPageAnonExclusive(head);
      reuse = true;
    }
    folio_unlock(f);
  }
  if (reuse) {
    // maybe_mkwrite(): a FOLL_FORCE write to a read-only VMA leaves the leaf read-only.
    pteval_t rw = (vma->vm_flags & VM_WRITE) ? _PAGE_RW : 0;
    if (!unshare) set_pmd(pmdp, {orig.pmd | rw | _PAGE_DIRTY | _PAGE_ACCESSED});
    sync::spin_unlock(ptl);
    return 0;
  }
  sync::spin_unlock(ptl);
  // Shared with a fork child or referenced elsewhere: split, and let the PTE-level COW
  // copy just the page that is written.
  if (__split_huge_pmd(vma, pmdp, addr)) return VM_FAULT_OOM;
  return VM_FAULT_FALLBACK;
}

bool zap_huge_pmd(mmu_gather* tlb, vm_area_struct* vma, pmd_t* pmdp, unsigned long addr) {
  mm_struct* mm = vma->vm_mm;
  sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
  sync::spin_lock(ptl);
  // __pmd_trans_huge_lock(): the caller read the PMD without this lock, and a split (under
  // mmap_lock for read, as MADV_DONTNEED) may have made it a PTE table since. Clearing that
  // unconditionally detached the table with its PTEs still mapping the split folio: the
  // table, the folio and any swap entries in it leaked (stress, small geometry, madvise +
  // split + collapse: 2-9 runs in 30).
  if (!pmd_leaf(pmdp_get(pmdp))) {
    sync::spin_unlock(ptl);
    return false;
  }
  pmd_t old;
  {
    pt_seq_write seq(mm, virt_to_table_page(pmdp));
    old = pmdp_huge_get_and_clear(pmdp);  // [ZAP-CLEAR] for a leaf
  }
  // zap_deposited_table(): pte_free() at once. Safe because no lockless walker can be inside
  // the deposit: a fault's was never reachable, and collapse synced with every walker that
  // could still see the table it detached and deposited ([COLLAPSE-SYNC]; mutant
  // no-collapse-sync: a table-uaf here, 2ba99c5e0881).
  page* pgtable = pgtable_trans_huge_withdraw(mm, pmdp);
  sync::spin_unlock(ptl);
  if (pgtable) {
    pagetable_free(pgtable);
    mm->nr_ptes.fetch_sub(1, sync::relaxed);
  }
  tlb_remove_tlb_entry(tlb, addr & PMD_MASK, PMD_SIZE);
  folio* f = page_folio(pfn_to_page(pmd_pfn(old)));
  if (old.pmd & _PAGE_DIRTY) folio_set_dirty(f);
  f->page._entire_mapcount.fetch_sub(1, sync::relaxed);
  mm->rss_anon.fetch_sub(HPAGE_PMD_NR, sync::relaxed);
  tlb_remove_folio(tlb, f);
  return true;
}

int copy_huge_pmd(vm_area_struct* dst_vma, vm_area_struct* src_vma, pmd_t* dst_pmdp, pmd_t* src_pmdp,
                  unsigned long addr) {
  mm_struct* dst_mm = dst_vma->vm_mm;
  mm_struct* src_mm = src_vma->vm_mm;
  page* pgtable = pagetable_alloc(dst_mm);  // pte_alloc_one(): the child's leaf's deposit
  if (!pgtable) return -ENOMEM;
  sync::spinlock_t* dst_ptl = pmd_lockptr(dst_mm, dst_pmdp);
  sync::spinlock_t* src_ptl = pmd_lockptr(src_mm, src_pmdp);
  sync::spin_lock(dst_ptl);
  sync::spin_lock(src_ptl);
  pmd_t pmd = pmdp_get(src_pmdp);
  // -EAGAIN only if the PMD is no longer a leaf (the kernel's !pmd_trans_huge): the caller
  // then copies it at PTE level, so it must be a PTE table. A PROT_NONE leaf (_PAGE_PROTNONE
  // without _PAGE_PRESENT, e.g. collapsed in a PROT_NONE VMA) is copied like any leaf: taking
  // it for "being split" (testing _PAGE_PRESENT) sent a leaf to copy_pte_range, whose
  // pte_offset_map_lock() returned NULL (the fork segfault). Under the PMD lock no split is
  // in progress: __split_huge_pmd's invalidated leaf lives only inside that lock.
  if (!pmd_leaf(pmd)) {
    sync::spin_unlock(src_ptl);
    sync::spin_unlock(dst_ptl);
    pagetable_free(pgtable);
    return -EAGAIN;
  }
  page* head = pfn_to_page(pmd_pfn(pmd));
  folio* f = page_folio(head);
  folio_get(f);
  // folio_try_dup_anon_rmap_pmd(): a maybe-pinned exclusive THP is not shared with the
  // child: split it and copy at PTE level (copy_present_page does the copying).
  if (PageAnonExclusive(head)) {
    if (mm_flags_test(src_mm, MMF_HAS_PINNED) && folio_maybe_dma_pinned(f)) {
      folio_put(f);
      sync::spin_unlock(src_ptl);
      sync::spin_unlock(dst_ptl);
      pagetable_free(pgtable);
      // -EAGAIN promises a PTE table: a split that failed (-ENOMEM) left the leaf.
      if (int err = __split_huge_pmd(src_vma, src_pmdp, addr)) return err;
      return -EAGAIN;
    }
    ClearPageAnonExclusive(head);
  }
  f->page._entire_mapcount.fetch_add(1, sync::relaxed);
  dst_mm->rss_anon.fetch_add(HPAGE_PMD_NR, sync::relaxed);
  pgtable_trans_huge_deposit(dst_mm, dst_pmdp, pgtable);
  dst_mm->nr_ptes.fetch_add(1, sync::relaxed);
  pmdp_set_wrprotect(src_pmdp);  // [FORK-WP] for a leaf
  set_pmd(dst_pmdp, {pmd.pmd & ~(_PAGE_RW | _PAGE_ACCESSED)});
  sync::spin_unlock(src_ptl);
  sync::spin_unlock(dst_ptl);
  return 0;
}

GUPFAST_NS_END
