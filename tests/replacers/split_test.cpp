// split_folio (mm/split.cpp), single-threaded and deterministic: data and exclusivity
// survive, pins and transient references make it back off, and GUP-fast's page->folio
// recheck is what keeps a grab racing the split on the right folio.
#include "race/inject.h"
#include "mm/huge_memory.h"
#include "replace_support.h"

namespace gupfast::test {
namespace {

using gupfast_test::inject_once;

// split_huge_pmd() of the leaf mapping addr: a PTE table mapping the same large folio.
int split_pmd(mm_struct* mm, unsigned long addr) {
  mm->mmap_lock.down_read();
  vm_area_struct* v = vma_lookup(mm, addr);
  pmd_t* pmdp = mm_find_pmd(mm, addr);
  int r = (v && pmdp) ? __split_huge_pmd(v, pmdp, addr) : -EINVAL;
  mm->mmap_lock.up_read();
  return r;
}

class Split : public ReplaceParamTest {
 protected:
  // A PMD-mapped THP full of the pattern; returns its head pfn.
  unsigned long make_thp(mm_struct* m, uint8_t salt) {
    map(HREGION, PMD_SIZE, MAP_PRIVATE_ | MAP_HUGE_THP, m);
    fill(m, HREGION, HPAGE_PMD_NR, salt);
    mapping_info mi = lookup(m, HREGION);
    EXPECT_TRUE(mi.leaf);
    return mi.pfn;
  }
};

TEST_P(Split, DataAndExclusivitySurviveSplit) {
  unsigned long head = make_thp(mm, 6);
  ASSERT_TRUE(folio_test_large(page_folio(pfn_to_page(head))));
  EXPECT_EQ(split_folio_at(mm, HREGION + 5 * PAGE_SIZE), 0);
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    mapping_info m = lookup(mm, HREGION + i * PAGE_SIZE);
    ASSERT_TRUE(m.present && !m.leaf) << i;
    ASSERT_EQ(m.pfn, head + i) << "the data did not move";
    page* p = pfn_to_page(m.pfn);
    ASSERT_EQ(page_folio(p), reinterpret_cast<folio*>(p)) << "page " << i << " is not its own folio";
    ASSERT_FALSE(folio_test_large(page_folio(p)));
    ASSERT_EQ(folio_ref_count(page_folio(p)), 1) << "one reference: its mapping";
    ASSERT_TRUE(m.write && PageAnonExclusive(p));
  }
  EXPECT_EQ(lru_nr_folios(), unsigned(HPAGE_PMD_NR)) << "every new folio is on the LRU";
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
  fill(mm, HREGION, HPAGE_PMD_NR, 7);
  EXPECT_EQ(counter_read(CNT_cow_copies), 0u);
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 7), -1);
  EXPECT_EQ(split_folio_at(mm, HREGION), -EINVAL) << "already small";
}

TEST_P(Split, ForkSharedThpSplitsInBothMms) {
  unsigned long head = make_thp(mm, 6);
  mm_struct* child = fork_mm(mm);
  ASSERT_TRUE(lookup(child, HREGION).leaf);
  EXPECT_EQ(split_folio_at(mm, HREGION), 0);
  for (int i = 0; i < HPAGE_PMD_NR; i += 37) {
    unsigned long a = HREGION + i * PAGE_SIZE;
    EXPECT_EQ(mapped_pfn(child, a), long(head + i));
    EXPECT_FALSE(lookup(child, a).leaf);
    EXPECT_FALSE(lookup(mm, a).write);
  }
  EXPECT_EQ(check(child, HREGION, HPAGE_PMD_NR, 6), -1);
  fill(child, HREGION, 8, 9);  // COW of a few pages in the child
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
  EXPECT_EQ(check(child, HREGION, 8, 9), -1);
}

// A COW of one page of a PTE-mapped THP (wp_page_copy) takes the mapping off that page,
// not off the head (folio_remove_rmap_pte(folio, page)). Charged to the head, the tail
// kept a mapcount with no PTE and no reference: folio_mapcount() (the sum) still looked
// right, but once reclaim's split_folio made each page its own folio the tail stayed
// "mapped" forever, in the swap cache and on the LRU (the stress harness's reclaim+fork
// leak).
TEST_P(Split, CowOfPteMappedThpTailUnmapsThatPage) {
  unsigned long head = make_thp(mm, 6);
  mm_struct* child = fork_mm(mm);
  constexpr int K = 7;
  unsigned long a = HREGION + K * PAGE_SIZE;
  // The shared leaf is split in the child (do_huge_pmd_wp_page), then page K is copied.
  ASSERT_EQ(mm_store(child, a, 0x5A), 0);
  ASSERT_FALSE(lookup(child, HREGION).leaf);
  ASSERT_TRUE(lookup(mm, HREGION).leaf);
  EXPECT_NE(mapped_pfn(child, a), long(head + K)) << "page K was not copied";
  EXPECT_EQ(page_mapcount(pfn_to_page(head + K)), 0) << "the copied tail still counts the child's PTE";
  EXPECT_EQ(page_mapcount(pfn_to_page(head)), 1) << "the child's PTE for the head";
  EXPECT_EQ(folio_mapcount(page_folio(pfn_to_page(head))), HPAGE_PMD_NR) << "parent's leaf + 511 child PTEs";
  put_mm(child);
  // Now only the parent's leaf maps it: reclaim splits it and swaps out every page.
  reclaim_stats st;
  EXPECT_EQ(reclaim_range(mm, HREGION, PMD_SIZE, &st), HPAGE_PMD_NR) << "a tail stayed mapped after the split";
  EXPECT_EQ(counter_read(CNT_split_done), 1u);
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
}

