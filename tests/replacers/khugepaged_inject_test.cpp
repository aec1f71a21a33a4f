// GUP-fast against khugepaged collapse, with the interleaving forced, on two real threads.
//
// Why two threads and not tests/race/inject.h: the window that matters is "the walker loaded
// the old PMD and PTE, collapse detaches the table, and only then the walker grabs the page".
// Whether that window can open at all is exactly what the sync decides (an IPI that waits for
// the walker's irqs-off section), so running collapse on the walker's own thread would skip
// the very wait under test. Here each side runs on its own CPU and the yield-point hook only
// parks a thread; it never does anything the protocol would not let happen:
//   walker     pins one small page with the lockless core (gup_fast) and parks at
//              "gup_fast:after_pte_load", having loaded the PMD and the PTE
//   collapse   runs collapse_pmd_range and releases the walker as late as the protocol lets
//              it: at "collapse:before_copy" (after the refcount check), or earlier if
//              collapse must wait for the walker (it reaches cpu_relax in an IPI wait: the
//              flush under --tlb ipi, or tlb_remove_table_sync_one). At "before_copy" it
//              then waits until the walker's gup_fast has returned.
// Then the device writes through the pin (if any) and the process reads the byte back: a
// difference is a lost write. The matrix shows the PMD recheck and the collapse sync each
// suffice; a lost write needs both gone (and a flush that does not wait: --tlb broadcast).
// A second test (CollapseInsideWalkerWindow, at the end) covers the earlier window, "walker
// loaded only the PMD", where same-thread injection is faithful, and the old table's lifetime.
#include <sched.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "race/inject.h"
#include "replacers/khugepaged_support.h"

namespace gupfast::test {
namespace {

constexpr unsigned long A = HREGION + 77 * PAGE_SIZE;  // the page the walker pins

enum role : int { NONE, WALKER, COLLAPSER };
thread_local role tl_role = NONE;

struct schedule {
  std::atomic<bool> walker_parked{false}, go{false}, walker_done{false}, cleared{false};
  std::atomic<bool> released_in_wait{false};
};
schedule* g_sched = nullptr;

// A parked thread waits as long as it takes: no clock decides a verdict. If the other side
// never releases it (a bug), the test hangs and ctest's TIMEOUT (tests/CMakeLists.txt)
// reports it.
template <class F>
void wait_for(F done) {
  while (!done()) sched_yield();
}

void hook(const char* name, void*) {
  schedule* s = g_sched;
  if (tl_role == WALKER && !s->walker_parked && std::strcmp(name, "gup_fast:after_pte_load") == 0) {
    s->walker_parked = true;
    wait_for([&] { return s->go.load(); });
  } else if (tl_role == COLLAPSER) {
    if (std::strcmp(name, "collapse:after_pmd_clear") == 0) s->cleared = true;
    bool in_wait = std::strcmp(name, "cpu_relax") == 0;
    bool before_copy = std::strcmp(name, "collapse:before_copy") == 0;
    if (s->cleared && !s->go && (in_wait || before_copy)) {
      s->released_in_wait = in_wait;
      s->go = true;
    }
    if (before_copy) wait_for([&] { return s->walker_done.load(); });
  }
}

struct inject_case {
  table_strategy strategy;
  tlb_mode tlb;
  uint32_t unsafe;
  bool walker_pins;     // gup_fast returns the old small page
  bool collapse_done;   // collapse succeeds (else: it saw the pin and backed off)
  bool lost_write;
  seq_scope scope = seq_scope::table;
};

std::string case_name(const testing::TestParamInfo<inject_case>& i) {
  std::string s = std::string(to_string(i.param.strategy)) + "_" + to_string(i.param.tlb) + "_";
  s += i.param.unsafe ? unsafe_mask_names(i.param.unsafe) : std::string("safe");
  if (i.param.scope == seq_scope::mm) s += "_scope_mm";
  for (auto& c : s)
    if (c == '-' || c == ',') c = '_';
  return s;
}

class CollapseVsGupFast : public GupFixture, public testing::WithParamInterface<inject_case> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = GetParam().strategy;
    c.tlb = GetParam().tlb;
    c.unsafe = GetParam().unsafe;
    c.scope = GetParam().scope;
    return c;
  }
};

