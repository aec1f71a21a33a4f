// The explorer on the machine's own algorithm code (model backend): GUP-fast racing a zap and
// a page reuse, and the PAE entry reader racing an entry rewrite. Each check the mutants
// remove is what the explorer finds; with the check in place, the bounded search finds
// nothing and says it covered the space.
#include <gtest/gtest.h>

#include "model/gup_scenario.h"
#include "pgtable/pgtable.h"

using namespace gupfast;
namespace ex = gupfast::explore;
using gupfast::test::gup_scenario;
using gupfast::test::make_gup_program;

namespace {
uint32_t bits(std::initializer_list<unsafe_step> steps) {
  uint32_t m = 0;
  for (auto s : steps) m |= 1u << s;
  return m;
}
}  // namespace

// rcu strategy, broadcast flushes: nothing holds the zap's flush back, so only the PTE
// recheck tells the walker that the page it grabbed is no longer A's.
TEST(ExploreGup, NoPteRecheckPinsAReusedPage) {
  gup_scenario s;
  s.unsafe = bits({NO_PTE_RECHECK});
  ex::result r = ex::explore(make_gup_program(s), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "stale-pin") << r.found->message;
  EXPECT_EQ(r.found->preemptions, 1);
  // The walker was preempted between its PTE load and its grab; the trace shows both.
  bool walker_loaded = false, zapper_ran = false;
  for (const ex::step& st : r.found->trace) {
    if (st.tid == 0 && st.what == "gup_fast:after_pte_load") walker_loaded = true;
    if (st.tid == 1 && walker_loaded) zapper_ran = true;
  }
  EXPECT_TRUE(walker_loaded && zapper_ran);
}

TEST(ExploreGup, SafeConfigExhaustsBound2) {
  gup_scenario s;
  ex::result r = ex::explore(make_gup_program(s), ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
  EXPECT_EQ(r.bound_reached, 2);
}

// seqcount strategy: belt and braces, the pt_seq validation alone also catches it...
TEST(ExploreGup, SeqcountValidationCoversAMissingPteRecheck) {
  gup_scenario s;
  s.strategy = table_strategy::seqcount;
  s.unsafe = bits({NO_PTE_RECHECK});
  ex::result r = ex::explore(make_gup_program(s), ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
  // ...unless it is removed too.
  s.unsafe = bits({NO_PTE_RECHECK, NO_SEQ_VALIDATE});
  r = ex::explore(make_gup_program(s), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "stale-pin");
}

// ipi strategy (ipi flushes): the zap's flush IPI waits for the walker's irqs-off section,
// and the page is freed only after the flush, so the walker's grab always precedes the free:
// the recheck is not what saves it here (docs/gup.md, section 3).
TEST(ExploreGup, IpiFlushHoldsTheFreeBackWithoutPteRecheck) {
  gup_scenario s;
  s.strategy = table_strategy::ipi;
  s.tlb = tlb_mode::ipi;
  s.unsafe = bits({NO_PTE_RECHECK});
  ex::result r = ex::explore(make_gup_program(s), ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
}

TEST(ExploreGup, ReplayReproducesTheCounterexample) {
  gup_scenario s;
  s.unsafe = bits({NO_PTE_RECHECK});
  ex::program p = make_gup_program(s);
  ex::result r = ex::explore(p, ex::options{});
  ASSERT_TRUE(r.found.has_value());
  ex::options o;
  o.replay = r.found->replay;
  ex::result again = ex::explore(p, o);
  ASSERT_TRUE(again.found.has_value());
  EXPECT_EQ(again.found->kind, r.found->kind);
  EXPECT_EQ(again.found->message, r.found->message);
  ASSERT_EQ(again.found->trace.size(), r.found->trace.size());
  for (size_t i = 0; i < r.found->trace.size(); i++) {
    EXPECT_EQ(again.found->trace[i].tid, r.found->trace[i].tid) << i;
    EXPECT_EQ(again.found->trace[i].what, r.found->trace[i].what) << i;
    EXPECT_EQ(again.found->trace[i].op, r.found->trace[i].op) << i;
    EXPECT_EQ(again.found->trace[i].where, r.found->trace[i].where) << i;
    EXPECT_EQ(again.found->trace[i].note, r.found->trace[i].note) << i;
  }
}

// PCT finds it in a few hundred executions: the zapper must run start to end inside the
// walker's window, which a change point right after the walker's PTE load gives. (A uniform
// random choice at every point almost never lets one thread run that long: random mode is
// for fine-grained races.)
TEST(ExploreGup, PctFindsTheStalePin) {
  gup_scenario s;
  s.unsafe = bits({NO_PTE_RECHECK});
  ex::options o;
  o.mode = ex::mode::pct;
  o.runs = 5000;
  o.seed = 3;
  ex::result r = ex::explore(make_gup_program(s), o);
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "stale-pin");
  EXPECT_LT(r.executions, o.runs);
}

// ---- PAE: the lockless entry reader against a rewrite of the entry ------------------------------
namespace {
struct pae_world {
  pte_t pte;
};
pae_world* g_pae;
constexpr pteval_t V1 = (3ull << 32) | 0x1067;  // present, pfn above 4 GiB
constexpr pteval_t V2 = (5ull << 32) | 0x2067;

// Thread 0 reads the entry with ptep_get_lockless; thread 1 clears it and maps another page
// (pte_clear + set_pte: each two 32-bit stores in the kernel's order). A present value the
// reader returns must be one that was stored.
ex::program pae_program(uint32_t unsafe) {
  ex::program p;
  p.nthreads = 2;
  p.setup = [unsafe] {
    g_cfg = {};
    g_cfg.pte = pte_mode::pae;
    g_cfg.unsafe = unsafe;
    g_pae = new pae_world;
    g_pae->pte.pte = V1;
  };
  p.thread = [](int tid) {
    if (tid == 0) {
      pte_t v = ptep_get_lockless(&g_pae->pte);
      if (pte_present(v) && v.pte != V1 && v.pte != V2) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "ptep_get_lockless returned %#llx, never stored", (unsigned long long)v.pte);
        ex::fail("torn-entry", buf);
      }
    } else {
      pte_clear(&g_pae->pte);
      set_pte(&g_pae->pte, pte_t{V2});
    }
  };
  p.teardown = [] {
    delete g_pae;
    g_cfg = {};
  };
  return p;
}
}  // namespace

TEST(ExploreGup, PaeReaderNeverReturnsATornEntry) {
  ex::options o;
  o.bound = 3;
  ex::result r = ex::explore(pae_program(0), o);
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
}

TEST(ExploreGup, TornPteReadMutantReturnsATornEntry) {
  ex::result r = ex::explore(pae_program(bits({TORN_PTE_READ})), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "torn-entry") << r.found->message;
  // Both halves were read by separate 32-bit loads, the clear came between them.
  int reader_loads = 0;
  for (const ex::step& st : r.found->trace)
    if (st.tid == 0 && st.op == "load") reader_loads++;
  EXPECT_GE(reader_loads, 2);
}
