// Reverse mapping and the unmappers (mm/rmap.c: rmap_walk_anon, try_to_unmap_one,
// try_to_migrate_one, folio_referenced_one; mm/migrate.c: remove_migration_pte).
#include "mm/rmap.h"

#include "machine/counters.h"
#include "mm/huge_memory.h"
#include "mm/lazyfree.h"
#include "mm/swap.h"
#include "tlb/pt_seq.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

// ---- anon_vma and mm lifetime -------------------------------------------------------------

namespace {
struct anon_vma_free_rcu {
  sync::rcu_head rcu;  // first: the callback casts back
  anon_vma* av;
};
void anon_vma_free_cb(sync::rcu_head* h) {
  auto* w = reinterpret_cast<anon_vma_free_rcu*>(h);
  delete w->av;
  delete w;
}
}  // namespace

void put_anon_vma(anon_vma* av) {
  if (av->refcount.fetch_sub(1, sync::acq_rel) != 1) return;
  // SLAB_TYPESAFE_BY_RCU in the kernel: a folio_get_anon_vma() that read the pointer in
  // its RCU read section may still try to take a reference on it.
  auto* w = new anon_vma_free_rcu{{}, av};
  sync::call_rcu(&w->rcu, anon_vma_free_cb);
}

anon_vma* folio_get_anon_vma(folio* f) {
  anon_vma* av = nullptr;
  bool drop = false;
  sync::rcu_read_lock();
  // READ_ONCE(folio->mapping). Races with the last unmap and exit of the mm that mapped
  // the folio (anon_vma_leave -> put_anon_vma): while the folio is mapped, its anon_vma is
  // alive, and RCU keeps the memory valid until we leave the read section, so an
  // increment-unless-zero is safe; a zero count means it is on its way out.
  unsigned long m = f->page.mapping.load(sync::relaxed);
  if ((m & PAGE_MAPPING_ANON) && folio_mapped(f)) {
    av = reinterpret_cast<anon_vma*>(m & ~PAGE_MAPPING_ANON);
    long r = av->refcount.load(sync::relaxed);
    do {
      if (r == 0) {
        av = nullptr;
        break;
      }
    } while (!av->refcount.compare_exchange(r, r + 1, sync::seq_cst));
    // Unmapped since: the pointer may already have been stale when we read it.
    if (av && !folio_mapped(f)) drop = true;
  }
  sync::rcu_read_unlock();
  if (drop) {
    put_anon_vma(av);
    av = nullptr;
  }
  return av;
}

bool mmget_not_zero(mm_struct* mm) {
  int u = mm->mm_users.load(sync::relaxed);
  do {
    if (u == 0) return false;
  } while (!mm->mm_users.compare_exchange(u, u + 1, sync::seq_cst));
  return true;
}

// ---- the walk --------------------------------------------------------------------------------

void rmap_walk(folio* f, anon_vma* av, rmap_walk_control* rwc) {
  unsigned long start = f->page.index.load(sync::relaxed) << PAGE_SHIFT;
  long nr = rwc->nr_pages ? rwc->nr_pages : folio_nr_pages(f);
  unsigned long end = start + (static_cast<unsigned long>(nr) << PAGE_SHIFT);
  sync::spin_lock(&av->lock);
  for (mm_struct* mm : av->mms) {
    // Never block on mmap_lock under the anon_vma spinlock: mmap_lock holders may wait for
    // things that take it (fork's anon_vma_join, exit's anon_vma_leave).
    if (!mm->mmap_lock.down_read_trylock()) {
      rwc->contended = true;
      continue;
    }
    bool stop = false;
    // VMAs first: an exited mm has none, and never has its (freed) tables looked at.
    for (vm_area_struct* v = find_vma(mm, start); v && v->vm_start < end; v = find_vma(mm, v->vm_end)) {
      if (!vma_is_anonymous(v) || (v->vm_flags & VM_SHARED)) continue;
      if (!rwc->rmap_one(f, v, std::max(start, v->vm_start), std::min(end, v->vm_end), rwc->arg)) {
        stop = true;
        break;
      }
    }
    mm->mmap_lock.up_read();
    if (stop) break;
  }
  sync::spin_unlock(&av->lock);
}

