// GUP benchmarks (Google Benchmark): pin+unpin cost per page for each strategy, with and
// without a concurrent mutator, and how often the fast path falls back.
//
//   build/release/bench/bench_gup --benchmark_filter=PinUnpin
//
// Figures are per 4 KiB page; counters report fast-path fallbacks per call.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "gup/gup.h"
#include "machine/machine.h"

using namespace gupfast;

namespace {

constexpr unsigned long REGION = 0x40000000ul;
constexpr unsigned long CHURN = 0x80000000ul;  // another PMD table: disjoint from REGION
constexpr long NPAGES = 1024;

table_strategy strategy_of(int64_t i) { return static_cast<table_strategy>(i); }

struct bench_machine {
  explicit bench_machine(table_strategy s, bool thp = false) {
    machine_config cfg;
    cfg.strategy = s;
    cfg.poison = false;
    cfg.frames = 1ul << 20;
    rc = machine_create(cfg);
    mm = mm_alloc();
    cpu_scope cpu;
    vm_mmap(mm, REGION, NPAGES * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | (thp ? MAP_HUGE_THP : 0));
    for (long i = 0; i < NPAGES; i++) mm_store(mm, REGION + i * PAGE_SIZE, 1);
  }
  ~bench_machine() {
    {
      cpu_scope cpu;
      mmput(mm);
    }
    machine_destroy();
  }
  int rc;
  mm_struct* mm;
};

void pin_loop(benchmark::State& state, mm_struct* mm) {
  static page* pages[NPAGES];
  cpu_scope cpu;
  uint64_t stops0 = counter_read(CNT_stop_seq_changed), calls0 = counter_read(CNT_gup_fast_calls);
  uint64_t slow0 = counter_read(CNT_gup_slow_pages);
  for (auto _ : state) {
    long n = pin_user_pages_fast(mm, REGION, NPAGES, FOLL_WRITE | FOLL_LONGTERM, pages);
    if (n != NPAGES) state.SkipWithError("short pin");
    unpin_user_pages(pages, n);
  }
  state.SetItemsProcessed(state.iterations() * NPAGES);
  double calls = double(counter_read(CNT_gup_fast_calls) - calls0);
  state.counters["seq_retry_per_call"] = calls ? double(counter_read(CNT_stop_seq_changed) - stops0) / calls : 0;
  state.counters["slow_pages_per_call"] =
      calls ? double(counter_read(CNT_gup_slow_pages) - slow0) / calls : 0;
}

void BM_PinUnpin(benchmark::State& state) {
  bench_machine m(strategy_of(state.range(0)), state.range(1) != 0);
  pin_loop(state, m.mm);
  state.SetLabel(std::string(to_string(strategy_of(state.range(0)))) + (state.range(1) ? " thp" : " 4k"));
}
BENCHMARK(BM_PinUnpin)->ArgsProduct({{0, 1, 2}, {0, 1}})->Unit(benchmark::kMicrosecond);

// A mutator zaps and refaults a disjoint range (another PMD table) as fast as it can.
// With the seqcount strategy's per-mm counter every such zap makes concurrent walks of
// REGION retry (false retries); the ipi and rcu strategies do not care.
void BM_PinUnpinChurn(benchmark::State& state) {
  bench_machine m(strategy_of(state.range(0)));
  cpu_scope setup;
  vm_mmap(m.mm, CHURN, 16 * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_);
  std::atomic<bool> stop{false};
  std::atomic<long> churns{0};
  std::thread mutator([&] {
    cpu_scope cpu;
    while (!stop.load(std::memory_order_relaxed)) {
      do_madvise(m.mm, CHURN, 16 * PAGE_SIZE, MADV_DONTNEED_);
      for (int i = 0; i < 16; i++) mm_store(m.mm, CHURN + i * PAGE_SIZE, 1);
      churns.fetch_add(1, std::memory_order_relaxed);
    }
  });
  pin_loop(state, m.mm);
  stop = true;
  mutator.join();
  state.counters["mutator_zaps"] = double(churns.load());
  state.SetLabel(to_string(strategy_of(state.range(0))));
}
BENCHMARK(BM_PinUnpinChurn)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