TEST_P(Split, PinnedThpIsNotSplit) {
  make_thp(mm, 6);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, HREGION + 9 * PAGE_SIZE, 1, FOLL_WRITE, &p), 1);
  EXPECT_EQ(split_folio_at(mm, HREGION), -EAGAIN);
  EXPECT_EQ(counter_read(CNT_split_pinned), 1u);
  EXPECT_TRUE(lookup(mm, HREGION).leaf) << "nothing was touched";
  unpin_user_page(p);
  EXPECT_EQ(split_folio_at(mm, HREGION), 0);
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
}

TEST_P(Split, PinAfterClearRestoresTheLargeFolio) {
  unsigned long head = make_thp(mm, 6);
  folio* pinned = nullptr;
  {
    inject_once inj("try_to_migrate:after_clear",
                    [&] { pinned = try_grab_folio_fast(pfn_to_page(head + 3), 1, FOLL_PIN); });
    EXPECT_EQ(split_folio_at(mm, HREGION), -EAGAIN);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(pinned, nullptr);
  EXPECT_EQ(counter_read(CNT_split_unmap_pinned), 1u);
  folio* f = page_folio(pfn_to_page(head));
  EXPECT_TRUE(folio_test_large(f));
  for (int i = 0; i < HPAGE_PMD_NR; i++) ASSERT_EQ(mapped_pfn(mm, HREGION + i * PAGE_SIZE), long(head + i)) << i;
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
  gup_put_folio(pinned, 1, FOLL_PIN);
  EXPECT_EQ(split_folio_at(mm, HREGION), 0);
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
}

TEST_P(Split, ReferenceBeforeFreezeBacksOff) {
  unsigned long head = make_thp(mm, 6);
  folio* grabbed = nullptr;
  {
    inject_once inj("split_folio:before_freeze",
                    [&] { grabbed = try_grab_folio_fast(pfn_to_page(head + 100), 1, FOLL_GET); });
    EXPECT_EQ(split_folio_at(mm, HREGION), -EAGAIN);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(grabbed, nullptr);
  EXPECT_EQ(counter_read(CNT_split_freeze_failed), 1u);
  EXPECT_TRUE(folio_test_large(page_folio(pfn_to_page(head))));
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
  gup_put_folio(grabbed, 1, FOLL_GET);
  EXPECT_EQ(split_folio_at(mm, HREGION), 0);
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
}

// MADV_DONTNEED of the whole 2 MiB reads the leaf PMD without its lock; before it takes the
// lock, a split (also under mmap_lock for read) makes the PMD a PTE table. zap_huge_pmd()
// must see that under the lock and leave the zap to the PTE level: clearing the PMD
// regardless detached the table with its PTEs still mapping the split folio, and the table
// and the folio leaked (the stress harness's small-geometry leak; the fixture's teardown
// counts the frames).
TEST_P(Split, SplitBetweenZapsLoadAndLockZapsAtPteLevel) {
  unsigned long head = make_thp(mm, 6);
  {
    inject_once inj("zap:after_pmd_load", [&] { EXPECT_EQ(split_pmd(mm, HREGION), 0); });
    ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
    ASSERT_EQ(inj.fired(), 1);
  }
  for (int i = 0; i < HPAGE_PMD_NR; i += 51) EXPECT_FALSE(lookup(mm, HREGION + i * PAGE_SIZE).present) << i;
  EXPECT_EQ(folio_ref_count(page_folio(pfn_to_page(head))), 0) << "the folio went back to the allocator";
  EXPECT_EQ(load(mm, HREGION + 7 * PAGE_SIZE + 5), 0) << "a new fault reads zeroes";
}

// pgtable_trans_huge_deposit: the huge fault deposits a PTE table for the leaf; the split
// makes that very table the leaf's PTE table (it allocates none), and a zap of a leaf frees
// its deposit at once. Teardown's leak check covers the rest.
TEST_P(Split, LeafCarriesItsDepositedTable) {
  long ptes_before = mm->nr_ptes.load(sync::relaxed);
  make_thp(mm, 6);
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), ptes_before + 1) << "the deposit counts as a table";
  pmd_t* pmdp = mm_find_pmd(mm, HREGION);
  ASSERT_NE(pmdp, nullptr);
  uint32_t deposit = virt_to_table_page(pmdp)->lru_next;
  ASSERT_NE(deposit, NO_PFN) << "no table deposited for the leaf";
  uint64_t allocated = counter_read(CNT_tables_allocated);
  ASSERT_EQ(split_pmd(mm, HREGION), 0);
  EXPECT_EQ(counter_read(CNT_tables_allocated), allocated) << "a split allocates nothing";
  EXPECT_EQ(pmd_pfn(pmdp_get(pmdp)), deposit) << "the deposit became the leaf's PTE table";
  EXPECT_EQ(virt_to_table_page(pmdp)->lru_next, NO_PFN) << "withdrawn";
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), ptes_before + 1);
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);

  // A second leaf, zapped whole: its deposit goes back with it.
  map(HREGION + PMD_SIZE, PMD_SIZE, MAP_PRIVATE_ | MAP_HUGE_THP, mm);
  fill(mm, HREGION + PMD_SIZE, 1, 8);
  ASSERT_TRUE(lookup(mm, HREGION + PMD_SIZE).leaf);
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), ptes_before + 2);
  uint64_t freed = counter_read(CNT_tables_freed);
  ASSERT_EQ(do_madvise(mm, HREGION + PMD_SIZE, PMD_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(counter_read(CNT_tables_freed), freed + 1) << "zap_deposited_table";
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), ptes_before + 1);
}

