// `gupfast bench`: the pieces of the command besides its parser (bench.cpp).
//
//   bench_explore.cpp  the explorer rows: executions per second of `gupfast explore` on a
//                      two-thread scenario and a THP one, or "n/a (explorer not built)"
//   bench_plots.cpp    SVG plots of the report through gnuplot
//   bench_spawn.cpp    running a child process with a time limit, capturing its output
#pragma once
#include <string>
#include <vector>

#include "bench/report.h"

namespace gupfast::cli {

// The explorer's rows: id (what --filter matches and --list shows), scenario, what it measures.
struct explore_row_spec {
  const char* id;
  const char* scenario;
  const char* what;
  std::vector<std::string> args = {};  // more `gupfast explore` options (--memory weak ...)
};
const std::vector<explore_row_spec>& explore_rows();

// Runs this binary's `explore` on the row's scenario (explore/two-thread: the first two-thread
// scenario `gupfast scenarios` lists, reclaim-vs-pin-fast if it cannot tell) a few times and
// returns the row: the median executions per second from the explorer's JSON (keys
// "executions", "seconds"), or an n/a row saying why not.
bench::row explorer_row(const explore_row_spec& spec, bool quick);

// Writes pin.svg, breakdown.svg, churn.svg, mutator.svg and scaling.svg (each only if the
// report has its rows) into dir with gnuplot. Returns "" or what went wrong.
std::string write_plots(const bench::report& r, const std::string& dir);

// A finished (or killed) child process.
struct child_result {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // -1: killed by a signal (or by us at the time limit)
  std::string out, err;
};
// Runs argv[0] (searched in PATH) with argv, stdin fed from `input`, stdout and stderr
// captured; kills it with SIGKILL after timeout_s seconds.
child_result run_child(const std::vector<std::string>& argv, double timeout_s, const std::string& input = "");

// Is `name` an executable file in one of PATH's directories?
bool on_path(const std::string& name);

}  // namespace gupfast::cli
