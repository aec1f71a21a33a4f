// Deterministic injection tests: each removes one safety step and shows, with the racing
// writer injected at the exact point of the window, that the step is what prevents the
// bad outcome — and that with the step in place the outcome is correct.
//
// Injection runs the writer on the walker's own thread. That is only faithful where the
// writer does not need to wait for the walker: with broadcast TLB flushes (rcu, seqcount),
// or when the injected operation does no flush at all. Under the ipi strategy a zap's
// flush waits for the walker's irqs-off section, so those windows cannot open there; the
// real-thread tests (test_race.cpp) cover that configuration.
#include <thread>

#include "inject.h"
#include "race_util.h"

using namespace gupfast_test;

namespace {

constexpr unsigned long A = 0x10000000ul;
// In A's PTE table for small pages (B's fault then allocates no table, only the page);
// a different PMD entry of the same PMD table for huge pages.
constexpr unsigned long B = A + 0x10000ul;
constexpr unsigned long HA = 0x40000000ul;
constexpr unsigned long HB = 0x60000000ul;

struct inject_case {
  table_strategy strategy;
  uint32_t unsafe;
  bool expect_bug;  // the bad outcome happens
};

std::string case_name(const testing::TestParamInfo<inject_case>& i) {
  std::string s = to_string(i.param.strategy);
  s += '_';
  s += i.param.unsafe ? unsafe_mask_names(i.param.unsafe) : std::string("safe");
  for (auto& c : s)
    if (c == '-' || c == ',') c = '_';
  return s;
}

class PteRecheck : public testing::TestWithParam<inject_case> {};

// Walker loads A's PTE (page P). Before it grabs P: the process zaps A (P is freed) and
// faults B, which reuses P's frame (the allocator is LIFO). The walker's grab succeeds on
// what is now B's page; only the PTE recheck (or, under seqcount, the pt_seq validation)
// tells it that A no longer maps P.
TEST_P(PteRecheck, ReusedFrameIsNotPinnedForTheOldAddress) {
  const auto& c = GetParam();
  machine_guard m(make_config(c.strategy, tlb_mode::broadcast, pte_mode::native, c.unsafe));
  ASSERT_EQ(m.rc, 0);
  cpu_scope cpu;
  mm_struct* mm = mm_alloc();
  ASSERT_EQ(vm_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(vm_mmap(mm, B, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(B));
  ASSERT_EQ(mm_store(mm, A, 0x11), 0);
  long p = mapped_pfn(mm, A);
  long b_pfn = -1;
  page* pages[1] = {};
  long n;
  {
    inject_once inj("gup_fast:after_pte_load", [&] {
      ASSERT_EQ(do_madvise(mm, A, PAGE_SIZE, MADV_DONTNEED_), 0);
      ASSERT_EQ(mm_store(mm, B, 0x22), 0);
      b_pfn = mapped_pfn(mm, B);
    });
    n = pin_user_pages_fast(mm, A, 1, FOLL_WRITE, pages);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_EQ(b_pfn, p) << "precondition: B reuses A's freed frame";
  ASSERT_EQ(n, 1);
  long pinned = static_cast<long>(page_to_pfn(pages[0]));
  if (c.expect_bug) {
    EXPECT_EQ(pinned, b_pfn) << "the mutant pins B's page for address A";
  } else {
    EXPECT_NE(pinned, b_pfn);
    EXPECT_EQ(pinned, mapped_pfn(mm, A)) << "the pin is of the page A maps now";
  }
  unpin_user_pages(pages, n);
  mmput(mm);
  EXPECT_EQ(machine_frames_in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Inject, PteRecheck,
    testing::Values(inject_case{table_strategy::rcu, 0, false},
                    inject_case{table_strategy::rcu, unsafe_bits({NO_PTE_RECHECK}), true},
                    inject_case{table_strategy::seqcount, 0, false},
                    // Belt and braces: the seqcount strategy's validation also catches it...
                    inject_case{table_strategy::seqcount, unsafe_bits({NO_PTE_RECHECK}), false},
                    // ...unless it is removed too.
                    inject_case{table_strategy::seqcount, unsafe_bits({NO_PTE_RECHECK, NO_SEQ_VALIDATE}), true}),
    case_name);

class TryGet : public testing::TestWithParam<inject_case> {};

// Between page_folio() and the grab, A is zapped and P freed (refcount 0). Add-unless-zero
// refuses; a plain add resurrects P, and dropping that reference after the failed PTE
// recheck frees P a second time (bad_page).
TEST_P(TryGet, FreedFolioIsNotResurrected) {
  const auto& c = GetParam();
  machine_guard m(make_config(c.strategy, tlb_mode::broadcast, pte_mode::native, c.unsafe));
  ASSERT_EQ(m.rc, 0);
  cpu_scope cpu;
  mm_struct* mm = mm_alloc();
  ASSERT_EQ(vm_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(mm_store(mm, A, 0x11), 0);
  page* pages[1] = {};
  uint64_t zero_before = counter_read(CNT_stop_ref_zero);
  long n;
  {
    inject_once inj("try_get_folio:before_ref",
                    [&] { ASSERT_EQ(do_madvise(mm, A, PAGE_SIZE, MADV_DONTNEED_), 0); });
    n = pin_user_pages_fast(mm, A, 1, FOLL_WRITE, pages);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_EQ(n, 1);
  if (c.expect_bug) {
    EXPECT_GT(counter_read(CNT_bad_page), 0u) << "the resurrected folio was freed twice";
  } else {
    EXPECT_EQ(counter_read(CNT_bad_page), 0u);
    EXPECT_GT(counter_read(CNT_stop_ref_zero), zero_before) << "add-unless-zero refused the freed folio";
  }
  unpin_user_pages(pages, n);
  mmput(mm);
  if (!c.expect_bug) {
    EXPECT_EQ(machine_frames_in_use(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Inject, TryGet,
                         testing::Values(inject_case{table_strategy::rcu, 0, false},
                                         inject_case{table_strategy::rcu, unsafe_bits({GET_NOT_TRY_GET}), true},
                                         inject_case{table_strategy::seqcount, 0, false},
                                         inject_case{table_strategy::seqcount, unsafe_bits({GET_NOT_TRY_GET}), true}),
                         case_name);

class LeafRecheck : public testing::TestWithParam<inject_case> {};

// THP version of the PTE case: the walker loaded A's PMD leaf (folio F); before it grabs,
// A is zapped (F freed) and B's THP fault reuses F's frames. Only the leaf recheck stops
// it from pinning B's huge page for A.
TEST_P(LeafRecheck, ReusedHugeFolioIsNotPinnedForTheOldAddress) {
  const auto& c = GetParam();
  machine_guard m(make_config(c.strategy, tlb_mode::broadcast, pte_mode::native, c.unsafe));
  ASSERT_EQ(m.rc, 0);
  cpu_scope cpu;
  mm_struct* mm = mm_alloc();
  ASSERT_EQ(vm_mmap(mm, HA, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(HA));
  ASSERT_EQ(vm_mmap(mm, HB, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(HB));
  ASSERT_EQ(mm_store(mm, HA, 0x11), 0);
  long f = mapped_pfn(mm, HA);
  long b_pfn = -1;
  static page* pages[HPAGE_PMD_NR_MAX];
  long n;
  {
    inject_once inj("gup_fast:after_pmd_load", [&] {
      ASSERT_EQ(do_madvise(mm, HA, PMD_SIZE, MADV_DONTNEED_), 0);
      ASSERT_EQ(mm_store(mm, HB, 0x22), 0);
      b_pfn = mapped_pfn(mm, HB);
    });
    n = pin_user_pages_fast(mm, HA, HPAGE_PMD_NR, FOLL_WRITE, pages);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_EQ(b_pfn, f) << "precondition: B's huge folio reuses A's frames";
  ASSERT_EQ(n, HPAGE_PMD_NR);
  long pinned = static_cast<long>(page_to_pfn(pages[0]));
  if (c.expect_bug) {
    EXPECT_EQ(pinned, b_pfn);
  } else {
    EXPECT_EQ(pinned, mapped_pfn(mm, HA));
  }
  unpin_user_pages(pages, n);
  mmput(mm);
  EXPECT_EQ(machine_frames_in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Inject, LeafRecheck,
                         testing::Values(inject_case{table_strategy::rcu, 0, false},
                                         inject_case{table_strategy::rcu, unsafe_bits({NO_LEAF_RECHECK}), true}),
                         case_name);

class WpSeq : public testing::TestWithParam<inject_case> {};

// fork has decided "A's page P is not pinned, share it" and not yet write-protected it.
// A GUP-fast pin right there rechecks a still-writable, unchanged PTE and would succeed;
// only write_protect_seq (odd during the copy) makes it back off. Without it the parent's
// next write COWs away from the pinned page and the device's writes are lost to it.
// The injected operation is the walker itself (no flush), so every strategy applies.
TEST_P(WpSeq, PinRacingForkIsDiscarded) {
  const auto& c = GetParam();
  machine_guard m(make_config(c.strategy, c.strategy == table_strategy::ipi ? tlb_mode::ipi : tlb_mode::broadcast,
                              pte_mode::native, c.unsafe));
  ASSERT_EQ(m.rc, 0);
  cpu_scope cpu;
  mm_struct* mm = mm_alloc();
  ASSERT_EQ(vm_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(mm_store(mm, A, 0x11), 0);
  page* pages[1] = {};
  // The process has pinned before (MMF_HAS_PINNED), so fork checks for pins.
  ASSERT_EQ(pin_user_pages_fast(mm, A, 1, FOLL_WRITE, pages), 1);
  unpin_user_pages(pages, 1);
  unsigned long n = 0;
  int err = 0;
  mm_struct* child;
  {
    inject_once inj("copy_present_pte:after_dup_check",
                    [&] { n = gup_fast(mm, A, A + PAGE_SIZE, FOLL_PIN | FOLL_WRITE, pages); });
    child = dup_mm(mm, &err);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(child, nullptr);
  if (!c.expect_bug) {
    EXPECT_EQ(n, 0u) << "GUP-fast backs off while fork copies";
  } else {
    ASSERT_EQ(n, 1u);
    long pinned = static_cast<long>(page_to_pfn(pages[0]));
    ASSERT_EQ(mm_store(mm, A + 1, 0x33), 0);  // the parent writes: COW, since P is shared
    frame_write_byte(pinned, 0, 0x77);         // the device writes through its pin
    uint8_t v = 0;
    ASSERT_EQ(mm_load(mm, A, &v), 0);
    EXPECT_NE(v, 0x77) << "the device's write is lost to the parent";
    EXPECT_NE(mapped_pfn(mm, A), pinned);
    unpin_user_pages(pages, 1);
  }
  mmput(child);
  mmput(mm);
  EXPECT_EQ(machine_frames_in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Inject, WpSeq,
                         testing::Values(inject_case{table_strategy::ipi, 0, false},
                                         inject_case{table_strategy::ipi, unsafe_bits({NO_WP_SEQ}), true},
                                         inject_case{table_strategy::rcu, 0, false},
                                         inject_case{table_strategy::rcu, unsafe_bits({NO_WP_SEQ}), true},
                                         inject_case{table_strategy::seqcount, 0, false},
                                         inject_case{table_strategy::seqcount, unsafe_bits({NO_WP_SEQ}), true}),
                         case_name);

class TableSync : public testing::TestWithParam<inject_case> {};

// The walker has loaded A's PMD (it will read the PTE table T next). munmap(A) unlinks T and
// frees it through the strategy. The strategy must not give T back to the allocator while
// the walker can still reach it: rcu defers the free past the walker's read-side section,
// seqcount keeps T a table (type-stable cache). With no-table-sync, T is a free frame by the
// time the walker reads it (table-uaf). (The ipi strategy cannot be injected faithfully: its
// munmap would have to wait for this walker's irqs-off section.)
TEST_P(TableSync, UnlinkedTableIsNotFreedUnderTheWalker) {
  const auto& c = GetParam();
  machine_guard m(make_config(c.strategy, tlb_mode::broadcast, pte_mode::native, c.unsafe));
  ASSERT_EQ(m.rc, 0);
  cpu_scope cpu;
  mm_struct* mm = mm_alloc();
  ASSERT_EQ(vm_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(mm_store(mm, A, 0x11), 0);
  page* table = pfn_to_page(pmd_pfn(pmdp_get(mm_find_pmd(mm, A))));
  ASSERT_TRUE(PageTable(table));
  bool freed_under_walker = false, still_table = false;
  page* pages[1] = {};
  long n;
  {
    inject_once inj("gup_fast:after_pmd_load", [&] {
      ASSERT_EQ(vm_munmap(mm, A, PAGE_SIZE), 0);
      freed_under_walker = test_bit_flag(table, PG_free);
      still_table = PageTable(table);
    });
    n = pin_user_pages_fast(mm, A, 1, FOLL_WRITE, pages);
    ASSERT_EQ(inj.fired(), 1);
  }
  EXPECT_EQ(n, -EFAULT);  // A is gone: the slow path finds no VMA
  if (c.expect_bug) {
    EXPECT_TRUE(freed_under_walker) << "the walker's next read is of a free frame";
  } else {
    EXPECT_FALSE(freed_under_walker);
    EXPECT_TRUE(still_table);
  }
  mmput(mm);
  EXPECT_EQ(machine_frames_in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Inject, TableSync,
                         testing::Values(inject_case{table_strategy::rcu, 0, false},
                                         inject_case{table_strategy::rcu, unsafe_bits({NO_TABLE_SYNC}), true},
                                         inject_case{table_strategy::seqcount, 0, false},
                                         inject_case{table_strategy::seqcount, unsafe_bits({NO_TABLE_SYNC}), true}),
                         case_name);

// The same window under the ipi strategy, on two threads: the walker (irqs off) waits in
// its window until the munmap thread's flush IPI has reached it and been deferred; at that
// point the table must still be a live table (the flush, and so the free, waits for us).
// With no-table-sync the tables are freed before that flush.
class TableSyncIpi : public testing::TestWithParam<bool> {};

TEST_P(TableSyncIpi, FlushIpiHoldsOffTheTableFree) {
  bool mutant = GetParam();
  machine_guard m(make_config(table_strategy::ipi, tlb_mode::ipi, pte_mode::native,
                              mutant ? unsafe_bits({NO_TABLE_SYNC}) : 0));
  ASSERT_EQ(m.rc, 0);
  cpu_scope cpu;
  mm_struct* mm = mm_alloc();
  ASSERT_EQ(vm_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(mm_store(mm, A, 0x11), 0);
  page* table = pfn_to_page(pmd_pfn(pmdp_get(mm_find_pmd(mm, A))));
  bool freed_under_walker = false;
  std::thread unmapper;
  page* pages[1] = {};
  {
    inject_once inj("gup_fast:after_pmd_load", [&] {
      ASSERT_TRUE(sync::irqs_disabled());
      uint64_t deferred = sync::this_cpu()->ipis_deferred.load(sync::relaxed);
      unmapper = std::thread([&] {
        cpu_scope other;
        EXPECT_EQ(vm_munmap(mm, A, PAGE_SIZE), 0);
      });
      // Wait (no timing: for an event) until the flush IPI arrived and was deferred.
      while (sync::this_cpu()->ipis_deferred.load(sync::relaxed) == deferred) sync::cpu_relax();
      freed_under_walker = test_bit_flag(table, PG_free);
    });
    pin_user_pages_fast(mm, A, 1, FOLL_WRITE, pages);
    ASSERT_EQ(inj.fired(), 1);
  }
  unmapper.join();
  EXPECT_EQ(freed_under_walker, mutant);
  mmput(mm);
  EXPECT_EQ(machine_frames_in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Inject, TableSyncIpi, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& i) { return i.param ? "no_table_sync" : "safe"; });

// The PAE reader: between its two half loads, the entry goes from X to none to Y (the
// writer's [PAE-CLEAR] then [PAE-SET]). The low/high/low retry returns Y; without the
// retry the reader returns low(X)|high(Y), a value never stored.
class PaeRead : public testing::TestWithParam<bool> {};

TEST_P(PaeRead, TornValueOnlyWithoutRetry) {
  bool mutant = GetParam();
  machine_guard m(make_config(table_strategy::rcu, tlb_mode::broadcast, pte_mode::pae,
                              mutant ? unsafe_bits({TORN_PTE_READ}) : 0));
  ASSERT_EQ(m.rc, 0);
  alignas(8) static pte_t entry;
  pte_t x = pfn_pte((1ul << 20) + 0x1234, pgprot::write);  // above 4 GiB: high half nonzero
  pte_t y = pfn_pte((2ul << 20) + 0x5678, pgprot::write);
  set_pte(&entry, x);
  pte_t got;
  {
    inject_once inj("ptep_get_lockless:between_halves", [&] {
      pte_clear(&entry);
      set_pte(&entry, y);
    });
    got = ptep_get_lockless(&entry);
    ASSERT_EQ(inj.fired(), 1);
  }
  pteval_t torn = (y.pte & 0xffffffff00000000ull) | (x.pte & 0xffffffffull);
  if (mutant) {
    EXPECT_EQ(got.pte, torn);
  } else {
    EXPECT_EQ(got.pte, y.pte);
  }
  EXPECT_NE(torn, x.pte);
  EXPECT_NE(torn, y.pte);
}

INSTANTIATE_TEST_SUITE_P(Inject, PaeRead, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& i) { return i.param ? "torn_pte_read" : "safe"; });

}  // namespace
