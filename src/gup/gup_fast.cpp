// GUP-fast: walk the page tables with no lock, grab a reference, revalidate
// (mm/gup.c: gup_fast, gup_fast_pgd_range ... gup_fast_pte_range, gup_fast_pmd_leaf).
//
// What keeps it correct (docs/gup.md has the full essay):
//  1. The tables it walks are not freed under it: irqs off blocks the flush IPI that
//     precedes a table free (strategy ipi); irqs off is an RCU read section that holds off
//     the grace period after which tables are freed (rcu); or tables are type-stable and
//     mm->pt_seq tells the walker to discard what it saw (seqcount).
//  2. Each entry is loaded once; the next level is found from the loaded copy, never by
//     re-reading the parent. A PAE entry is loaded with the low/high/low retry.
//  3. The struct page it finds is never freed (the memmap), so taking a reference on it is
//     always memory-safe; add-unless-zero refuses freed and frozen folios.
//  4. Having the reference, it rechecks page->folio, then the PMD and the PTE. If anything
//     changed it drops the reference and stops: the slow path does the rest. Writers clear
//     the entry, flush, and only then check for references or free.
//  5. For FOLL_PIN, mm->write_protect_seq is sampled before and validated after, so a pin
//     racing fork's write-protect is discarded.
#include "gup/gup.h"
#include "machine/counters.h"
#include "tlb/pt_seq.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

