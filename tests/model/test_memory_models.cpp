// The memory models (memory/memory_model.h) on the classic shapes, written against the seam
// directly: every execution of each shape is explored (no preemption or stale-read bound) and
// the set of final register values compared with what each model must allow.
// The herd7-format library (tests/memory/*.litmus) checks the same through `gupfast litmus`.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "explore/search.h"
#include "sync/sync.h"

using namespace gupfast::model;
namespace ex = gupfast::model::explore;
using memory::model;

namespace {

struct shared_vars {
  int x, y, z;
  int r[4][2];  // per thread: two registers
};
shared_vars g;

// Every final (r[0][0], r[1][0], ...) of the program, as a string "a,b,c,...".
std::set<std::string> outcomes(int nthreads, model m, const std::function<void(int)>& body, int regs = 1,
                               uint64_t* executions = nullptr) {
  std::set<std::string> seen;
  ex::program p;
  p.nthreads = nthreads;
  p.setup = [] { g = {}; };
  p.thread = body;
  p.finish = [&] {
    std::string s;
    for (int t = 0; t < nthreads; t++)
      for (int k = 0; k < regs; k++) s += std::to_string(g.r[t][k]) + ",";
    s += std::to_string(g.x) + "," + std::to_string(g.y);
    seen.insert(s);
  };
  p.teardown = [] {};
  ex::options o;
  o.bound = -1;
  o.stale_bound = -1;
  o.memory = m;
  ex::result r = ex::explore(p, o);
  EXPECT_FALSE(r.found.has_value());
  EXPECT_TRUE(r.exhaustive);
  if (executions) *executions = r.executions;
  return seen;
}

using sync::relaxed;

// SB: x=1; r0=y || y=1; r1=x. Outcome r0=r1=0: store buffering.
void sb(int tid, bool fenced) {
  if (tid == 0) {
    sync::store(&g.x, 1, relaxed);
    if (fenced) sync::smp_mb();
    g.r[0][0] = sync::load(&g.y, relaxed);
  } else {
    sync::store(&g.y, 1, relaxed);
    if (fenced) sync::smp_mb();
    g.r[1][0] = sync::load(&g.x, relaxed);
  }
}

bool has_prefix(const std::set<std::string>& s, const std::string& prefix) {
  for (const std::string& o : s)
    if (o.rfind(prefix, 0) == 0) return true;
  return false;
}

TEST(MemoryModels, StoreBufferingAllowedByTsoAndWeakNotSc) {
  auto body = [](int t) { sb(t, false); };
  EXPECT_FALSE(has_prefix(outcomes(2, model::sc, body), "0,0,"));
  EXPECT_TRUE(has_prefix(outcomes(2, model::tso, body), "0,0,"));
  EXPECT_TRUE(has_prefix(outcomes(2, model::weak, body), "0,0,"));
}

TEST(MemoryModels, StoreBufferingForbiddenWithFullFences) {
  auto body = [](int t) { sb(t, true); };
  for (model m : {model::sc, model::tso, model::weak})
    EXPECT_FALSE(has_prefix(outcomes(2, m, body), "0,0,")) << memory::to_string(m);
}

// MP: x=1; [wmb|release] y=1 || r0=y; [rmb|acquire] r1=x. Outcome r0=1, r1=0.
enum class mp_kind { none, fences, relacq, wmb_only, rmb_only };
void mp(int tid, mp_kind k) {
  if (tid == 0) {
    sync::store(&g.x, 1, relaxed);
    if (k == mp_kind::fences || k == mp_kind::wmb_only) sync::smp_wmb();
    if (k == mp_kind::relacq)
      sync::smp_store_release(&g.y, 1);
    else
      sync::store(&g.y, 1, relaxed);
  } else {
    g.r[1][0] = k == mp_kind::relacq ? sync::smp_load_acquire(&g.y) : sync::load(&g.y, relaxed);
    if (k == mp_kind::fences || k == mp_kind::rmb_only) sync::smp_rmb();
    g.r[1][1] = sync::load(&g.x, relaxed);
  }
}

TEST(MemoryModels, MessagePassing) {
  auto run = [](model m, mp_kind k) {
    return has_prefix(outcomes(2, m, [k](int t) { mp(t, k); }, 2), "0,0,1,0,");
  };
  EXPECT_FALSE(run(model::sc, mp_kind::none));
  EXPECT_FALSE(run(model::tso, mp_kind::none));  // TSO keeps store-store and load-load order
  EXPECT_TRUE(run(model::weak, mp_kind::none));
  EXPECT_TRUE(run(model::weak, mp_kind::wmb_only));
  EXPECT_TRUE(run(model::weak, mp_kind::rmb_only));
  EXPECT_FALSE(run(model::weak, mp_kind::fences));
  EXPECT_FALSE(run(model::weak, mp_kind::relacq));
}

// A non-returning RMW orders nothing; smp_mb__after_atomic after it does.
TEST(MemoryModels, UnorderedRmwNeedsAfterAtomic) {
  auto run = [](model m, bool fence) {
    auto body = [fence](int tid) {
      if (tid == 0) {
        sync::rt::rmw(&g.x, [](int v) { return v + 1; }, relaxed, sync::site::current());
        if (fence) sync::smp_mb__after_atomic();
        g.r[0][0] = sync::load(&g.y, relaxed);
      } else {
        sync::store(&g.y, 1, relaxed);
        sync::smp_mb();
        g.r[1][0] = sync::load(&g.x, relaxed);
      }
    };
    return has_prefix(outcomes(2, m, body), "0,0,");
  };
  EXPECT_FALSE(run(model::tso, false));  // a locked instruction drains the store buffer
  EXPECT_TRUE(run(model::weak, false));
  EXPECT_FALSE(run(model::weak, true));
}

// Coherence: two loads of one location never go back in its modification order (CoRR).
TEST(MemoryModels, CoherenceOfReadReadUnderWeak) {
  auto body = [](int tid) {
    if (tid == 0) {
      sync::store(&g.x, 1, relaxed);
      sync::store(&g.x, 2, relaxed);
    } else {
      g.r[1][0] = sync::load(&g.x, relaxed);
      g.r[1][1] = sync::load(&g.x, relaxed);
    }
  };
  std::set<std::string> s = outcomes(2, model::weak, body, 2);
  EXPECT_TRUE(has_prefix(s, "0,0,0,0,"));   // both before the stores
  EXPECT_TRUE(has_prefix(s, "0,0,1,2,"));
  EXPECT_TRUE(has_prefix(s, "0,0,0,2,"));   // the first read stale
  EXPECT_TRUE(has_prefix(s, "0,0,1,1,"));   // both stale after both stores
  EXPECT_FALSE(has_prefix(s, "0,0,2,1,"));  // never back in the modification order
  EXPECT_FALSE(has_prefix(s, "0,0,2,0,"));
  EXPECT_FALSE(has_prefix(s, "0,0,1,0,"));
}

// A spinning CPU sees the store it waits for: the search terminates and the flag is seen.
TEST(MemoryModels, SpinLoopSeesTheStoreEventually) {
  for (model m : {model::tso, model::weak}) {
    auto body = [](int tid) {
      if (tid == 0) {
        sync::store(&g.x, 1, relaxed);
      } else {
        while (!sync::load(&g.x, relaxed)) sync::cpu_relax();
        g.r[1][0] = 1;
      }
    };
    std::set<std::string> s = outcomes(2, m, body);
    EXPECT_EQ(s, std::set<std::string>{"0,1,1,0"}) << memory::to_string(m);
  }
}

}  // namespace
