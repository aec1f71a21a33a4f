// The benchmark suites of gupfast_bench, and how to register them with Google Benchmark.
//
// Every benchmark has an id ("pin/4k/fast/rcu", "churn/munmap/seqcount", ...) that is its
// Google Benchmark name; report.cpp turns the results into rows and ratios by these ids.
// One suite per file:
//   pin_bench.cpp        pin+unpin of 1024 pages, 4 KiB and THP: our fast path per strategy,
//                        our slow path
//   breakdown_bench.cpp  where the fast path's time goes: walk only, grab only, core only
//   kernel_bench.cpp     the kernel's own pin paths on a real buffer: io_uring buffer
//                        registration, vmsplice + splice to /dev/null
//   floor_bench.cpp      the same atomics on a memmap-like array, with no walk
//   churn_bench.cpp      pin throughput with a mutator (munmap, reclaim, collapse) at a fixed rate
//   scaling_bench.cpp    1..nproc pinning threads, distinct pages vs one shared folio
//   memory_bench.cpp     sizeof(struct page), resident memory of a 16 GiB machine
// Each repetition runs for min_time seconds of wall-clock time (UseRealTime). The report's
// figures are the measuring thread's CPU time per iteration (Google Benchmark's CPU time:
// CLOCK_THREAD_CPUTIME_ID, system calls included), which leaves out the time the thread
// waited for a core on a shared machine; the wall-clock figure is kept beside it.
#pragma once
#include <benchmark/benchmark.h>

#include <functional>
#include <string>
#include <vector>

namespace gupfast::bench {

struct suite_options {
  bool quick = false;  // short runs, one repetition: the whole set in well under a minute
};

// How long each benchmark runs, from the mode.
struct suite_timing {
  double min_time;        // seconds per repetition (Google Benchmark's MinTime)
  double churn_min_time;  // the churn suite's: enough mutator operations at its fixed rate
  int repetitions;        // the report takes the median
};
suite_timing timing_for(const suite_options& opts);

// Registers every suite; returns the ids in registration order. Call once per process
// (or after benchmark::ClearRegisteredBenchmarks()).
std::vector<std::string> register_suites(const suite_options& opts);

// One registration: the id is the name; wall-clock time, nanoseconds; each repetition runs
// for at least min_time seconds, or exactly one iteration when min_time is 0.
using bench_fn = std::function<void(benchmark::State&)>;
benchmark::internal::Benchmark* register_one(std::vector<std::string>* ids, const std::string& id, bench_fn fn,
                                             double min_time, int repetitions);

// ---- the suites (each file's entry point) --------------------------------------------
void register_pin_suite(std::vector<std::string>* ids, const suite_timing& t);
void register_breakdown_suite(std::vector<std::string>* ids, const suite_timing& t);
void register_kernel_suite(std::vector<std::string>* ids, const suite_timing& t);
void register_floor_suite(std::vector<std::string>* ids, const suite_timing& t);
void register_churn_suite(std::vector<std::string>* ids, const suite_timing& t);
void register_scaling_suite(std::vector<std::string>* ids, const suite_timing& t);
void register_memory_suite(std::vector<std::string>* ids, const suite_timing& t);

// The counter every per-page benchmark sets: pages handled per iteration. The report
// divides the time per iteration by it.
inline constexpr const char* PAGES_PER_ITER = "pages_per_iter";

}  // namespace gupfast::bench