TEST_P(CollapseVsGupFast, PinAfterTheRefcountCheckNeedsBothChecksRemoved) {
  const inject_case& c = GetParam();
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  fill_region(mm, HREGION, false);
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_HUGEPAGE_), 0);
  unsigned long old_pfn = mapped_pfn(mm, A);
  uint8_t before = static_cast<uint8_t>(load(mm, A + 100));

  schedule s;
  g_sched = &s;
  sync::set_yield_hook(hook, nullptr);
  page* pinned = nullptr;
  unsigned long n = 0;
  collapse_stats st;
  int rc = 1;
  std::thread walker([&] {
    cpu_scope cpu;
    tl_role = WALKER;
    n = gup_fast(mm, A, A + PAGE_SIZE, FOLL_PIN | FOLL_WRITE, &pinned);
    tl_role = NONE;
    s.walker_parked = true;  // also if it stopped before the window
    s.walker_done = true;
  });
  std::thread collapser([&] {
    cpu_scope cpu;
    wait_for([&] { return s.walker_parked.load(); });
    tl_role = COLLAPSER;
    rc = collapse_pmd_range(mm, HREGION, &st);
    tl_role = NONE;
    s.go = true;
  });
  walker.join();
  collapser.join();
  sync::set_yield_hook(nullptr, nullptr);
  g_sched = nullptr;
  ASSERT_TRUE(s.go);
  // Collapse had to wait for the walker exactly where the protocol makes it wait: an IPI
  // flush, or the rcu strategy's tlb_remove_table_sync_one.
  bool waits = c.tlb == tlb_mode::ipi || (c.strategy == table_strategy::rcu && !is_unsafe(NO_COLLAPSE_SYNC));
  EXPECT_EQ(s.released_in_wait.load(), waits);

  EXPECT_EQ(n == 1, c.walker_pins) << "collapse result " << to_string(st.result);
  EXPECT_EQ(rc == 0, c.collapse_done) << to_string(st.result);
  if (!c.collapse_done) {
    EXPECT_EQ(st.result, collapse_result::page_pinned);
    EXPECT_EQ(mapped_pfn(mm, A), long(old_pfn)) << "backed off: the old page is still mapped";
  }
  bool lost = false;
  if (n == 1) {
    EXPECT_EQ(page_to_pfn(pinned), old_pfn);
    uint8_t dma = static_cast<uint8_t>(before + 0x40);
    frame_write_byte(page_to_pfn(pinned), 100, dma);  // the device writes through its pin
    unpin_user_pages_dirty_lock(&pinned, 1, true);
    lost = load(mm, A + 100) != dma;
  }
  EXPECT_EQ(lost, c.lost_write) << (lost ? "lost-write: the pinned page was copied away" : "");
  if (!c.lost_write) {
    // Whatever happened, the process's data is intact (except the device's byte).
    EXPECT_EQ(load(mm, A + pattern_off(77, 0)), pattern(77, pattern_off(77, 0)));
  }
}

constexpr uint32_t NPR = 1u << NO_PMD_RECHECK;
constexpr uint32_t NCS = 1u << NO_COLLAPSE_SYNC;

INSTANTIATE_TEST_SUITE_P(
    Matrix, CollapseVsGupFast,
    testing::Values(
        // ipi: the flush IPI of pmdp_collapse_flush waits for the walker's irqs-off section,
        // so no-collapse-sync removes nothing; without the PMD recheck the walker pins, and
        // collapse sees the pin and backs off.
        inject_case{table_strategy::ipi, tlb_mode::ipi, 0, false, true, false},
        inject_case{table_strategy::ipi, tlb_mode::ipi, NPR, true, false, false},
        inject_case{table_strategy::ipi, tlb_mode::ipi, NPR | NCS, true, false, false},
        // rcu, broadcast flushes: tlb_remove_table_sync_one is what waits for the walker.
        inject_case{table_strategy::rcu, tlb_mode::broadcast, 0, false, true, false},
        inject_case{table_strategy::rcu, tlb_mode::broadcast, NPR, true, false, false},
        inject_case{table_strategy::rcu, tlb_mode::broadcast, NCS, false, true, false},
        inject_case{table_strategy::rcu, tlb_mode::broadcast, NPR | NCS, true, true, true},
        // rcu with IPI flushes: the flush waits anyway.
        inject_case{table_strategy::rcu, tlb_mode::ipi, NPR | NCS, true, false, false},
        // seqcount: nobody waits; the detach's write section makes the walker discard.
        inject_case{table_strategy::seqcount, tlb_mode::broadcast, 0, false, true, false},
        inject_case{table_strategy::seqcount, tlb_mode::broadcast, NPR, false, true, false},
        inject_case{table_strategy::seqcount, tlb_mode::broadcast, NCS, false, true, false},
        inject_case{table_strategy::seqcount, tlb_mode::broadcast, NPR | NCS, true, true, true},
        // The same with one counter per mm instead of one per table.
        inject_case{table_strategy::seqcount, tlb_mode::broadcast, NPR, false, true, false, seq_scope::mm},
        inject_case{table_strategy::seqcount, tlb_mode::broadcast, NPR | NCS, true, true, true, seq_scope::mm}),
    case_name);

}  // namespace
}  // namespace gupfast::test

