// Scaling: 1..nproc CPUs pinning at once (rcu strategy), each in a loop of
// pin_user_pages_fast + unpin_user_pages, on distinct pages or all on the same ones:
//
//   scaling/distinct-4k/<T>    each CPU its own 1024 x 4 KiB pages (its own PMD table)
//   scaling/shared-4k/<T>      every CPU the same 1024 pages: each refcount line bounces
//   scaling/distinct-page/<T>  each CPU its own single 4 KiB page, one page per call
//   scaling/shared-page/<T>    every CPU the same 4 KiB page (one small folio), one page per
//                              call: the refcount cache line bounces on every atomic
//
// T runs over 1, 2, 4, ... and nproc (at most 32). The figure is the time per page of one
// CPU (the thread Google Benchmark times); aggregate_mpages_per_s counts every CPU's pages
// over the same wall-clock interval, and on_core_fraction says how much of that interval
// the T threads actually ran (their CPU time / (T x wall time)): on a machine busy with
// other work they take turns, and cache lines bounce only between threads that run at once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "fixture.h"
#include "suite.h"

namespace gupfast::bench {

namespace {

struct scaling_case {
  const char* name;
  bool shared;
  long pages;  // per call
};
constexpr scaling_case CASES[] = {
    {"distinct-4k", false, NPAGES},
    {"shared-4k", true, NPAGES},
    {"distinct-page", false, 1},
    {"shared-page", true, 1},
};
constexpr int MAX_THREADS = 32;

// CPU t's range: REGION's offset in its own GiB (distinct), or REGION itself (shared).
unsigned long range_of(const scaling_case& c, int t) { return c.shared ? REGION : REGION + t * (1ul << 30); }

void bm_scaling(benchmark::State& state, const scaling_case& c, int nthreads) {
  bench_machine m(state, table_strategy::rcu);
  if (!m.ok()) return;
  mm_struct* mm = m.mm();
  for (int t = 0; t < (c.shared ? 1 : nthreads); t++)
    if (!m.populate(range_of(c, t), c.pages, false)) return;

  std::atomic<int> ready{0};
  std::atomic<bool> go{false}, stop{false}, failed{false};
  std::vector<long> calls(static_cast<size_t>(nthreads), 0);
  std::vector<double> cpu_s(static_cast<size_t>(nthreads), 0);
  std::vector<std::thread> helpers;
  for (int t = 1; t < nthreads; t++) {
    helpers.emplace_back([&, t] {
      cpu_scope cpu;
      std::vector<page*> pages(static_cast<size_t>(c.pages));
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      long n = 0;
      double c0 = thread_cpu_seconds();
      while (!stop.load(std::memory_order_relaxed)) {
        long got = pin_user_pages_fast(mm, range_of(c, t), c.pages, PIN_FLAGS, pages.data());
        if (got > 0) unpin_user_pages(pages.data(), got);
        if (got != c.pages) failed.store(true);
        n++;
      }
      calls[static_cast<size_t>(t)] = n;
      cpu_s[static_cast<size_t>(t)] = thread_cpu_seconds() - c0;
    });
  }
  while (ready.load() != nthreads - 1) std::this_thread::yield();

  std::vector<page*> pages(static_cast<size_t>(c.pages));
  go.store(true, std::memory_order_release);
  auto t0 = std::chrono::steady_clock::now();
  double c0 = thread_cpu_seconds();
  for (auto _ : state) {
    long got = pin_user_pages_fast(mm, range_of(c, 0), c.pages, PIN_FLAGS, pages.data());
    if (got > 0) unpin_user_pages(pages.data(), got);
    if (got != c.pages) failed.store(true);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  cpu_s[0] = thread_cpu_seconds() - c0;
  stop.store(true);
  for (std::thread& h : helpers) h.join();
  if (failed.load()) {
    state.SkipWithError("short pin");
    return;
  }
  calls[0] = static_cast<long>(state.iterations());
  long total = 0;
  for (long n : calls) total += n;
  state.counters[PAGES_PER_ITER] = static_cast<double>(c.pages);
  state.counters["threads"] = nthreads;
  state.counters["aggregate_mpages_per_s"] = seconds > 0 ? static_cast<double>(total * c.pages) / seconds / 1e6 : 0;
  double cpu = 0;
  for (double x : cpu_s) cpu += x;
  state.counters["on_core_fraction"] = seconds > 0 ? cpu / (seconds * nthreads) : 0;
}

std::vector<int> thread_counts() {
  int n = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, MAX_THREADS);
  std::vector<int> v;
  for (int t = 1; t < n; t *= 2) v.push_back(t);
  v.push_back(n);
  return v;
}

}  // namespace

void register_scaling_suite(std::vector<std::string>* ids, const suite_timing& t) {
  for (const scaling_case& c : CASES)
    for (int n : thread_counts())
      register_one(
          ids, fmt::format("scaling/{}/{}", c.name, n), [&c, n](benchmark::State& s) { bm_scaling(s, c, n); },
          t.min_time, t.repetitions);
}

}  // namespace gupfast::bench
