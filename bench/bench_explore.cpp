// The explorer's throughput (model backend): executions per second of a two-thread GUP
// scenario, pin_user_pages_fast against MADV_DONTNEED of the same page, rcu strategy with
// broadcast TLB flushes, on a 2048-frame machine created and destroyed per execution.
//
//   ExploreGup/dfs/B      the whole DFS with preemption bound B (DPOR), once per iteration
//   ExploreGup/plain/B    the same without reduction (every interleaving within the bound)
//   ExploreGup/random     1000 random executions per iteration
//
// The counter executions_per_second is what docs/explore-model.md quotes.
#include <benchmark/benchmark.h>

#include "explore/search.h"
#include "gup/gup.h"
#include "machine/machine.h"

using namespace gupfast;
namespace ex = gupfast::explore;

namespace {

constexpr unsigned long A = 0x10000000ul;

struct scenario_state {
  mm_struct* mm = nullptr;
  bool up = false;
  long pinned = 0;
  page* pages[1] = {};
};
scenario_state g;

ex::program gup_vs_dontneed() {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] {
    g = {};
    machine_config cfg;
    cfg.frames = 2048;
    cfg.strategy = table_strategy::rcu;
    cfg.tlb = tlb_mode::broadcast;
    if (machine_create(cfg) != 0) ex::fail("setup", "machine_create");
    g.up = true;
    g.mm = mm_alloc();
    if (vm_mmap(g.mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_) != long(A) || mm_store(g.mm, A, 1) != 0)
      ex::fail("setup", "mmap/store");
  };
  p.thread = [](int tid) {
    if (tid == 0)
      g.pinned = pin_user_pages_fast(g.mm, A, 1, FOLL_WRITE, g.pages);
    else
      do_madvise(g.mm, A, PAGE_SIZE, MADV_DONTNEED_);
  };
  p.teardown = [] {
    if (g.pinned > 0) unpin_user_pages(g.pages, g.pinned);
    if (g.mm) mmput(g.mm);
    if (g.up) machine_destroy();
    g = {};
  };
  return p;
}

void run(benchmark::State& state, ex::options o) {
  ex::program p = gup_vs_dontneed();
  uint64_t executions = 0;
  for (auto _ : state) {
    ex::result r = ex::explore(p, o);
    if (r.found) state.SkipWithError(("unexpected violation: " + r.found->kind).c_str());
    executions += r.executions;
    state.counters["executions_per_search"] = static_cast<double>(r.executions);
  }
  state.counters["executions_per_second"] = benchmark::Counter(static_cast<double>(executions), benchmark::Counter::kIsRate);
}

void BM_ExploreGupDfs(benchmark::State& state) {
  ex::options o;
  o.bound = static_cast<int>(state.range(0));
  o.iterative = false;
  run(state, o);
}
BENCHMARK(BM_ExploreGupDfs)->Name("ExploreGup/dfs")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_ExploreGupPlain(benchmark::State& state) {
  ex::options o;
  o.bound = static_cast<int>(state.range(0));
  o.iterative = false;
  o.reduction = false;
  run(state, o);
}
BENCHMARK(BM_ExploreGupPlain)->Name("ExploreGup/plain")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_ExploreGupRandom(benchmark::State& state) {
  ex::options o;
  o.mode = ex::mode::random;
  o.runs = 1000;
  run(state, o);
}
BENCHMARK(BM_ExploreGupRandom)->Name("ExploreGup/random")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