namespace {

// Each PTE of [start, end) in mm, with its table's PTL held. fn returns false to stop.
// Context: mmap_lock held (the upper tables stay).
template <class F>
bool walk_ptes(mm_struct* mm, unsigned long start, unsigned long end, F fn) {
  for (unsigned long a = start; a < end;) {
    unsigned long next = pmd_addr_end(a, end);
    pmd_t* pmdp = mm_find_pmd(mm, a);
    sync::spinlock_t* ptl;
    pte_t* ptep = pmdp ? pte_offset_map_lock(mm, pmdp, a, &ptl) : nullptr;
    if (ptep) {
      for (unsigned long b = a; b < next; b += PAGE_SIZE, ptep++) {
        if (!fn(ptep, b)) {
          sync::spin_unlock(ptl);
          return false;
        }
      }
      sync::spin_unlock(ptl);
    }
    a = next;
  }
  return true;
}

bool folio_maps_pfn(folio* f, unsigned long pfn) {
  unsigned long first = folio_pfn(f);
  return pfn >= first && pfn < first + folio_nr_pages(f);
}

// Record a cleared PTE for the deferred flush (set_tlb_ubc_flush_pending). An mm that is
// exiting cannot be kept for later: flush it now, while its mmap_lock keeps it alive.
void tlb_batch_add(tlbflush_unmap_batch* batch, mm_struct* mm, unsigned long addr, bool dirty) {
  if (!batch) {
    flush_tlb_page(mm, addr);  // ptep_clear_flush
    return;
  }
  if (dirty) batch->writable = true;
  for (auto& r : batch->pending) {
    if (r.mm == mm) {
      r.start = std::min(r.start, addr);
      r.end = std::max(r.end, addr + PAGE_SIZE);
      return;
    }
  }
  if (!mmget_not_zero(mm)) {
    flush_tlb_page(mm, addr);
    return;
  }
  batch->pending.push_back({mm, addr, addr + PAGE_SIZE});
}

struct unmap_arg {
  tlbflush_unmap_batch* batch;
  swp_entry_t entry;  // try_to_unmap: the folio's swap slot
  bool migrate;
  ttu_result result = ttu_result::done;
};

// try_to_unmap_one() / try_to_migrate_one() for one VMA range.
// [UNMAP-CLEAR] Races with GUP-fast (gup_fast_pte_range): we clear the PTE, then (for an
// AnonExclusive page) check for pins after a full barrier; GUP-fast pins, then rechecks
// the PTE after a full barrier ([PIN-MB]). Either it sees the clear and drops its pin, or
// we see the pin and put the PTE back ([PIN-CHECK]). A plain GUP reference (no pin) is
// caught later by the refcount freeze instead. Under the seqcount strategy the change is
// also inside a pt_seq write section, so a walker that saw the old PTE discards it.
bool try_to_unmap_one(folio* f, vm_area_struct* vma, unsigned long start, unsigned long end, void* a) {
  auto* arg = static_cast<unmap_arg*>(a);
  mm_struct* mm = vma->vm_mm;
  return walk_ptes(mm, start, end, [&](pte_t* ptep, unsigned long addr) {
    pte_t pte = ptep_get(ptep);
    if (!pte_present(pte) || !folio_maps_pfn(f, pte_pfn(pte))) return true;
    page* p = pfn_to_page(pte_pfn(pte));
    pt_seq_write seq(mm, virt_to_table_page(ptep));
    bool anon_exclusive = PageAnonExclusive(p);
    pte_t pteval = ptep_get_and_clear(ptep);
    sync::yield_point(arg->migrate ? "try_to_migrate:after_clear" : "try_to_unmap:after_clear");
    tlb_batch_add(arg->batch, mm, addr, pte_dirty(pteval));
    if (pte_dirty(pteval)) folio_set_dirty(f);
    if (!arg->migrate && folio_test_lazyfree(f)) {
      // MADV_FREE page check (mm/lazyfree.h): drop the page instead of swapping it, if
      // nobody wants its data. [LAZYFREE-REFCHECK] Races with GUP-fast (gup_fast_pte_range):
      // we clear the PTE, then read the refcount after a full barrier; GUP-fast takes its
      // reference with a fully ordered add, then rechecks the PTE ([PTE-RECHECK]). Either it
      // sees our clear and drops the reference, or we see it and put the PTE back. The
      // dirty test after the count (smp_rmb, as __remove_mapping's): a holder that dirtied
      // the folio did so before dropping its reference.
      bool discard;
      if (is_unsafe(NO_LAZYFREE_REFCHECK)) {
        // Mutant: the check before 6c8e2a256915, the dirty bit alone. A direct-IO read
        // into the page marks it dirty only when the I/O completes.
        discard = !folio_test_dirty(f);
      } else {
        if (!is_unsafe(NO_LAZYFREE_MB)) sync::smp_mb();  // the clear before the count: pairs with the grab
        int refs = folio_ref_count(f), maps = folio_mapcount(f);
        // The count before the dirty bit. Not shown necessary here: every dirtier of an anon
        // folio in the model holds the folio lock, which we hold (docs/memory-model.md).
        sync::smp_rmb();
        discard = refs == 1 + maps && !folio_test_dirty(f);  // the isolation's + the mappings'
      }
      if (!discard) {
        // Redirtied, or referenced: it is wanted after all; swap-backed from now on.
        set_pte(ptep, pteval);
        folio_set_swapbacked(f);
        count_event(CNT_lazyfree_kept);
        arg->result = ttu_result::busy;
        return false;
      }
      seq.end();
      mm->rss_anon.fetch_sub(1, sync::relaxed);
      p->_mapcount.fetch_sub(1, sync::relaxed);  // folio_remove_rmap_pte; the PTE stays none
      folio_put(f);  // the mapping's reference
      return true;
    }
    pte_t swp;
    if (!arg->migrate) {
      if (swap_duplicate(arg->entry) < 0) {
        set_pte(ptep, pteval);
        arg->result = ttu_result::failed;
        return false;
      }
      // See folio_try_share_anon_rmap_pte(): the PTE is clear, now the pin check. Mutant
      // no-unmap-pin-check: the kernels before AnonExclusive (v5.19) had neither the check
      // nor the exclusive bit in the swap entry; the page just stops being exclusive.
      if (is_unsafe(NO_UNMAP_PIN_CHECK)) {
        if (anon_exclusive) ClearPageAnonExclusive(p);
        anon_exclusive = false;
      } else if (anon_exclusive && folio_try_share_anon_rmap_pte(f, p)) {
        swap_free(arg->entry);
        set_pte(ptep, pteval);
        arg->result = ttu_result::pinned;
        return false;
      }
      swp = swp_entry_to_pte(arg->entry);
      if (anon_exclusive) swp = pte_swp_mkexclusive(swp);
      mm->rss_anon.fetch_sub(1, sync::relaxed);  // the swap entry is not resident
    } else {
      if (anon_exclusive && folio_try_share_anon_rmap_pte(f, p)) {
        set_pte(ptep, pteval);
        arg->result = ttu_result::pinned;
        return false;
      }
      // The entry remembers what the PTE allowed: writable, or exclusive read-only.
      unsigned long pfn = page_to_pfn(p);
      swp_entry_t e = pte_write(pteval)  ? make_writable_migration_entry(pfn)
                      : anon_exclusive ? make_readable_exclusive_migration_entry(pfn)
                                       : make_readable_migration_entry(pfn);
      swp = swp_entry_to_pte(e);
    }
    set_pte(ptep, swp);
    seq.end();
    p->_mapcount.fetch_sub(1, sync::relaxed);  // folio_remove_rmap_pte
    folio_put(f);  // the mapping's reference; the caller's keeps the folio
    return true;
  });
}

ttu_result unmap_walk(folio* f, anon_vma* av, tlbflush_unmap_batch* batch, bool migrate) {
  unmap_arg arg{batch, migrate ? swp_entry_t{} : folio_swap_entry(f), migrate};
  rmap_walk_control rwc;
  rwc.arg = &arg;
  rwc.rmap_one = try_to_unmap_one;
  rmap_walk(f, av, &rwc);
  if (arg.result != ttu_result::done) return arg.result;
  return rwc.contended ? ttu_result::busy : ttu_result::done;
}

struct rmp_arg {
  folio* src;
  folio* dst;
  long nr;  // pages of src (before a split)
};

// remove_migration_pte(): a migration entry for a page of src becomes a PTE mapping the
// same-index page of dst. Non-present -> present needs no flush, nor a pt_seq section (a
// walker that read the migration entry stopped there).
bool remove_migration_pte(folio*, vm_area_struct* vma, unsigned long start, unsigned long end, void* a) {
  auto* arg = static_cast<rmp_arg*>(a);
  mm_struct* mm = vma->vm_mm;
  unsigned long src_pfn = folio_pfn(arg->src);
  walk_ptes(mm, start, end, [&](pte_t* ptep, unsigned long) {
    pte_t pte = ptep_get(ptep);
    if (!is_swap_pte(pte)) return true;
    swp_entry_t e = pte_to_swp_entry(pte);
    unsigned long pfn = swp_offset_pfn(e);
    if (!is_migration_entry(e) || pfn < src_pfn || pfn >= src_pfn + arg->nr) return true;
    page* np = &arg->dst->page + (swp_offset_pfn(e) - src_pfn);
    folio* nf = page_folio(np);  // after a split: the page's own new folio
    // mprotect may have dropped VM_WRITE since (it leaves migration entries alone).
    bool writable = is_writable_migration_entry(e) && (vma->vm_flags & VM_WRITE);
    pte_t npte = pfn_pte(page_to_pfn(np), vm_get_page_prot(writable ? vma->vm_flags : vma->vm_flags & ~VM_WRITE));
    if (writable && folio_test_dirty(nf)) npte = pte_mkdirty(npte);
    if (!is_readable_migration_entry(e)) SetPageAnonExclusive(np);  // RMAP_EXCLUSIVE
    folio_get(nf);
    np->_mapcount.fetch_add(1, sync::relaxed);
    // AnonExclusive and the page contents before the PTE: GUP-fast reads the PTE, then
    // (gup_must_unshare, after smp_rmb) the flag.
    sync::smp_wmb();
    set_pte(ptep, npte);
    return true;
  });
  return true;
}

bool split_pmd_one(folio* f, vm_area_struct* vma, unsigned long start, unsigned long, void* a) {
  mm_struct* mm = vma->vm_mm;
  unsigned long haddr = start & PMD_MASK;
  pmd_t* pmdp = mm_find_pmd(mm, haddr);
  if (!pmdp) return true;
  pmd_t pmd = pmdp_get(pmdp);
  if (pmd_leaf(pmd) && pmd_pfn(pmd) == folio_pfn(f) && __split_huge_pmd(vma, pmdp, haddr)) {
    *static_cast<bool*>(a) = false;  // -ENOMEM
    return false;
  }
  return true;
}

bool referenced_one(folio* f, vm_area_struct* vma, unsigned long start, unsigned long end, void* a) {
  auto* young = static_cast<int*>(a);
  mm_struct* mm = vma->vm_mm;
  if (pmd_t* pmdp = mm_find_pmd(mm, start & PMD_MASK)) {
    pmd_t pmd = pmdp_get(pmdp);
    if (pmd_leaf(pmd) && pmd_pfn(pmd) == folio_pfn(f)) {
      sync::spinlock_t* ptl = pmd_lockptr(mm, pmdp);
      sync::spin_lock(ptl);
      if (pmd_val(pmdp_get(pmdp)) == pmd_val(pmd) && (pmd.pmd & _PAGE_ACCESSED)) {
        pgtable_detail::entry_clear_bits_low(&pmdp->pmd, uint32_t(_PAGE_ACCESSED));
        ++*young;
      }
      sync::spin_unlock(ptl);
      return true;
    }
  }
  walk_ptes(mm, start, end, [&](pte_t* ptep, unsigned long) {
    pte_t pte = ptep_get(ptep);
    // ptep_test_and_clear_young(): a locked clear of the bit the hardware walker sets
    // with a locked cmpxchg; x86 does not flush for it.
    if (pte_present(pte) && folio_maps_pfn(f, pte_pfn(pte)) && pte_young(pte)) {
      pgtable_detail::entry_clear_bits_low(&ptep->pte, uint32_t(_PAGE_ACCESSED));
      ++*young;
    }
    return true;
  });
  return true;
}

}  // namespace

