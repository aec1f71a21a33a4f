// Registration of every suite, and the timing each mode gives them (suite.h).
#include "suite.h"

namespace gupfast::bench {

suite_timing timing_for(const suite_options& opts) {
  // quick: one short repetition of everything, well under a minute on 2 cores.
  // full: three repetitions (the report takes each figure's median), long enough that the
  // churn mutator, at its fixed rate, runs a few thousand operations per figure.
  if (opts.quick) return {0.05, 0.25, 1};
  return {0.3, 1.0, 3};
}

benchmark::internal::Benchmark* register_one(std::vector<std::string>* ids, const std::string& id, bench_fn fn,
                                             double min_time, int repetitions) {
  ids->push_back(id);
  auto* b = benchmark::RegisterBenchmark(id.c_str(), [fn = std::move(fn)](benchmark::State& s) { fn(s); });
  b->UseRealTime()->Unit(benchmark::kNanosecond);
  if (min_time > 0)
    b->MinTime(min_time);
  else
    b->Iterations(1);
  if (repetitions > 1) b->Repetitions(repetitions);
  return b;
}

std::vector<std::string> register_suites(const suite_options& opts) {
  const suite_timing t = timing_for(opts);
  std::vector<std::string> ids;
  register_pin_suite(&ids, t);
  register_kernel_suite(&ids, t);
  register_floor_suite(&ids, t);
  register_breakdown_suite(&ids, t);
  register_churn_suite(&ids, t);
  register_scaling_suite(&ids, t);
  register_memory_suite(&ids, t);
  return ids;
}

}  // namespace gupfast::bench
