// Migration (mm/migrate.cpp), single-threaded and deterministic, plus the one handshake that
// needs a second thread: a fault that finds a migration entry waits for it.
#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "race/inject.h"
#include "replace_support.h"

namespace gupfast::test {
namespace {

using gupfast_test::inject_once;

class Migrate : public ReplaceParamTest {};

TEST_P(Migrate, DataAndExclusivitySurviveMigration) {
  constexpr int N = 16;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  std::vector<long> old(N);
  for (int i = 0; i < N; i++) old[i] = mapped_pfn(mm, REGION + i * PAGE_SIZE);
  unsigned long frames = machine_frames_in_use();
  migrate_stats st;
  ASSERT_EQ(migrate_range(mm, REGION, N * PAGE_SIZE, &st), N);
  EXPECT_EQ(st.nr_migrated, unsigned(N));
  for (int i = 0; i < N; i++) {
    mapping_info m = lookup(mm, REGION + i * PAGE_SIZE);
    ASSERT_TRUE(m.present) << i;
    EXPECT_NE(long(m.pfn), old[i]) << "page " << i << " did not move";
    EXPECT_TRUE(m.write) << "a writable page came back read-only";
    EXPECT_TRUE(PageAnonExclusive(pfn_to_page(m.pfn)));
  }
  EXPECT_EQ(machine_frames_in_use(), frames) << "old frames freed, new ones in use";
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
  fill(mm, REGION, N, 2);
  EXPECT_EQ(counter_read(CNT_cow_copies), 0u) << "exclusive pages must not need a COW";
  EXPECT_EQ(check(mm, REGION, N, 2), -1);
}

TEST_P(Migrate, SharedPagesMoveInEveryMm) {
  constexpr int N = 4;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  mm_struct* child = fork_mm(mm);
  long old = mapped_pfn(mm, REGION);
  ASSERT_EQ(migrate_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  for (int i = 0; i < N; i++) {
    unsigned long a = REGION + i * PAGE_SIZE;
    EXPECT_EQ(mapped_pfn(mm, a), mapped_pfn(child, a)) << "both mms map the new folio";
    EXPECT_FALSE(lookup(child, a).write);
  }
  EXPECT_NE(mapped_pfn(mm, REGION), old);
  EXPECT_EQ(check(child, REGION, N, 1), -1);
  fill(child, REGION, N, 3);  // COW in the child only
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
  EXPECT_EQ(check(child, REGION, N, 3), -1);
}

TEST_P(Migrate, SwapCacheSlotMovesWithTheFolio) {
  constexpr int N = 4;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  ASSERT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  EXPECT_EQ(check(mm, REGION, N, 1), -1);  // read faults: the folios stay in the swap cache
  folio* f = folio_at(mm, REGION);
  ASSERT_TRUE(folio_test_swapcache(f));
  swp_entry_t e = folio_swap_entry(f);
  ASSERT_EQ(migrate_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  folio* nf = folio_at(mm, REGION);
  EXPECT_NE(nf, f);
  EXPECT_TRUE(folio_test_swapcache(nf));
  EXPECT_EQ(folio_swap_entry(nf).val, e.val) << "the slot went with the data";
  // Clean in the swap cache: reclaim drops it without writing.
  uint64_t out = counter_read(CNT_pswpout);
  EXPECT_EQ(reclaim_range(mm, REGION, N * PAGE_SIZE, nullptr), N);
  EXPECT_EQ(counter_read(CNT_pswpout), out);
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
}

TEST_P(Migrate, HugePageIsSplitThenMoved) {
  map(HREGION, PMD_SIZE, MAP_PRIVATE_ | MAP_HUGE_THP);
  fill(mm, HREGION, HPAGE_PMD_NR, 4);
  EXPECT_EQ(migrate_range(mm, HREGION, PMD_SIZE, nullptr), HPAGE_PMD_NR);
  EXPECT_EQ(counter_read(CNT_split_done), 1u);
  EXPECT_EQ(check(mm, HREGION, HPAGE_PMD_NR, 4), -1);
}

TEST_P(Migrate, PinnedPageStaysWhereItIs) {
  constexpr int N = 2;
  map(REGION, N * PAGE_SIZE);
  fill(mm, REGION, N, 1);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, REGION, 1, FOLL_WRITE, &p), 1);
  migrate_stats st;
  EXPECT_EQ(migrate_range(mm, REGION, N * PAGE_SIZE, &st), 1);
  EXPECT_EQ(st.nr_pinned, 1u);
  EXPECT_EQ(mapped_pfn(mm, REGION), long(page_to_pfn(p)));
  frame_write_byte(page_to_pfn(p), 7, 0xAB);
  unpin_user_pages_dirty_lock(&p, 1, true);
  EXPECT_EQ(migrate_range(mm, REGION, PAGE_SIZE, nullptr), 1);
  EXPECT_EQ(load(mm, REGION + 7), 0xAB);
  EXPECT_EQ(check(mm, REGION, N, 1), -1);
}

TEST_P(Migrate, PinAfterClearPutsThePteBack) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  unsigned long pfn = static_cast<unsigned long>(mapped_pfn(mm, REGION));
  pte_t before = pte_at(mm, REGION);
  folio* pinned = nullptr;
  migrate_stats st;
  {
    inject_once inj("try_to_migrate:after_clear", [&] { pinned = try_grab_folio_fast(pfn_to_page(pfn), 1, FOLL_PIN); });
    EXPECT_EQ(migrate_range(mm, REGION, PAGE_SIZE, &st), 0);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(pinned, nullptr);
  EXPECT_EQ(st.nr_pinned, 1u);
  EXPECT_EQ(counter_read(CNT_migrate_unmap_pinned), 1u);
  EXPECT_EQ(pte_val(pte_at(mm, REGION)), pte_val(before));
  gup_put_folio(pinned, 1, FOLL_PIN);
  EXPECT_EQ(migrate_range(mm, REGION, PAGE_SIZE, nullptr), 1);
  EXPECT_NE(mapped_pfn(mm, REGION), long(pfn));
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
}

TEST_P(Migrate, TransientReferenceMakesTheFreezeFail) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  long pfn = mapped_pfn(mm, REGION);
  folio* grabbed = nullptr;
  migrate_stats st;
  {
    inject_once inj("migrate:before_freeze",
                    [&] { grabbed = try_grab_folio_fast(pfn_to_page(static_cast<unsigned long>(pfn)), 1, FOLL_GET); });
    EXPECT_EQ(migrate_range(mm, REGION, PAGE_SIZE, &st), 0);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(grabbed, nullptr);
  EXPECT_EQ(st.nr_freeze_failed, 1u);
  EXPECT_EQ(mapped_pfn(mm, REGION), pfn) << "the old folio is mapped again";
  EXPECT_TRUE(lookup(mm, REGION).write);
  gup_put_folio(grabbed, 1, FOLL_GET);
  EXPECT_EQ(migrate_range(mm, REGION, PAGE_SIZE, nullptr), 1) << "a later attempt succeeds";
  EXPECT_NE(mapped_pfn(mm, REGION), pfn);
  EXPECT_EQ(check(mm, REGION, 1, 1), -1);
}

REPLACE_INSTANTIATE_ALL(Migrate);

// Another CPU touches (or pins) the page while its PTE is a migration entry: it waits in
// migration_entry_wait until the migrator has mapped the new folio, then gets the new page.
// Deterministic: the migrator, frozen at "migrate:after_freeze", lets the other thread run
// until it is spinning on the entry.
class MigrationWait : public ReplaceFixture, public ::testing::WithParamInterface<bool> {};

struct wait_sync {
  std::atomic<bool> waiting{false};
  std::thread::id migrator;
};

TEST_P(MigrationWait, FaultAndGupWaitForTheEntry) {
  const bool use_gup = GetParam();
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  long old = mapped_pfn(mm, REGION);
  static wait_sync ws;
  ws.waiting = false;
  ws.migrator = std::this_thread::get_id();
  std::thread other;
  int value = -1;
  long pinned_pfn = -1;
  std::function<void()> start = [&] {
    other = std::thread([&] {
      cpu_scope cpu;
      if (use_gup) {
        page* p = nullptr;
        if (pin_user_pages_fast(mm, REGION, 1, FOLL_WRITE, &p) == 1) {
          pinned_pfn = long(page_to_pfn(p));
          unpin_user_page(p);
        }
      } else {
        value = load(mm, REGION);
      }
    });
  };
  sync::set_yield_hook(
      [](const char* name, void* ctx) {
        auto* start = static_cast<std::function<void()>*>(ctx);
        if (std::this_thread::get_id() != ws.migrator) {
          if (!std::strcmp(name, "migration_entry_wait:wait")) ws.waiting = true;
          return;
        }
        if (std::strcmp(name, "migrate:after_freeze") || !*start) return;
        (*start)();
        *start = nullptr;
        while (!ws.waiting.load()) std::this_thread::yield();
      },
      &start);
  EXPECT_EQ(migrate_range(mm, REGION, PAGE_SIZE, nullptr), 1);
  other.join();
  sync::set_yield_hook(nullptr, nullptr);
  long now = mapped_pfn(mm, REGION);
  EXPECT_NE(now, old);
  EXPECT_GE(counter_read(CNT_migration_entry_waits), 1u);
  if (use_gup)
    EXPECT_EQ(pinned_pfn, now) << "the slow path pinned the new page";
  else
    EXPECT_EQ(value, pat(0, 0, 1));
}

INSTANTIATE_TEST_SUITE_P(Rcu, MigrationWait, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "gup" : "fault"; });

}  // namespace
}  // namespace gupfast::test