namespace {

// pte_offset_map(): the PTE table of the walker's loaded copy of the PMD, or nullptr if
// the copy is not a table (none, a leaf, or bad), e.g. because a collapse replaced it.
pte_t* pte_offset_map(const pmd_t* pmdvalp, unsigned long addr) {
  pmd_t pmd = *pmdvalp;
  if (!pmd_table(pmd)) return nullptr;
  return pte_offset_lockless(pmd, addr);
}

// gup_fast_folio_allowed(): no long-term writable pin of file pages that need dirty
// tracking. Reads folio->mapping once: it may change under us (truncation, reuse).
bool gup_fast_folio_allowed(folio* f, unsigned flags) {
  bool reject_file_backed = (flags & (FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE)) == (FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE);
  if (!reject_file_backed) return true;
  unsigned long mapping = folio_mapping_raw(f);  // READ_ONCE(folio->mapping)
  if (!mapping) return false;                     // truncated or freed: ask the slow path
  if (mapping & PAGE_MAPPING_ANON) return true;
  return true;  // the only file-backed memory here is shmem (shared anonymous), which is allowed
}

void stop(counter_id why) { count_event(why); }

bool gup_fast_pte_range(pmd_t pmd, pmd_t* pmdp, unsigned long addr, unsigned long end, unsigned flags,
                        page** pages, int* nr, pt_seq_reader* seq) {
  pte_t* ptep = pte_offset_map(&pmd, addr);
  if (!ptep) {
    stop(CNT_stop_table_gone);
    return false;
  }
  if (seq && !seq->enter_table(pfn_to_page(pmd_pfn(pmd)))) {
    stop(CNT_stop_seq_changed);
    return false;
  }
  do {
    // Races with zap_pte_range(), COW (wp_page_copy), fork's write-protect, mprotect and,
    // later, reclaim's try_to_unmap and migration. Safe because we take the folio
    // reference first and then recheck the PMD and the PTE ([PTE-RECHECK]); on mismatch
    // we drop the reference and stop.
    pte_t pte = ptep_get_lockless(ptep);
    page_table_check_walk_read(ptep, pte.pte);
    sync::yield_point("gup_fast:after_pte_load");
    if (!pte_present(pte)) {
      stop(CNT_stop_not_present);
      return false;
    }
    // PROT_NONE (and NUMA hinting) entries: always the slow path, which checks the VMA.
    if (pte_protnone(pte) || !pte_access_permitted(pte, flags & FOLL_WRITE)) {
      stop(CNT_stop_permission);
      return false;
    }
    if (pte_special(pte)) {  // the zero page and other pages without a memmap owner
      stop(CNT_stop_special);
      return false;
    }
    // The kernel's VM_BUG_ON(!pfn_valid(pte_pfn(pte))): a present entry names RAM, because
    // ptep_get_lockless() never returns a value that was not stored ([PAE-READ]). A torn
    // read (the torn-pte-read mutant) can name a hole or beyond the last node, where there
    // is no struct page to take a reference on; the oracle reports the read itself
    // (page_table_check_walk_read), and here we stop instead of touching a wild pointer.
    if (!pfn_valid(pte_pfn(pte))) [[unlikely]] {
      stop(CNT_stop_bad_pfn);
      return false;
    }
    page* p = pfn_to_page(pte_pfn(pte));
    folio* f = try_grab_folio_fast(p, 1, flags);
    if (!f) return false;
    sync::yield_point("gup_fast:after_grab");
    // [PTE-RECHECK] Pairs with [ZAP-CLEAR], [COW-CLEAR], [FORK-WP] and the unmappers'
    // clear-then-check-references: either they see our reference, or we see their change.
    // The PMD half pairs with collapse's [COLLAPSE-DETACH] + [COLLAPSE-REFCHECK] and PT
    // reclaim's [PT-RECLAIM-CLEAR] (mm/khugepaged.cpp, mm/pt_reclaim.cpp).
    if (!is_unsafe(NO_PMD_RECHECK) && pmd_val(pmd) != pmd_val(pmdp_get(pmdp))) {
      gup_put_folio(f, 1, flags);
      stop(CNT_stop_pmd_changed);
      return false;
    }
    if (!is_unsafe(NO_PTE_RECHECK) && pte_val(pte) != pte_val(ptep_get(ptep))) {
      gup_put_folio(f, 1, flags);
      stop(CNT_stop_pte_changed);
      return false;
    }
    if (!gup_fast_folio_allowed(f, flags)) {
      gup_put_folio(f, 1, flags);
      stop(CNT_stop_longterm);
      return false;
    }
    if (!pte_write(pte) && gup_must_unshare(nullptr, flags, p)) {
      gup_put_folio(f, 1, flags);
      stop(CNT_stop_unshare);
      return false;
    }
    folio_set_referenced(f);
    pages[(*nr)++] = p;
  } while (ptep++, addr += PAGE_SIZE, addr != end);
  return true;
}

// A 2 MiB leaf: one grab of `refs` references on the huge folio (one atomic for all its
// subpages), one recheck of the single leaf entry.
bool gup_fast_pmd_leaf(pmd_t orig, pmd_t* pmdp, unsigned long addr, unsigned long end, unsigned flags,
                       page** pages, int* nr) {
  if (!pmd_access_permitted(orig, flags & FOLL_WRITE)) {
    stop(CNT_stop_permission);
    return false;
  }
  if (pmd_special(orig)) {
    stop(CNT_stop_special);
    return false;
  }
  int refs = static_cast<int>((end - addr) >> PAGE_SHIFT);
  page* p = pfn_to_page(pmd_pfn(orig)) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
  folio* f = try_grab_folio_fast(p, refs, flags);
  if (!f) return false;
  sync::yield_point("gup_fast:after_leaf_grab");
  // [LEAF-RECHECK] Races with split_huge_pmd and zap of the leaf.
  if (!is_unsafe(NO_LEAF_RECHECK) && pmd_val(orig) != pmd_val(pmdp_get(pmdp))) {
    gup_put_folio(f, refs, flags);
    stop(CNT_stop_pmd_changed);
    return false;
  }
  if (!gup_fast_folio_allowed(f, flags)) {
    gup_put_folio(f, refs, flags);
    stop(CNT_stop_longterm);
    return false;
  }
  if (!pmd_write(orig) && gup_must_unshare(nullptr, flags, &f->page)) {
    gup_put_folio(f, refs, flags);
    stop(CNT_stop_unshare);
    return false;
  }
  for (int i = 0; i < refs; i++) pages[(*nr)++] = p + i;
  folio_set_referenced(f);
  return true;
}

bool gup_fast_pmd_range(pud_t pud, unsigned long addr, unsigned long end, unsigned flags, page** pages,
                        int* nr, pt_seq_reader* seq) {
  pmd_t* pmdp = pmd_offset_lockless(pud, addr);
  if (seq && !seq->enter_table(pfn_to_page(pud_pfn(pud)))) {
    stop(CNT_stop_seq_changed);
    return false;
  }
  do {
    // Races with collapse (pmdp_collapse_flush), split_huge_pmd, zap of a leaf and table
    // frees. One load ([PAE-READ] on PAE: pmdp_get_lockless's low/high/low, pairs with
    // [PAE-SET]/[PAE-CLEAR]); the PTE table or leaf is found from this copy, and rechecked
    // after the grab ([PTE-RECHECK] compares pmd to *pmdp, [LEAF-RECHECK] the leaf).
    // Mutant torn-pmd-read: READ_ONCE(*pmdp), as before 1180e732c985 (PAE: it may tear).
    pmd_t pmd = is_unsafe(TORN_PMD_READ) ? pmdp_get_read_once_torn(pmdp) : pmdp_get_lockless(pmdp);
    page_table_check_walk_read(pmdp, pmd.pmd);
    sync::yield_point("gup_fast:after_pmd_load");
    unsigned long next = pmd_addr_end(addr, end);
    if (!pmd_present(pmd)) {
      stop(CNT_stop_not_present);
      return false;
    }
    if (pmd_leaf(pmd)) {
      if (pmd_protnone(pmd)) {
        stop(CNT_stop_permission);
        return false;
      }
      if (!gup_fast_pmd_leaf(pmd, pmdp, addr, next, flags, pages, nr)) return false;
    } else if (!gup_fast_pte_range(pmd, pmdp, addr, next, flags, pages, nr, seq)) {
      return false;
    }
    addr = next;
  } while (pmdp++, addr != end);
  return true;
}

bool gup_fast_pud_range(pgd_t pgd, unsigned long addr, unsigned long end, unsigned flags, page** pages,
                        int* nr, pt_seq_reader* seq) {
  pud_t* pudp = pud_offset_lockless(pgd, addr);
  do {
    pud_t pud = pudp_get(pudp);
    page_table_check_walk_read(pudp, pud.pud);
    unsigned long next = pud_addr_end(addr, end);
    if (!pud_present(pud)) {
      stop(CNT_stop_not_present);
      return false;
    }
    if (!gup_fast_pmd_range(pud, addr, next, flags, pages, nr, seq)) return false;
    addr = next;
  } while (pudp++, addr != end);
  return true;
}

// seq: the seqcount strategy's reader, or nullptr.
void gup_fast_pgd_range(mm_struct* mm, unsigned long addr, unsigned long end, unsigned flags, page** pages,
                        int* nr, pt_seq_reader* seq) {
  pgd_t* pgdp = pgd_offset_pgd(mm->pgd, addr);
  do {
    pgd_t pgd = pgdp_get(pgdp);
    page_table_check_walk_read(pgdp, pgd.pgd);
    unsigned long next = pgd_addr_end(addr, end);
    if (pgd_none(pgd)) {
      stop(CNT_stop_not_present);
      return;
    }
    if (!gup_fast_pud_range(pgd, addr, next, flags, pages, nr, seq)) return;
    addr = next;
  } while (pgdp++, addr != end);
}

// Drop what the walk took (gup_fast_unpin_user_pages, and put_page for FOLL_GET).
void gup_fast_undo(page** pages, int nr, unsigned flags) {
  for (int i = 0; i < nr;) {
    folio* f = page_folio(pages[i]);
    int n = 1;
    while (i + n < nr && page_folio(pages[i + n]) == f) n++;
    gup_put_folio(f, n, flags);
    i += n;
  }
}

}  // namespace

