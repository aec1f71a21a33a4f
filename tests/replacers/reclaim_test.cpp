// Reclaim and swap-in (mm/vmscan.cpp, mm/swap*.cpp, mm/swapin.cpp), single-threaded and
// deterministic: data survives, pinned pages stay, the pin check and the refcount freeze
// back off, for every strategy x entry format.
#include "race/inject.h"
#include "replace_support.h"

namespace gupfast::test {
namespace {

using gupfast_test::inject_once;

class Reclaim : public ReplaceParamTest {};

TEST_P(Reclaim, DataSurvivesReclaimAndSwapIn) {
  constexpr int N = 16;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  unsigned long before = machine_frames_in_use();
  reclaim_stats st;
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, &st), N);
  EXPECT_EQ(st.nr_reclaimed, unsigned(N));
  for (int i = 0; i < N; i++) EXPECT_TRUE(swapped_out(mm, REGION + i * PAGE_SIZE)) << i;
  EXPECT_EQ(machine_frames_in_use(), before - N) << "reclaimed frames went back to the allocator";
  EXPECT_EQ(swap_slots_in_use(), unsigned(N));
  EXPECT_EQ(counter_read(CNT_pswpout), uint64_t(N));
  EXPECT_EQ(check(mm, REGION, N, 1), -1) << "swapped-in data differs";
  EXPECT_EQ(counter_read(CNT_swapin_faults), uint64_t(N));

  // Read faults leave the folios clean in the swap cache: reclaiming them again needs no
  // write-out, and swap-in finds the same data.
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  EXPECT_EQ(counter_read(CNT_pswpout), uint64_t(N));
  // Write faults on swapped-out pages: exclusive (the entry says so), written in place.
  fill(mm, REGION, N, 2);
  EXPECT_EQ(counter_read(CNT_cow_copies), 0u) << "an exclusive page came back shared";
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  EXPECT_EQ(counter_read(CNT_pswpout), uint64_t(2 * N)) << "dirty pages are written out again";
  EXPECT_EQ(check(mm, REGION, N, 2), -1);
}

TEST_P(Reclaim, ForkSharesSwapSlotsAndCopiesOnWrite) {
  constexpr int N = 4;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  mm_struct* child = fork_mm(mm);
  EXPECT_EQ(swap_slots_in_use(), unsigned(N)) << "fork shares the slots";
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
  EXPECT_EQ(check(child, REGION, N, 1), -1);
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(mapped_pfn(mm, REGION + i * PAGE_SIZE), mapped_pfn(child, REGION + i * PAGE_SIZE))
        << "both swap in the same swap-cache folio";
    EXPECT_FALSE(lookup(mm, REGION + i * PAGE_SIZE).write) << "a shared page is mapped read-only";
  }
  fill(child, REGION, N, 3);
  EXPECT_EQ(check(mm, REGION, N, 1), -1) << "the child's writes reached the parent";
  EXPECT_EQ(check(child, REGION, N, 3), -1);
  // And once more through swap: the parent's pages are its own again.
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  ASSERT_EQ(reclaim_range(child, REGION, N * PAGE_SIZE, nullptr), N);
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
  EXPECT_EQ(check(child, REGION, N, 3), -1);
}

TEST_P(Reclaim, HugePageIsSplitThenSwapped) {
  map(HREGION, PMD_SIZE, MAP_PRIVATE_ | MAP_HUGE_THP);
  fill(mm, HREGION, HPAGE_PMD_NR, 5);
  ASSERT_TRUE(lookup(mm, HREGION).leaf);
  reclaim_stats st;
  EXPECT_EQ(reclaim_range(mm, HREGION, PMD_SIZE, &st), HPAGE_PMD_NR);
  EXPECT_EQ(counter_read(CNT_split_done), 1u);
  EXPECT_EQ(st.nr_scanned, unsigned(HPAGE_PMD_NR));
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 5), -1);
}

TEST_P(Reclaim, LruGivesYoungPagesAnotherRound) {
  constexpr int N = 8;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  EXPECT_EQ(lru_nr_folios(), unsigned(N));
  reclaim_stats st;
  EXPECT_EQ(reclaim_lru(100, &st), 0) << "every page was just accessed";
  EXPECT_EQ(st.nr_referenced, unsigned(N));
  EXPECT_EQ(reclaim_lru(100, &st), N) << "accessed bits were cleared by the first round";
  EXPECT_EQ(lru_nr_folios(), 0u);
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
}

TEST_P(Reclaim, PinnedPageIsNotReclaimedAndDeviceWritesSurvive) {
  constexpr int N = 4;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  unsigned long a = REGION + PAGE_SIZE;
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &p), 1);
  reclaim_stats st;
  EXPECT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, &st), N - 1);
  EXPECT_EQ(st.nr_pinned, 1u);
  EXPECT_EQ(mapped_pfn(mm, a), long(page_to_pfn(p))) << "the pinned page stays mapped";
  frame_write_byte(page_to_pfn(p), 5, 0xEE);  // the device writes through the pin
  unpin_user_pages_dirty_lock(&p, 1, true);
  EXPECT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), 1);
  EXPECT_EQ(load(mm, a + 5), 0xEE) << "the device's write was lost";
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
}

