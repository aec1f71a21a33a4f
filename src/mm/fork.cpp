// fork(): copy_page_range (mm/memory.c) and dup_mm (kernel/fork.c).
#include <cerrno>

#include "machine/counters.h"
#include "mm/huge_memory.h"
#include "mm/mempolicy.h"
#include "mm/mm.h"
#include "mm/swap.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

namespace {

// folio_needs_cow_for_dma(): a pinned page of an mm that ever pinned must not be shared.
bool folio_needs_cow_for_dma(vm_area_struct* vma, folio* f) {
  if (!mm_flags_test(vma->vm_mm, MMF_HAS_PINNED)) return false;
  return folio_maybe_dma_pinned(f);
}

// folio_try_dup_anon_rmap_pte(): share an anon page with the child, or -EBUSY if it must be
// copied because it may be pinned. Context: src PTL held; write_protect_seq odd, so a
// GUP-fast that pins from now on discards its pin ([WP-SEQ]).
int folio_try_dup_anon_rmap_pte(folio* f, page* p, vm_area_struct* src_vma) {
  if (PageAnonExclusive(p)) {
    if (folio_needs_cow_for_dma(src_vma, f)) return -EBUSY;
    ClearPageAnonExclusive(p);
  }
  p->_mapcount.fetch_add(1, sync::relaxed);
  return 0;
}

// copy_present_page(): the child gets its own copy right away; the parent keeps the
// (possibly pinned) original, writable as it was.
int copy_present_page(vm_area_struct* dst_vma, pte_t* dst_pte, unsigned long addr, page* src) {
  folio* nf = vma_alloc_folio(0, 0, dst_vma, addr);
  if (!nf) return -ENOMEM;
  copy_user_highpage(folio_pfn(nf), page_to_pfn(src));
  sync::smp_wmb();
  folio_add_new_anon_rmap(nf, dst_vma, addr);
  folio_add_lru(nf);
  dst_vma->vm_mm->rss_anon.fetch_add(1, sync::relaxed);
  pte_t pte = pte_mkdirty(pfn_pte(folio_pfn(nf), vm_get_page_prot(dst_vma->vm_flags)));
  set_pte(dst_pte, pte);
  count_event(CNT_fork_pinned_copies);
  return 0;
}

// copy_nonpresent_pte(): a swap entry is shared with the child (one more swap count) and
// loses its exclusive mark in both, so neither maps the page exclusive on swap-in; a
// migration entry is copied, made read-only in both for a COW mapping (the migrator's
// remove_migration_ptes then maps the page read-only and shared in both).
// Context: both PTLs held.
int copy_nonpresent_pte(vm_area_struct* dst_vma, vm_area_struct* src_vma, pte_t* dst_pte, pte_t* src_pte, pte_t pte) {
  swp_entry_t e = pte_to_swp_entry(pte);
  if (!non_swap_entry(e)) {
    if (swap_duplicate(e) < 0) return -EIO;
    if (pte_swp_exclusive(pte)) {
      pte = pte_swp_clear_exclusive(pte);
      set_pte(src_pte, pte);
    }
  } else if (is_migration_entry(e)) {
    dst_vma->vm_mm->rss_anon.fetch_add(1, sync::relaxed);
    if (!is_readable_migration_entry(e) && is_cow_mapping(src_vma->vm_flags)) {
      pte = swp_entry_to_pte(make_readable_migration_entry(swp_offset(e)));
      set_pte(src_pte, pte);
    }
  }
  set_pte(dst_pte, pte);
  return 0;
}

int copy_pte_range(vm_area_struct* dst_vma, vm_area_struct* src_vma, pmd_t* dst_pmdp, pmd_t* src_pmdp,
                   unsigned long addr, unsigned long end) {
  mm_struct* dst_mm = dst_vma->vm_mm;
  mm_struct* src_mm = src_vma->vm_mm;
  if (pmd_none(pmdp_get(dst_pmdp)) && __pte_alloc(dst_mm, dst_pmdp)) return -ENOMEM;
  sync::spinlock_t *dst_ptl, *src_ptl;
  pte_t* dst_pte = pte_offset_map_lock(dst_mm, dst_pmdp, addr, &dst_ptl);
  pte_t* src_pte = pte_offset_map_lock(src_mm, src_pmdp, addr, &src_ptl);
  int err = 0;
  bool cow = is_cow_mapping(src_vma->vm_flags);
  for (; addr < end; addr += PAGE_SIZE, dst_pte++, src_pte++) {
    pte_t pte = ptep_get(src_pte);
    if (pte_none(pte)) continue;
    if (!pte_present(pte)) {
      if ((err = copy_nonpresent_pte(dst_vma, src_vma, dst_pte, src_pte, pte))) break;
      continue;
    }
    folio* f = vm_normal_folio(src_vma, addr, pte);
    page* p = f ? pfn_to_page(pte_pfn(pte)) : nullptr;
    if (f && folio_test_anon(f)) {
      folio_get(f);
      if (folio_try_dup_anon_rmap_pte(f, p, src_vma)) {
        folio_put(f);
        if ((err = copy_present_page(dst_vma, dst_pte, addr, p))) break;
        continue;
      }
      dst_mm->rss_anon.fetch_add(1, sync::relaxed);
      // Between "not pinned" and the write-protect below: a GUP-fast pin here is what
      // write_protect_seq exists for (no-wp-seq).
      sync::yield_point("copy_present_pte:after_dup_check");
    } else if (f) {
      folio_get(f);
      p->_mapcount.fetch_add(1, sync::relaxed);
      dst_mm->rss_shmem.fetch_add(1, sync::relaxed);
    }
    // A COW mapping: write-protect both. The parent's stale writable TLB entries go with
    // dup_mm's flush_tlb_mm. [FORK-WP] GUP-fast's PTE recheck sees this change.
    if (cow && pte_write(pte)) {
      ptep_set_wrprotect(src_pte);
      pte = pte_wrprotect(pte);
    }
    if (src_vma->vm_flags & VM_SHARED) pte = pte_mkclean(pte);
    set_pte(dst_pte, pte_mkold(pte));
  }
  sync::spin_unlock(src_ptl);
  sync::spin_unlock(dst_ptl);
  return err;
}

}  // namespace

