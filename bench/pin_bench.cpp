// Pin+unpin of 1024 resident pages, one thread, no churn: our fast path under each
// page-table lifetime strategy, and our slow path, on 4 KiB pages and on two 2 MiB THP
// folios. The figure is ns per 4 KiB page; report.cpp sets each beside the kernel's pin
// path and the atomics floor measured in the same run.
//
//   pin/4k/fast/{ipi,rcu,seqcount}   pin_user_pages_fast + unpin_user_pages
//   pin/4k/slow                      pin_user_pages under mmap_lock (read) + unpin, rcu
//   pin/thp/...                      the same on THP_REGION
#include <fmt/format.h>

#include "fixture.h"
#include "suite.h"

namespace gupfast::bench {

namespace {

void bm_pin(benchmark::State& state, table_strategy s, bool thp, pin_path path) {
  bench_machine m(state, s);
  if (!m.ok()) return;
  unsigned long start = thp ? THP_REGION : REGION;
  if (!m.populate(start, NPAGES, thp)) return;
  pin_unpin_loop(state, m.mm(), start, NPAGES, path);
}

}  // namespace

void register_pin_suite(std::vector<std::string>* ids, const suite_timing& t) {
  for (bool thp : {false, true}) {
    const char* size = thp ? "thp" : "4k";
    for (const strategy_case& c : STRATEGIES)
      register_one(
          ids, fmt::format("pin/{}/fast/{}", size, c.name),
          [s = c.strategy, thp](benchmark::State& st) { bm_pin(st, s, thp, pin_path::fast); }, t.min_time,
          t.repetitions);
    // The slow path does not depend on the strategy (it holds mmap_lock and the PTL).
    register_one(
        ids, fmt::format("pin/{}/slow", size),
        [thp](benchmark::State& st) { bm_pin(st, table_strategy::rcu, thp, pin_path::slow); }, t.min_time,
        t.repetitions);
  }
}

}  // namespace gupfast::bench
