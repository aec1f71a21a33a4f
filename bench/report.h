// From benchmark results to the report `gupfast bench` prints and writes: rows grouped in
// sections, each figure beside the figures it is compared with (measured in the same run),
// the named ratios, the targets, and the machine it ran on.
//
// JSON (report_json):
//   { "mode": "quick" | "full", "date": ISO 8601 UTC, "repetitions": n,
//     "machine": { "cpu_model", "cores", "kernel", "thp" },
//     "rows": [ { "id", "section", "name", "unit",
//                 "ns_per_page" (unit ns/page) or "value" (other units; null when n/a),
//                 "na" (why there is no figure), "vs" { what: ratio | null },
//                 "note", "counters" { ..., "wall_ns_per_page" } } ],
//     "ratios": { "fast_vs_kernel_io_uring", "fast_vs_kernel_vmsplice", "fast_vs_floor",
//                 "thp_vs_4k", "seqcount_vs_rcu", "ipi_vs_rcu", ...: number | null },
//     "targets": [ { "what", "ratio", "limit", "value", "met" } ] }
// Times are the measuring thread's CPU time (suite.h says why); "wall_ns_per_page" is the
// wall-clock figure. "fast" in the ratios is the rcu strategy's fast path (the kernel's
// configuration: x86 frees page tables with MMU_GATHER_RCU_TABLE_FREE); each strategy's own
// ratios are in its row's "vs".
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runner.h"

namespace gupfast::bench {

struct row {
  std::string id;       // the benchmark id, or a derived one ("breakdown/4k/rest")
  std::string section;  // the heading it is printed under
  std::string name;     // what it measures, in words
  std::string unit;     // "ns/page", "us", "executions/s", "bytes", "MiB"
  std::optional<double> value;
  std::string na;  // why there is no value ("n/a (EPERM: io_uring_queue_init)")
  std::vector<std::pair<std::string, std::optional<double>>> vs;  // printed as "0.39x io_uring"
  std::string note;
  std::map<std::string, double> counters;
};

struct target {
  std::string what;
  std::string ratio;  // key in report::ratios
  double limit;       // met when the ratio is at most this
};

struct machine_info {
  std::string cpu_model;
  int cores = 0;
  std::string kernel;
  std::string thp;  // the active value of /sys/kernel/mm/transparent_hugepage/enabled
};
machine_info this_machine();

struct report {
  std::string mode;
  std::string date;
  int repetitions = 1;
  machine_info machine;
  std::vector<row> rows;
  std::vector<std::pair<std::string, std::optional<double>>> ratios;
  std::vector<target> targets;

  const row* find(const std::string& id) const;
  std::optional<double> ratio(const std::string& key) const;
};

// Rows, ratios and targets from the results (missing benchmarks give n/a rows only where
// a comparison needs them; filtered-out sections are left out).
report build_report(const std::vector<bench_result>& results, bool quick, int repetitions);

nlohmann::json report_json(const report& r);
// The one table `gupfast bench` prints (report_table.cpp).
std::string report_table(const report& r);

// "12.3" / "0.456" / "1234": three significant digits or so.
std::string format_figure(double v);

}  // namespace gupfast::bench