int copy_page_range(vm_area_struct* dst_vma, vm_area_struct* src_vma) {
  mm_struct* dst_mm = dst_vma->vm_mm;
  mm_struct* src_mm = src_vma->vm_mm;
  bool cow = is_cow_mapping(src_vma->vm_flags);
  if (cow) {
    // [WP-SEQ-WRITE] Odd for the whole copy: a GUP-fast that pins meanwhile sees the
    // count change and unpins (gup_fast). The kernel relies on the locked RMW of the
    // following spin_lock for the store->load order against the pin check below (x86);
    // we state it: the odd count is visible before we read any pin count.
    raw_write_seqcount_begin(&src_mm->write_protect_seq);
    sync::smp_mb();
  }
  int err = 0;
  for (unsigned long addr = src_vma->vm_start; addr < src_vma->vm_end;) {
    unsigned long next = pmd_addr_end(addr, src_vma->vm_end);
    pmd_t* src_pmdp = mm_find_pmd(src_mm, addr);
    if (src_pmdp && (pmd_table(pmdp_get(src_pmdp)) || pmd_leaf(pmdp_get(src_pmdp)))) {
      pgd_t* dst_pgdp = pgd_offset_pgd(dst_mm->pgd, addr);
      pud_t* dst_pudp = pud_alloc(dst_mm, dst_pgdp, addr);
      pmd_t* dst_pmdp = dst_pudp ? pmd_alloc(dst_mm, dst_pudp, addr) : nullptr;
      if (!dst_pmdp) {
        err = -ENOMEM;
        break;
      }
      if (pmd_leaf(pmdp_get(src_pmdp))) {
        err = copy_huge_pmd(dst_vma, src_vma, dst_pmdp, src_pmdp, addr);
        if (!err) {
          addr = next;
          continue;
        }
        if (err != -EAGAIN) break;
        err = 0;  // split: copy its PTEs below
      }
      if ((err = copy_pte_range(dst_vma, src_vma, dst_pmdp, src_pmdp, addr, next))) break;
    }
    addr = next;
  }
  if (cow) raw_write_seqcount_end(&src_mm->write_protect_seq);
  return err;
}

GUPFAST_NS_END