unsigned long gup_fast(mm_struct* mm, unsigned long start, unsigned long end, unsigned flags, page** pages) {
  if (!sync::this_cpu() || start >= end) return 0;
  // Join mm_cpumask before reading any table: from now on flush IPIs (strategy ipi) and
  // tlb_remove_table_sync_one reach us. Pairs with the flusher's smp_mb + mask read.
  switch_mm(mm);
  count_event(CNT_gup_fast_calls);

  // [WP-SEQ] raw_seqcount_try_begin: fork is copying (odd): don't even try.
  // Pairs with [WP-SEQ-WRITE] in copy_page_range.
  bool check_wp = (flags & FOLL_PIN) && !is_unsafe(NO_WP_SEQ);
  unsigned wp_seq = 0;
  if (check_wp) {
    wp_seq = raw_read_seqcount(&mm->write_protect_seq);  // its smp_rmb: the walk's loads after it
    if (wp_seq & 1) {
      count_event(CNT_wp_seq_busy);
      stop(CNT_stop_seq_changed);
      return 0;
    }
  }

  int nr = 0;
  switch (g_cfg.strategy) {
    case table_strategy::ipi: {
      // Irqs off: the shootdown IPI that precedes any table free waits for us.
      unsigned long irq = sync::local_irq_save();
      page_table_check_walk_begin();
      gup_fast_pgd_range(mm, start, end, flags, pages, &nr, nullptr);
      sync::local_irq_restore(irq);
      break;
    }
    case table_strategy::rcu: {
      // Irqs off is an RCU read-side section in the kernel (and blocks the IPI of
      // tlb_remove_table_sync_one); here both are explicit.
      unsigned long irq = sync::local_irq_save();
      sync::rcu_read_lock();
      page_table_check_walk_begin();
      gup_fast_pgd_range(mm, start, end, flags, pages, &nr, nullptr);
      sync::rcu_read_unlock();
      sync::local_irq_restore(irq);
      break;
    }
    case table_strategy::seqcount: {
      // [PT-SEQ] Linus's proposal: no irqs off. Sample, walk, grab, validate. Tables are
      // type-stable, so a stale pointer still reads a table; a change to anything we
      // read since we sampled it discards everything. Pairs with [PT-SEQ-WRITE].
      pt_seq_reader seq;
      if (!seq.begin(mm)) {
        stop(CNT_stop_seq_changed);
        return 0;
      }
      page_table_check_walk_begin();
      gup_fast_pgd_range(mm, start, end, flags, pages, &nr, &seq);
      if (!is_unsafe(NO_SEQ_VALIDATE) && !seq.validate()) {
        gup_fast_undo(pages, nr, flags);
        stop(CNT_stop_seq_changed);
        return 0;
      }
      break;
    }
  }

  // When pinning for DMA, a concurrent fork may have write-protected what we pinned.
  if (check_wp && read_seqcount_retry(&mm->write_protect_seq, wp_seq)) {
    gup_fast_undo(pages, nr, flags);
    stop(CNT_stop_seq_changed);
    return 0;
  }
  count_event(CNT_gup_fast_pages, nr);
  return nr;
}

GUPFAST_NS_END