// GUP-fast loaded the PTE before try_to_unmap cleared it and pins right after the clear.
// The pin check after the barrier ([PIN-CHECK] vs [PIN-MB]) sees the pin: the PTE goes
// back, AnonExclusive stays, reclaim keeps the folio.
TEST_P(Reclaim, PinAfterClearPutsThePteBack) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  unsigned long pfn = static_cast<unsigned long>(mapped_pfn(mm, REGION));
  pte_t before = pte_at(mm, REGION);
  folio* pinned = nullptr;
  reclaim_stats st;
  {
    inject_once inj("try_to_unmap:after_clear", [&] { pinned = try_grab_folio_fast(pfn_to_page(pfn), 1, FOLL_PIN); });
    EXPECT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, &st), 0);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(pinned, nullptr);
  EXPECT_EQ(st.nr_pinned, 1u);
  EXPECT_EQ(counter_read(CNT_reclaim_unmap_pinned), 1u);
  EXPECT_EQ(pte_val(pte_at(mm, REGION)), pte_val(before)) << "the PTE was not restored";
  EXPECT_TRUE(PageAnonExclusive(pfn_to_page(pfn)));
  frame_write_byte(pfn, 9, 0xD1);
  page* pg = pfn_to_page(pfn);
  unpin_user_pages_dirty_lock(&pg, 1, true);
  EXPECT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, nullptr), 1);
  EXPECT_EQ(load(mm, REGION + 9), 0xD1);
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
}

// A reference held across reclaim (a GUP-fast between its grab and its recheck, a swap-in
// fault that found the folio in the cache): the freeze fails, the folio stays in the swap
// cache, and the next fault maps that same folio again.
TEST_P(Reclaim, TransientReferenceMakesTheFreezeFail) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  folio* f = folio_at(mm, REGION);
  folio_get(f);
  reclaim_stats st;
  EXPECT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, &st), 0);
  EXPECT_EQ(st.nr_freeze_failed, 1u);
  EXPECT_TRUE(swapped_out(mm, REGION)) << "unmapped before the freeze";
  EXPECT_TRUE(folio_test_swapcache(f));
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
  EXPECT_EQ(mapped_pfn(mm, REGION), long(folio_pfn(f))) << "the fault maps the same folio again";
  EXPECT_GE(counter_read(CNT_swap_cache_hits), 1u);
  folio_put(f);
  EXPECT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, nullptr), 1) << "a later attempt succeeds";
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
}

// GUP-fast's transient reference taken between try_to_unmap and the freeze.
TEST_P(Reclaim, GupReferenceBeforeFreezeBacksOff) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  unsigned long pfn = static_cast<unsigned long>(mapped_pfn(mm, REGION));
  folio* grabbed = nullptr;
  reclaim_stats st;
  {
    inject_once inj("remove_mapping:before_freeze",
                    [&] { grabbed = try_grab_folio_fast(pfn_to_page(pfn), 1, FOLL_GET); });
    EXPECT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, &st), 0);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(grabbed, nullptr) << "the folio was still live at the freeze point";
  EXPECT_EQ(st.nr_freeze_failed, 1u);
  EXPECT_EQ(counter_read(CNT_reclaim_freeze_failed), 1u);
  EXPECT_TRUE(swapped_out(mm, REGION));
  gup_put_folio(grabbed, 1, FOLL_GET);  // GUP-fast's PTE recheck failed: it lets go
  // Unmapped, in the swap cache and back on the LRU: the next LRU scan frees it.
  EXPECT_EQ(reclaim_lru(16, nullptr), 1);
  EXPECT_EQ(swap_slots_in_use(), 1u);
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
}

TEST_P(Reclaim, SharedAnonymousMemoryIsSkipped) {
  map(REGION, 2 * PAGE_SIZE, MAP_SHARED_);
  fill(mm, REGION, 2, 1);
  reclaim_stats st;
  EXPECT_EQ(reclaim_range(mm, REGION, 2 * PAGE_SIZE, &st), 0);
  EXPECT_EQ(st.nr_not_anon, 1u);
  EXPECT_EQ(check(mm, REGION, 2, 1), -1);
  EXPECT_EQ(reclaim_range(mm, REGION + 0x100000, PAGE_SIZE, nullptr), -ENOMEM);
  EXPECT_EQ(reclaim_range(mm, REGION + 1, PAGE_SIZE, nullptr), -EINVAL);
}

REPLACE_INSTANTIATE_ALL(Reclaim);

}  // namespace
}  // namespace gupfast::test
