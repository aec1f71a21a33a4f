// The reduction is sound: on random small programs of the seam's operations (atomics, a lock,
// RCU, IPIs, irqs off, spin waits), DPOR with sleep sets reaches exactly the outcomes the
// unreduced search reaches, for each preemption bound and without one.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "explore/dfs.h"
#include "explore/search.h"
#include "explore/world.h"
#include "sync/sync.h"

using namespace gupfast;
namespace ex = gupfast::explore;

namespace {

constexpr int NWORDS = 3;

enum class kind { load, store, add, cas, yield, fence, lock_block, rcu_block, irq_block, ipi, sync_rcu, call_rcu, spin };

struct op {
  kind k;
  int word = 0;
  int value = 0;
  std::vector<op> inner;  // blocks
};

struct world {
  sync::atomic<int> w[NWORDS];
  sync::spinlock_t lock;
  sync::rcu_head heads[8];
  int nheads = 0;
  std::vector<int> seen[ex::MAX_THREADS];
};
world* g_w;
std::set<std::string>* g_outcomes;

void ipi_func(void*) { g_w->w[0].fetch_add(100, sync::relaxed); }
void rcu_cb(sync::rcu_head*) { g_w->w[2].fetch_add(10, sync::relaxed); }

void run(const op& o, int tid) {
  world* w = g_w;
  auto& seen = w->seen[tid];
  switch (o.k) {
    case kind::load:
      seen.push_back(w->w[o.word].load(sync::relaxed));
      break;
    case kind::store:
      w->w[o.word].store(o.value, sync::relaxed);
      break;
    case kind::add:
      seen.push_back(w->w[o.word].fetch_add(o.value, sync::relaxed));
      break;
    case kind::cas: {
      int expected = o.value;
      seen.push_back(w->w[o.word].compare_exchange(expected, o.value + 1, sync::seq_cst) ? 1 : 0);
      break;
    }
    case kind::yield:
      sync::yield_point("test:yield");
      break;
    case kind::fence:
      sync::smp_mb();
      break;
    case kind::lock_block:
      sync::spin_lock(&w->lock);
      for (auto& i : o.inner) run(i, tid);
      sync::spin_unlock(&w->lock);
      break;
    case kind::rcu_block:
      sync::rcu_read_lock();
      for (auto& i : o.inner) run(i, tid);
      sync::rcu_read_unlock();
      break;
    case kind::irq_block: {
      unsigned long f = sync::local_irq_save();
      for (auto& i : o.inner) run(i, tid);
      sync::local_irq_restore(f);
      break;
    }
    case kind::ipi:
      sync::smp_call_function_many(sync::cpu_online_mask(), ipi_func, nullptr, true);
      break;
    case kind::sync_rcu:
      sync::synchronize_rcu();
      seen.push_back(w->w[1].load(sync::relaxed));
      break;
    case kind::call_rcu:
      if (w->nheads < 8) sync::call_rcu(&w->heads[w->nheads++], rcu_cb);
      break;
    case kind::spin:
      while (w->w[o.word].load(sync::relaxed) == 0) sync::cpu_relax();
      break;
  }
}

op random_simple(std::mt19937& rng) {
  op o;
  o.k = static_cast<kind>(rng() % 4);
  o.word = static_cast<int>(rng() % NWORDS);
  o.value = static_cast<int>(rng() % 3);
  return o;
}

op random_op(std::mt19937& rng) {
  int r = static_cast<int>(rng() % 20);
  op o;
  if (r < 8) return random_simple(rng);
  switch (r) {
    case 8:
      o.k = kind::yield;
      break;
    case 9:
      o.k = kind::fence;
      break;
    case 10:
    case 11:
      o.k = kind::lock_block;
      break;
    case 12:
    case 13:
      o.k = kind::rcu_block;
      break;
    case 14:
      o.k = kind::irq_block;
      break;
    case 15:
      o.k = kind::ipi;
      break;
    case 16:
      o.k = kind::sync_rcu;
      break;
    case 17:
      o.k = kind::call_rcu;
      break;
    default:
      o.k = kind::spin;
      o.word = static_cast<int>(rng() % NWORDS);
      break;
  }
  if (o.k == kind::lock_block || o.k == kind::rcu_block || o.k == kind::irq_block) {
    int n = 1 + static_cast<int>(rng() % 2);
    for (int i = 0; i < n; i++) o.inner.push_back(random_simple(rng));
  }
  return o;
}

ex::program make_program(const std::vector<std::vector<op>>& threads) {
  ex::program p;
  p.nthreads = static_cast<int>(threads.size());
  p.setup = [] { g_w = new world; };
  p.thread = [threads](int tid) {
    for (auto& o : threads[static_cast<size_t>(tid)]) run(o, tid);
  };
  p.finish = [] {
    std::string s;
    for (auto& x : g_w->w) s += std::to_string(x.load(sync::relaxed)) + ",";
    for (auto& v : g_w->seen) {
      s += "|";
      for (int x : v) s += std::to_string(x) + ",";
    }
    ex::world::world_alloc_off off;  // the test's set outlives the execution's world
    g_outcomes->insert(s);
  };
  p.teardown = [] {
    sync::rcu_barrier();
    delete g_w;
    g_w = nullptr;
  };
  return p;
}

// snapshot: every execution starts from the state setup left (program::snapshot), which is
// also what lets the DFS keep the events of the prefix it repeats instead of recording them
// again (dfs_driver::begin_execution): the reduced search is compared both ways.
std::set<std::string> outcomes(const ex::program& prog, int bound, bool reduction, ex::result* r, uint64_t cap = 0,
                               bool snapshot = false) {
  ex::program p = prog;
  p.snapshot = snapshot;
  std::set<std::string> out;
  g_outcomes = &out;
  ex::options o;
  o.bound = bound;
  o.iterative = false;
  o.reduction = reduction;
  o.max_steps = 2000;
  o.max_executions = cap;
  ex::detail::g_keep_going = true;
  *r = ex::explore(p, o);
  ex::detail::g_keep_going = false;
  if (r->found) out.insert("violation " + r->found->kind);
  g_outcomes = nullptr;
  return out;
}

}  // namespace