namespace gupfast::test {
namespace {

// The other window, with tests/race/inject.h: the walker has loaded the PMD (it points to
// table T) and the whole collapse runs before it reads T. Injected on the walker's thread,
// which is faithful only where collapse does not wait for the walker: seqcount, and rcu with
// broadcast flushes and no-collapse-sync. The walker must take nothing from T (collapse
// cleared it; seqcount also fails validation), and T is not freed under it whatever the
// table strategy: it is the new leaf's deposit (pgtable_trans_huge_deposit), freed only when
// the leaf is zapped (that later free is 2ba99c5e0881's race: tests/litmus/zoo). The slow
// path then pins the huge page.
struct window_case {
  table_strategy strategy;
  uint32_t unsafe;
};

class CollapseInsideWalkerWindow : public GupFixture, public testing::WithParamInterface<window_case> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = GetParam().strategy;
    c.tlb = tlb_mode::broadcast;
    c.unsafe = GetParam().unsafe;
    return c;
  }
  static void frame_freed(void* ctx, unsigned long pfn, int) {
    auto* self = static_cast<CollapseInsideWalkerWindow*>(ctx);
    if (self->in_window_ && pfn == self->table_pfn_) self->freed_in_window_ = true;
  }
  bool in_window_ = false, freed_in_window_ = false;
  unsigned long table_pfn_ = 0;
};

TEST_P(CollapseInsideWalkerWindow, WalkerTakesNothingFromTheDetachedTable) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  fill_region(mm, HREGION, false);
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_HUGEPAGE_), 0);
  table_pfn_ = pmd_pfn({pmd_entry(mm, HREGION)});
  physmem_set_hooks({frame_freed, nullptr, this});
  page* p = nullptr;
  unsigned long n;
  collapse_stats st;
  {
    gupfast_test::inject_once inj("gup_fast:after_pmd_load", [&] {
      in_window_ = true;
      ASSERT_EQ(collapse_pmd_range(mm, HREGION, &st), 0);
    });
    n = gup_fast(mm, A, A + PAGE_SIZE, FOLL_PIN | FOLL_WRITE, &p);
    in_window_ = false;
    ASSERT_EQ(inj.fired(), 1);
  }
  physmem_set_hooks({});
  EXPECT_EQ(n, 0u) << "nothing from the detached table";
  if (n) unpin_user_page(p);
  EXPECT_FALSE(freed_in_window_) << "the detached table is the leaf's deposit";
  ASSERT_EQ(pin_user_pages_fast(mm, A, 1, FOLL_WRITE, &p), 1);
  EXPECT_EQ(page_to_pfn(p), st.pfn + pte_index(A));
  frame_write_byte(page_to_pfn(p), 100, 0xee);
  unpin_user_pages_dirty_lock(&p, 1, true);
  EXPECT_EQ(load(mm, A + 100), 0xee);
  EXPECT_EQ(check_region(mm, HREGION, false), -1);
}

INSTANTIATE_TEST_SUITE_P(
    Inject, CollapseInsideWalkerWindow,
    testing::Values(window_case{table_strategy::rcu, 1u << NO_COLLAPSE_SYNC},
                    window_case{table_strategy::rcu, (1u << NO_COLLAPSE_SYNC) | (1u << NO_TABLE_SYNC)},
                    window_case{table_strategy::seqcount, 0},
                    window_case{table_strategy::seqcount, 1u << NO_TABLE_SYNC}),
    [](const testing::TestParamInfo<window_case>& i) {
      std::string s = to_string(i.param.strategy);
      if (i.param.unsafe) {
        s += '_';
        s += unsafe_mask_names(i.param.unsafe);
      }
      for (auto& c : s)
        if (c == '-' || c == ',') c = '_';
      return s;
    });

}  // namespace
}  // namespace gupfast::test
