// bench_gup: every gupfast_bench suite under Google Benchmark's own command line and
// console output (one line per repetition, all counters), plus the seqcount scope suite of
// docs/strategies.md (strategies_bench.cpp: BM_PinUnpin, BM_PinUnpinChurn). `gupfast bench`
// runs the gupfast_bench suites and prints one table with the ratios; use this to look at
// one benchmark closely:
//
//   build/release/bench/bench_gup --benchmark_filter='^pin/4k/fast/'
//   build/release/bench/bench_gup --benchmark_filter='^churn/munmap/' --benchmark_counters_tabular=true
//
// GUPFAST_BENCH_QUICK=1 in the environment registers the quick mode's timing instead of the
// full mode's.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "suite.h"

int main(int argc, char** argv) {
  gupfast::bench::suite_options opts;
  const char* quick = std::getenv("GUPFAST_BENCH_QUICK");
  opts.quick = quick && std::strcmp(quick, "0") != 0;
  gupfast::bench::register_suites(opts);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
