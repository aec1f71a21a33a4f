// Running the registered suites in-process and collecting their results, for `gupfast
// bench` (bench_gup uses Google Benchmark's own console reporter instead).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace gupfast::bench {

// One benchmark's result: the median over its repetitions.
struct bench_result {
  std::string id;
  bool ok = false;
  std::string error;         // Google Benchmark's error message when !ok ("n/a (EPERM: ...)")
  double ns_per_iter = 0;       // CPU time of the measuring thread per iteration
  double wall_ns_per_iter = 0;  // wall-clock time per iteration
  std::map<std::string, double> counters;  // each counter's median
  int repetitions = 0;
};

// The registered ids that `filter` (an ECMAScript regex, searched in the id; empty: all)
// selects. Throws std::regex_error for a bad regex.
std::vector<std::string> select_ids(const std::vector<std::string>& ids, const std::string& filter);

// Runs the selected benchmarks (already registered) and returns one result per id, in the
// order given. An id that produced no run comes back with ok = false.
std::vector<bench_result> run_selected(const std::vector<std::string>& selected);

}  // namespace gupfast::bench