REPLACE_INSTANTIATE_ALL(Split);

// GUP-fast reads the PTE of page 3 of a PTE-mapped THP and computes its folio (the large
// one); before it takes the reference, the folio is split. Its add-unless-zero then
// succeeds on the old head, which is a small folio of its own now: only the page->folio
// recheck ([FOLIO-RECHECK]) sends it back to take the reference on page 3's new folio.
// Injected on the walker's thread, so only with broadcast flushes (the split's flush does
// not wait for the walker).
struct recheck_case {
  table_strategy strategy;
  uint32_t unsafe;
  bool expect_bug;
};

class SplitFolioRecheck : public ReplaceFixture, public ::testing::WithParamInterface<recheck_case> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = GetParam().strategy;
    c.tlb = tlb_mode::broadcast;
    c.unsafe = GetParam().unsafe;
    return c;
  }
};

TEST_P(SplitFolioRecheck, GrabRacingSplitTakesThePagesNewFolio) {
  map(HREGION, PMD_SIZE, MAP_PRIVATE_ | MAP_HUGE_THP);
  fill(mm, HREGION, HPAGE_PMD_NR, 6);
  ASSERT_EQ(split_pmd(mm, HREGION), 0);
  unsigned long head = static_cast<unsigned long>(mapped_pfn(mm, HREGION));
  page* p3 = pfn_to_page(head + 3);
  page* got = nullptr;
  long n;
  {
    inject_once inj("try_get_folio:before_ref", [&] { ASSERT_EQ(split_folio_at(mm, HREGION), 0); });
    n = pin_user_pages_fast(mm, HREGION + 3 * PAGE_SIZE, 1, FOLL_WRITE, &got);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_EQ(n, 1);
  ASSERT_EQ(got, p3);
  folio* head_folio = page_folio(pfn_to_page(head));
  if (GetParam().expect_bug) {
    EXPECT_FALSE(folio_maybe_dma_pinned(page_folio(p3))) << "the mutant pinned page 3 through the old head";
    EXPECT_TRUE(folio_maybe_dma_pinned(head_folio));
    gup_put_folio(head_folio, 1, FOLL_PIN);  // undo the pin where it really went
  } else {
    EXPECT_TRUE(folio_maybe_dma_pinned(page_folio(p3)));
    EXPECT_FALSE(folio_maybe_dma_pinned(head_folio));
    EXPECT_GE(counter_read(CNT_stop_folio_changed) + counter_read(CNT_stop_seq_changed), 1u);
    unpin_user_page(got);
  }
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 6), -1);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SplitFolioRecheck,
    ::testing::Values(recheck_case{table_strategy::rcu, 0, false}, recheck_case{table_strategy::seqcount, 0, false},
                      recheck_case{table_strategy::rcu, 1u << NO_FOLIO_RECHECK, true}),
    [](const ::testing::TestParamInfo<recheck_case>& i) {
      std::string s = to_string(i.param.strategy);
      return s + (i.param.unsafe ? "_no_folio_recheck" : "_safe");
    });

}  // namespace
}  // namespace gupfast::test
