// Empty PTE table reclaim on MADV_DONTNEED (CONFIG_PT_RECLAIM): tables really go back (and
// only whole, empty ones), later faults populate new ones, the switch works at run time, the
// mmap_lock mode is the one each strategy needs, and a lockless walker inside a reclaimed
// table keeps it alive (rcu, seqcount) unless the table-free sync is removed.
#include "race/inject.h"
#include "replacers/khugepaged_support.h"

namespace gupfast::test {
namespace {

int data_pages(bool holes) {
  int n = 0;
  for (int i = 0; i < HPAGE_PMD_NR; i++) n += slot_kind(i, holes) == slot::data;
  return n;
}

class PtReclaim : public GupParamTest {
 protected:
  machine_config config() override {
    machine_config c = GupParamTest::config();
    c.pt_reclaim = true;
    return c;
  }
};

TEST_P(PtReclaim, FullPmdDontneedFreesTheTableAndFaultsRefill) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  fill_region(mm, HREGION, true);
  ASSERT_TRUE(pmd_table({pmd_entry(mm, HREGION)}));
  long nr_ptes = mm->nr_ptes.load(sync::relaxed);
  unsigned long in_use = machine_frames_in_use();
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(pmd_entry(mm, HREGION), 0u) << "the PMD no longer points to a table";
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 1u);
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), nr_ptes - 1);
  EXPECT_EQ(machine_frames_in_use(), in_use - data_pages(true) - 1) << "the pages and the table came back";
  // Faults populate a new table; the old data is gone, as after any MADV_DONTNEED.
  EXPECT_EQ(load(mm, HREGION + 12 * PG + pattern_off(12, 1)), 0);
  fill_region(mm, HREGION, true, 3);
  EXPECT_EQ(check_region(mm, HREGION, true, 3), -1);
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), nr_ptes);
  // And again.
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 2u);
}

// Only PMD ranges a single VMA's zap covered entirely (reclaim_pt_is_enabled); the others
// keep their (now empty) tables until munmap.
TEST_P(PtReclaim, OnlyWholePmdRangesAreReclaimed) {
  ASSERT_EQ(vm_mmap(mm, HREGION, 3 * PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  for (int d = 0; d < 3; d++) touch(HREGION + d * PMD_SIZE, 4);
  ASSERT_EQ(do_madvise(mm, HREGION + PG, 3 * PMD_SIZE - PG, MADV_DONTNEED_), 0);
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 2u);
  EXPECT_TRUE(pmd_table({pmd_entry(mm, HREGION)}));
  EXPECT_EQ(pmd_entry(mm, HREGION + PMD_SIZE), 0u);
  EXPECT_EQ(pmd_entry(mm, HREGION + 2 * PMD_SIZE), 0u);
  EXPECT_EQ(load(mm, HREGION), 0x10) << "the page below the range is untouched";
  // A THP leaf zapped whole has no table to reclaim.
  unsigned long t = HREGION + 4 * PMD_SIZE;
  ASSERT_EQ(vm_mmap(mm, t, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(t));
  ASSERT_EQ(mm_store(mm, t, 1), 0);
  ASSERT_EQ(do_madvise(mm, t, PMD_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 2u);
  EXPECT_EQ(pmd_entry(mm, t), 0u);
}

// Under ipi the table free does not wait for locked walkers (they run with irqs on), so
// reclaim excludes them with mmap_lock for write; rcu and seqcount reclaim under read.
TEST_P(PtReclaim, MmapLockModeIsTheStrategysOne) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  touch(HREGION, 3);
  int write_locked = -1;
  {
    gupfast_test::inject_once inj("pt_reclaim:after_clear", [&] { write_locked = mm->mmap_lock.is_write_locked(); });
    ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
    ASSERT_EQ(inj.fired(), 1);
  }
  EXPECT_EQ(write_locked, std::get<0>(GetParam()) == table_strategy::ipi);
}

// try_to_free_pte rechecks emptiness under the PTL: a table that was refilled is kept.
TEST_P(PtReclaim, NonEmptyTableIsKept) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  touch(HREGION + 100 * PG, 1);
  mm->mmap_lock.down_read();
  mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm);
  EXPECT_FALSE(try_to_free_pte(&tlb, mm, mm_find_pmd(mm, HREGION)));
  tlb_finish_mmu(&tlb);
  mm->mmap_lock.up_read();
  EXPECT_EQ(counter_read(CNT_pt_reclaim_not_empty), 1u);
  EXPECT_EQ(load(mm, HREGION + 100 * PG), 0x10);
}