TEST(ExploreReduction, SameOutcomesAsTheUnreducedSearch) {
  std::mt19937 rng(getenv("GUPFAST_REDUCTION_SEED") ? static_cast<unsigned>(atoi(getenv("GUPFAST_REDUCTION_SEED"))) : 12345u);
  uint64_t plain_total = 0, reduced_total = 0;
  int compared = 0, skipped = 0;
  int nprogs = getenv("GUPFAST_REDUCTION_PROGRAMS") ? atoi(getenv("GUPFAST_REDUCTION_PROGRAMS")) : 120;
  for (int prog = 0; prog < nprogs; prog++) {
    int nthreads = 2 + static_cast<int>(rng() % 2);
    std::vector<std::vector<op>> threads(static_cast<size_t>(nthreads));
    for (auto& t : threads) {
      int n = 2 + static_cast<int>(rng() % (nthreads == 2 ? 4 : 3));
      for (int i = 0; i < n; i++) t.push_back(random_op(rng));
    }
    ex::program p = make_program(threads);
    for (int bound : {0, 1, 2, -1}) {
      ex::result rp, rr;
      // Bounds 0 and 1 are always enumerated in full; the larger spaces only when the
      // unreduced search ends within 5000 executions (else they are skipped, not failed).
      bool always = bound == 0 || bound == 1;
      auto plain = outcomes(p, bound, false, &rp, always ? 0 : 5000);
      if (!rp.exhaustive) {  // too big to enumerate without reduction here
        ASSERT_FALSE(always);
        skipped++;
        continue;
      }
      for (bool snapshot : {false, true}) {
        auto reduced = outcomes(p, bound, true, &rr, 0, snapshot);
        reduced_total += rr.executions;
        ASSERT_TRUE(rr.exhaustive);
        ASSERT_EQ(plain, reduced) << "program " << prog << " bound " << bound << ": " << rp.executions
                                  << " unreduced executions, " << rr.executions << " reduced"
                                  << (snapshot ? " from a snapshot" : " from scratch");
      }
      plain_total += rp.executions;
      compared++;
    }
  }
  fprintf(stderr, "compared %d searches (%d too big), executions: %lu unreduced, %lu reduced\n", compared, skipped,
          (unsigned long)plain_total, (unsigned long)reduced_total);
  EXPECT_GE(compared, nprogs * 2);  // every program at bounds 0 and 1
}


namespace {
std::string show(const op& o) {
  static const char* names[] = {"load", "store", "add", "cas", "yield", "fence", "lock", "rcu", "irq", "ipi", "sync_rcu", "call_rcu", "spin"};
  std::string s = names[static_cast<int>(o.k)];
  if (o.k <= kind::cas || o.k == kind::spin) s += " w" + std::to_string(o.word) + " " + std::to_string(o.value);
  if (!o.inner.empty()) {
    s += " {";
    for (auto& i : o.inner) s += " " + show(i) + ";";
    s += " }";
  }
  return s;
}
}  // namespace

