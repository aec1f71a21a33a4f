// The seqcount scope comparison behind docs/strategies.md (Google Benchmark, bench_gup
// only): pin+unpin of 1024 pages per configuration (each strategy, and seqcount with a
// per-mm and a per-table counter), with and without a mutator zapping 16 pages in another
// PMD table or in a PTE table the pinner reads. `gupfast bench` has the broader suites.
//
//   build/release/bench/bench_gup --benchmark_filter=PinUnpin
//
// Figures are per call of 1024 pages; counters report fast-path fallbacks per call.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "gup/gup.h"
#include "machine/machine.h"

using namespace gupfast;

namespace {

// 4 KiB runs pin REGION: it starts 64 pages into a PTE table, so SAME_TABLE (the 16 pages
// before it) shares that table with the first pinned pages. THP runs pin THP_REGION.
constexpr unsigned long REGION = 0x40040000ul;
constexpr unsigned long SAME_TABLE = 0x40000000ul;
constexpr unsigned long OTHER_TABLE = 0x80000000ul;  // another PMD table
constexpr unsigned long THP_REGION = 0x40000000ul;
constexpr long NPAGES = 1024;

// The configurations compared: each strategy, and the seqcount strategy at both scopes.
struct bench_config {
  const char* name;
  table_strategy strategy;
  seq_scope scope;
};
constexpr bench_config configs[] = {
    {"ipi", table_strategy::ipi, seq_scope::table},
    {"rcu", table_strategy::rcu, seq_scope::table},
    {"seqcount/table", table_strategy::seqcount, seq_scope::table},
    {"seqcount/mm", table_strategy::seqcount, seq_scope::mm},
};
constexpr int NR_CONFIGS = sizeof(configs) / sizeof(configs[0]);

struct bench_machine {
  explicit bench_machine(const bench_config& c, bool thp = false) {
    machine_config cfg;
    cfg.strategy = c.strategy;
    cfg.scope = c.scope;
    cfg.poison = false;
    cfg.frames = 1ul << 20;
    rc = machine_create(cfg);
    mm = mm_alloc();
    region = thp ? THP_REGION : REGION;
    cpu_scope cpu;
    vm_mmap(mm, region, NPAGES * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | (thp ? MAP_HUGE_THP : 0));
    for (long i = 0; i < NPAGES; i++) mm_store(mm, region + i * PAGE_SIZE, 1);
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
  unsigned long region;
};

void pin_loop(benchmark::State& state, mm_struct* mm, unsigned long region) {
  static page* pages[NPAGES];
  cpu_scope cpu;
  uint64_t stops0 = counter_read(CNT_stop_seq_changed), calls0 = counter_read(CNT_gup_fast_calls);
  uint64_t slow0 = counter_read(CNT_gup_slow_pages);
  for (auto _ : state) {
    long n = pin_user_pages_fast(mm, region, NPAGES, FOLL_WRITE | FOLL_LONGTERM, pages);
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
  const bench_config& c = configs[state.range(0)];
  bench_machine m(c, state.range(1) != 0);
  pin_loop(state, m.mm, m.region);
  state.SetLabel(std::string(c.name) + (state.range(1) ? " thp" : " 4k"));
}
BENCHMARK(BM_PinUnpin)->ArgsProduct({benchmark::CreateDenseRange(0, NR_CONFIGS - 1, 1), {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// A mutator zaps and refaults 16 pages as fast as it can, either in another PMD table
// (range(1) == 0: disjoint from REGION) or inside REGION's last PTE table (range(1) == 1:
// pages the pinner does not pin, but shares a table with). With the per-mm counter every
// zap makes concurrent walks retry (false retries); with per-table counters only walks of
// the same table do; the ipi and rcu strategies do not care.
void BM_PinUnpinChurn(benchmark::State& state) {
  const bench_config& c = configs[state.range(0)];
  bench_machine m(c);
  cpu_scope setup;
  const unsigned long churn = state.range(1) ? SAME_TABLE : OTHER_TABLE;
  vm_mmap(m.mm, churn, 16 * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_);
  std::atomic<bool> stop{false};
  std::atomic<long> churns{0};
  std::thread mutator([&] {
    cpu_scope cpu;
    while (!stop.load(std::memory_order_relaxed)) {
      do_madvise(m.mm, churn, 16 * PAGE_SIZE, MADV_DONTNEED_);
      for (int i = 0; i < 16; i++) mm_store(m.mm, churn + i * PAGE_SIZE, 1);
      churns.fetch_add(1, std::memory_order_relaxed);
    }
  });
  pin_loop(state, m.mm, m.region);
  stop = true;
  mutator.join();
  state.counters["mutator_zaps"] = double(churns.load());
  state.SetLabel(std::string(c.name) + (state.range(1) ? " same-table" : " other-table"));
}
BENCHMARK(BM_PinUnpinChurn)
    ->ArgsProduct({benchmark::CreateDenseRange(0, NR_CONFIGS - 1, 1), {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
