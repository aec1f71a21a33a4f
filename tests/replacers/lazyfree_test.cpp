// MADV_FREE and reclaim (mm/lazyfree.cpp, the lazyfree paths of mm/rmap.cpp and
// mm/vmscan.cpp), single-threaded and deterministic, for every strategy x entry format: a
// clean lazyfree page is dropped without swap and reads back as zeros; one written after
// the advice, one held by GUP, or one shared with a fork child keeps its data.
#include "mm/lazyfree.h"
#include "replace_support.h"

namespace gupfast::test {
namespace {

class Lazyfree : public ReplaceParamTest {};

TEST_P(Lazyfree, CleanPagesAreDroppedWithoutSwap) {
  constexpr int N = 4;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  ASSERT_EQ(do_madvise(mm, REGION, N * PAGE_SIZE, MADV_FREE_), 0);
  EXPECT_EQ(counter_read(CNT_lazyfree_marked), uint64_t(N));
  for (int i = 0; i < N; i++) {
    EXPECT_TRUE(folio_test_lazyfree(folio_at(mm, REGION + i * PAGE_SIZE))) << i;
    EXPECT_FALSE(pte_dirty(pte_at(mm, REGION + i * PAGE_SIZE))) << "the advice cleans the PTE: " << i;
  }
  unsigned long before = machine_frames_in_use();
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  EXPECT_EQ(counter_read(CNT_lazyfree_freed), uint64_t(N));
  EXPECT_EQ(counter_read(CNT_pswpout), 0u) << "a lazyfree page is not written to swap";
  EXPECT_EQ(swap_slots_in_use(), 0u);
  EXPECT_EQ(machine_frames_in_use(), before - N);
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(pte_val(pte_at(mm, REGION + i * PAGE_SIZE)), 0u) << "dropped, not swapped: " << i;
    EXPECT_EQ(load(mm, REGION + i * PAGE_SIZE + pat_off(i, 1)), 0) << "refaults a zero page: " << i;
  }
}

TEST_P(Lazyfree, AWriteAfterTheAdviceKeepsThePage) {
  constexpr int N = 2;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  ASSERT_EQ(do_madvise(mm, REGION, N * PAGE_SIZE, MADV_FREE_), 0);
  // The process reuses page 1: the hardware sets the dirty bit again.
  ASSERT_EQ(mm_store(mm, REGION + PAGE_SIZE + pat_off(1, 0), pat(1, pat_off(1, 0), 1)), 0);
  EXPECT_TRUE(pte_dirty(pte_at(mm, REGION + PAGE_SIZE)));
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), 1);
  EXPECT_EQ(counter_read(CNT_lazyfree_kept), 1u);
  EXPECT_FALSE(folio_test_lazyfree(folio_at(mm, REGION + PAGE_SIZE))) << "swap-backed again";
  auto page1_intact = [&] {
    for (int k = 0; k < PAT_BYTES; k++)
      if (load(mm, REGION + PAGE_SIZE + pat_off(1, k)) != pat(1, pat_off(1, k), 1)) return false;
    return true;
  };
  EXPECT_TRUE(page1_intact()) << "its data survives";
  // Swap-backed again: the next reclaim swaps it out like any page, and the data comes back.
  ASSERT_EQ(reclaim_range(mm, REGION + PAGE_SIZE, PAGE_SIZE, nullptr), 1);
  EXPECT_TRUE(swapped_out(mm, REGION + PAGE_SIZE));
  EXPECT_TRUE(page1_intact());
}

// 6c8e2a256915: a reference GUP holds (a direct-IO read in flight) keeps the page mapped.
TEST_P(Lazyfree, AGupReferenceKeepsThePageMapped) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  ASSERT_EQ(do_madvise(mm, REGION, PAGE_SIZE, MADV_FREE_), 0);
  page* p = nullptr;
  ASSERT_EQ(get_user_pages_fast(mm, REGION, 1, FOLL_WRITE, &p), 1);
  long pfn = mapped_pfn(mm, REGION);
  EXPECT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, nullptr), 0);
  EXPECT_EQ(mapped_pfn(mm, REGION), pfn) << "the PTE was put back";
  EXPECT_EQ(counter_read(CNT_lazyfree_kept), 1u);
  put_page(p);
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
}

// A page shared with a fork child is still the child's data: the advice skips it.
TEST_P(Lazyfree, SharedWithAChildIsSkipped) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  mm_struct* child = fork_mm(mm);
  ASSERT_EQ(do_madvise(mm, REGION, PAGE_SIZE, MADV_FREE_), 0);
  EXPECT_EQ(counter_read(CNT_lazyfree_marked), 0u);
  ASSERT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, nullptr), 1);
  EXPECT_EQ(counter_read(CNT_pswpout), 1u) << "swapped, not dropped";
  EXPECT_EQ(check(child, REGION, 1, 1), -1);
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
}

TEST_P(Lazyfree, SwappedOutPagesGiveTheirSlotBack) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  ASSERT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, nullptr), 1);
  ASSERT_EQ(swap_slots_in_use(), 1u);
  ASSERT_EQ(do_madvise(mm, REGION, PAGE_SIZE, MADV_FREE_), 0);
  EXPECT_EQ(swap_slots_in_use(), 0u);
  EXPECT_EQ(pte_val(pte_at(mm, REGION)), 0u);
  EXPECT_EQ(load(mm, REGION), 0);
}

TEST_P(Lazyfree, BadRanges) {
  map(REGION, PAGE_SIZE);
  EXPECT_EQ(do_madvise(mm, REGION + 1, PAGE_SIZE, MADV_FREE_), -EINVAL);
  EXPECT_EQ(do_madvise(mm, REGION, 0, MADV_FREE_), 0) << "empty: success, as the kernel";
  EXPECT_EQ(do_madvise(mm, REGION, 2 * PAGE_SIZE, MADV_FREE_), -ENOMEM) << "a hole after the mapping";
}

REPLACE_INSTANTIATE_ALL(Lazyfree);

}  // namespace
}  // namespace gupfast::test