GUP_INSTANTIATE_ALL(PtReclaim);

class PtReclaimSwitch : public GupFixture {};

TEST_F(PtReclaimSwitch, OffByDefaultAndSwitchableAtRunTime) {
  EXPECT_FALSE(pt_reclaim_enabled());
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  touch(HREGION, 8);
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
  EXPECT_TRUE(pmd_table({pmd_entry(mm, HREGION)})) << "off: the empty table stays";
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 0u);
  EXPECT_EQ(machine_describe().find("pt-reclaim"), std::string::npos);
  pt_reclaim_set_enabled(true);
  EXPECT_NE(machine_describe().find("pt-reclaim=on"), std::string::npos);
  touch(HREGION, 8);
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(pmd_entry(mm, HREGION), 0u);
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 1u);
  pt_reclaim_set_enabled(false);
  touch(HREGION, 8);
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 1u);
}

// GUP-fast has loaded the PMD (it points to table T) when MADV_DONTNEED empties and
// reclaims T. Injected on the walker's own thread, which is faithful for rcu and seqcount
// with broadcast flushes: nothing there waits for the walker (call_rcu is asynchronous, the
// seqcount cache does not wait). T must not go back to the allocator while the walker may
// still read it; the no-table-sync mutant frees it right away.
struct walker_case {
  table_strategy strategy;
  uint32_t unsafe;
  bool freed_under_walker;
};

class PtReclaimVsWalker : public GupFixture, public testing::WithParamInterface<walker_case> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = GetParam().strategy;
    c.tlb = tlb_mode::broadcast;
    c.unsafe = GetParam().unsafe;
    c.pt_reclaim = true;
    return c;
  }
  static void frame_freed(void* ctx, unsigned long pfn, int) {
    auto* self = static_cast<PtReclaimVsWalker*>(ctx);
    if (self->in_window_ && pfn == self->table_pfn_) self->freed_in_window_ = true;
  }
  bool in_window_ = false, freed_in_window_ = false;
  unsigned long table_pfn_ = 0;
};

TEST_P(PtReclaimVsWalker, TableStaysAliveWhileTheWalkerMayReadIt) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  touch(HREGION, 4);
  table_pfn_ = pmd_pfn({pmd_entry(mm, HREGION)});
  physmem_set_hooks({frame_freed, nullptr, this});
  page* p = nullptr;
  unsigned long n;
  {
    gupfast_test::inject_once inj("gup_fast:after_pmd_load", [&] {
      in_window_ = true;
      ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
    });
    n = gup_fast(mm, HREGION + PG, HREGION + 2 * PG, FOLL_PIN | FOLL_WRITE, &p);
    in_window_ = false;
    ASSERT_EQ(inj.fired(), 1);
  }
  EXPECT_EQ(counter_read(CNT_pt_reclaim_freed), 1u);
  EXPECT_EQ(freed_in_window_, GetParam().freed_under_walker);
  EXPECT_EQ(n, 0u) << "the walker found the page gone (or its seq changed)";
  if (n) unpin_user_page(p);
  // The slow path faults a new page into a new table.
  ASSERT_EQ(pin_user_pages_fast(mm, HREGION + PG, 1, FOLL_WRITE, &p), 1);
  EXPECT_EQ(long(page_to_pfn(p)), mapped_pfn(mm, HREGION + PG));
  unpin_user_page(p);
  physmem_set_hooks({});
}

INSTANTIATE_TEST_SUITE_P(
    Inject, PtReclaimVsWalker,
    testing::Values(walker_case{table_strategy::rcu, 0, false},
                    walker_case{table_strategy::rcu, 1u << NO_TABLE_SYNC, true},
                    walker_case{table_strategy::seqcount, 0, false},
                    walker_case{table_strategy::seqcount, 1u << NO_TABLE_SYNC, true}),
    [](const testing::TestParamInfo<walker_case>& i) {
      return std::string(to_string(i.param.strategy)) + (i.param.unsafe ? "_no_table_sync" : "_safe");
    });

}  // namespace
}  // namespace gupfast::test
