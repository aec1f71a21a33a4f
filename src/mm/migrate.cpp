// Page migration of anonymous folios (mm/migrate.c). The sequence is in mm/migrate.h.
#include "mm/migrate.h"

#include <cerrno>

#include "machine/counters.h"
#include "mm/rmap.h"
#include "mm/split.h"
#include "mm/swap.h"
#include "mm/vmscan.h"

GUPFAST_NS_BEGIN

namespace {

enum class fail_why { pinned, busy, freeze_failed, nomem, split_failed };

void count_fail(migrate_stats* st, fail_why why) {
  switch (why) {
    case fail_why::pinned: st->nr_pinned++; count_event(CNT_migrate_pinned); break;
    case fail_why::busy: st->nr_busy++; count_event(CNT_migrate_busy); break;
    case fail_why::freeze_failed: st->nr_freeze_failed++; count_event(CNT_migrate_freeze_failed); break;
    case fail_why::nomem: st->nr_nomem++; count_event(CNT_migrate_nomem); break;
    case fail_why::split_failed: st->nr_split_failed++; count_event(CNT_migrate_split_failed); break;
  }
}

// folio_migrate_flags(): the state that travels with the data. AnonExclusive travels in
// the migration entries (remove_migration_pte sets it on the new page).
void folio_migrate_flags(folio* dst, folio* src) {
  if (folio_test_referenced(src)) folio_set_referenced(dst);
  if (folio_test_dirty(src)) folio_set_dirty(dst);
  if (folio_test_swapbacked(src)) folio_set_swapbacked(dst);  // a lazyfree folio stays lazyfree
  folio_set_uptodate(dst);
}

// migrate_folio_move() after a successful unmap: under the freeze, nobody else can hold
// or take a reference to src; copy it into dst and move its swap-cache slot.
// Context: src and dst locked, src frozen at 0.
void move_to_new_folio(folio* dst, folio* src) {
  dst->page.mapping.store(src->page.mapping.load(sync::relaxed), sync::relaxed);
  dst->page.index.store(src->page.index.load(sync::relaxed), sync::relaxed);
  if (folio_test_swapcache(src)) {
    // __folio_migrate_mapping(): the cache's references move to dst with the entry.
    folio_ref_add(dst, static_cast<int>(folio_nr_pages(src)));
    swap_cache_replace_folio(src, dst);
  }
  copy_user_highpage(folio_pfn(dst), folio_pfn(src));  // dst: locked, not mapped yet
  folio_migrate_flags(dst, src);
  // The copy before anything that publishes dst (the PTEs remove_migration_pte installs).
  sync::smp_wmb();
}

// migrate one isolated small folio (one reference: the isolation's). true if moved.
bool migrate_one(folio* src, migrate_stats* st) {
  if (folio_maybe_dma_pinned(src)) {
    // A pinned page cannot move: the device keeps writing the old frame (the refcount
    // check below would refuse it too; this saves the unmap).
    count_fail(st, fail_why::pinned);
    return false;
  }
  // alloc_migration_target(): the destination is the next node (as move_pages() or NUMA
  // balancing would pick one); on a one-node machine, any free frame of that node.
  folio* dst = __folio_alloc_node(0, 0, (folio_nid(src) + 1) % nr_online_nodes);
  if (!dst) {
    count_fail(st, fail_why::nomem);
    return false;
  }
  folio_trylock(dst);  // new, unpublished: always succeeds
  anon_vma* av = folio_get_anon_vma(src);
  tlbflush_unmap_batch batch;
  ttu_result r = ttu_result::done;
  if (folio_mapped(src)) r = av ? try_to_migrate(src, av, &batch) : ttu_result::busy;
  // Flush before the copy: a CPU that still writes through an old translation would write
  // the old frame after we copied it.
  try_to_unmap_flush(&batch);
  fail_why why = fail_why::freeze_failed;
  bool ok = !folio_mapped(src);
  if (!ok) {
    why = r == ttu_result::pinned ? fail_why::pinned : fail_why::busy;
    if (r == ttu_result::pinned) count_event(CNT_migrate_unmap_pinned);
  }
  int expected = 1 + (folio_test_swapcache(src) ? static_cast<int>(folio_nr_pages(src)) : 0);
  if (ok) {
    sync::yield_point("migrate:before_freeze");
    // [REF-FREEZE] against GUP-fast's [REF-TRY-ADD] through a PTE read before the unmap,
    // and swap-in's swap_cache_get_folio. (For a folio outside the swap cache the kernel
    // only compares the count -- nothing can look such a folio up any more; freezing is
    // the stronger form of the same check.)
    ok = folio_ref_freeze(src, expected);
  }
  if (!ok) {
    count_fail(st, why);
    if (av) remove_migration_ptes(src, src, av);  // back to the old folio
    if (av) put_anon_vma(av);
    folio_unlock(dst);
    folio_put(dst);
    return false;
  }
  sync::yield_point("migrate:after_freeze");
  move_to_new_folio(dst, src);
  // Only our isolation reference remains on src; the swap cache's went to dst.
  folio_ref_unfreeze(src, 1);
  folio_add_lru(dst);
  if (av) {
    remove_migration_ptes(src, dst, av);
    put_anon_vma(av);
  }
  folio_unlock(dst);
  folio_put(dst);  // the allocation's; the new mappings hold theirs
  count_event(CNT_migrate_done);
  st->nr_migrated++;
  return true;
}

}  // namespace

long migrate_range(mm_struct* mm, unsigned long start, unsigned long len, migrate_stats* out) {
  if (!mm) return -EINVAL;
  migrate_stats local;
  migrate_stats* st = out ? out : &local;
  unsigned long end;
  if (!user_range_ok(start, len, &end)) return -EINVAL;
  std::vector<folio*> list;
  unsigned long busy = 0;
  int err = isolate_range_folios(mm, start, end, &list, &busy, &st->nr_not_anon);
  st->nr_busy += busy;
  count_event(CNT_migrate_busy, busy);
  if (err) return err;
  long migrated = 0;
  // `list` grows while we go: splitting a large folio appends its tails.
  for (size_t i = 0; i < list.size(); i++) {
    folio* f = list[i];
    st->nr_scanned++;
    bool moved = false;
    if (!folio_trylock(f)) {
      count_fail(st, fail_why::busy);
    } else {
      if (folio_test_large(f) && split_folio_to_list(f, &list))
        count_fail(st, fail_why::split_failed);
      else
        moved = migrate_one(f, st);
      folio_unlock(f);
    }
    if (moved) {
      migrated++;
      folio_put(f);  // the old frame goes (or with a transient reference's last put)
    } else {
      folio_putback_lru(f);
    }
  }
  return migrated;
}

void migration_entry_wait(mm_struct* mm, pmd_t* pmdp, unsigned long addr) {
  count_event(CNT_migration_entry_waits);
  // The kernel sleeps on the folio lock the migrator holds; we spin until the entry is
  // gone. The migrator never waits for us: its rmap walk only trylocks mmap_lock, which
  // our read hold does not block.
  for (;;) {
    sync::spinlock_t* ptl;
    pte_t* ptep = pte_offset_map_lock(mm, pmdp, addr, &ptl);
    if (!ptep) return;
    pte_t pte = ptep_get(ptep);
    sync::spin_unlock(ptl);
    if (!is_swap_pte(pte) || !is_migration_entry(pte_to_swp_entry(pte))) return;
    sync::yield_point("migration_entry_wait:wait");
    sync::cpu_relax();
  }
}

GUPFAST_NS_END