void try_to_unmap_flush(tlbflush_unmap_batch* batch) {
  for (auto& r : batch->pending) {
    flush_tlb_mm_range(r.mm, r.start, r.end);
    mmput(r.mm);
  }
  batch->pending.clear();
  batch->writable = false;
}

void try_to_unmap_flush_dirty(tlbflush_unmap_batch* batch) {
  if (batch->writable) try_to_unmap_flush(batch);
}

ttu_result try_to_unmap(folio* f, anon_vma* av, tlbflush_unmap_batch* batch) {
  return unmap_walk(f, av, batch, false);
}

ttu_result try_to_migrate(folio* f, anon_vma* av, tlbflush_unmap_batch* batch) {
  return unmap_walk(f, av, batch, true);
}

void remove_migration_ptes(folio* src, folio* dst, anon_vma* av, long nr_pages) {
  rmp_arg arg{src, dst, nr_pages ? nr_pages : folio_nr_pages(src)};
  // Every migration entry must go, or a faulting thread waits forever and the old frame is
  // freed under an entry that names it. A busy mm is retried with the whole list: an mm
  // forked meanwhile comes after its parent, so a round that visits the parent after the
  // fork copied its entry also visits the child after that (and a fork that copies after
  // we restored the parent copies a present PTE).
  for (;;) {
    rmap_walk_control rwc;
    rwc.arg = &arg;
    rwc.rmap_one = remove_migration_pte;
    rwc.nr_pages = arg.nr;
    rmap_walk(src, av, &rwc);
    if (!rwc.contended) break;
    sync::cpu_relax();
  }
}

bool split_huge_pmd_folio(folio* f, anon_vma* av) {
  bool ok = true;
  rmap_walk_control rwc;
  rwc.arg = &ok;
  rwc.rmap_one = split_pmd_one;
  rmap_walk(f, av, &rwc);
  return ok && !rwc.contended;
}

int folio_referenced(folio* f, anon_vma* av) {
  int young = 0;
  rmap_walk_control rwc;
  rwc.arg = &young;
  rwc.rmap_one = referenced_one;
  rmap_walk(f, av, &rwc);
  return young;
}

GUPFAST_NS_END
