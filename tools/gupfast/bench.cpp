// `gupfast bench`: run the benchmark suites (bench/, library gupfast_bench) in this process
// with Google Benchmark, print one table in which every figure stands beside the figures it
// is compared with (all measured in this run), and optionally write the report as JSON and
// draw SVG plots with gnuplot.
//
//   gupfast bench                       full mode: 3 repetitions each, medians (a few minutes)
//   gupfast bench --quick               one short repetition each (under a minute)
//   gupfast bench --json FILE --plots DIR --filter REGEX --list
//
// Misuse (exit 2, checked while parsing): a bad option, a --json path that cannot be
// written, a --plots directory that cannot be created, gnuplot missing with --plots, a
// --filter that is not a regex or matches no benchmark. Exit 1: a benchmark failed (an n/a
// kernel row is not a failure), or the JSON or the plots could not be written.
#include "bench.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include <fmt/format.h>

#include "cli.h"
#include "bench/runner.h"
#include "bench/suite.h"

namespace gupfast::cli {

namespace {

struct bench_options {
  bool quick = false;
  bool list = false;
  std::string json;
  std::string plots;
  std::string filter;
  // Filled while parsing:
  std::vector<std::string> ids;       // every benchmark, then the explorer row
  std::vector<std::string> selected;  // those --filter picks
};

namespace fs = std::filesystem;

void check_json_path(const std::string& file) {
  std::error_code ec;
  fs::path p(file);
  if (fs::is_directory(p, ec)) throw CLI::ValidationError("--json", fmt::format("'{}' is a directory", file));
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::is_directory(dir, ec))
    throw CLI::ValidationError("--json", fmt::format("cannot write '{}': no directory '{}'", file, dir.string()));
  if (access(dir.c_str(), W_OK) != 0 || (fs::exists(p, ec) && access(p.c_str(), W_OK) != 0))
    throw CLI::ValidationError("--json", fmt::format("cannot write '{}': {}", file, std::strerror(errno)));
}

void check_plots_dir(const std::string& dir) {
  if (!on_path("gnuplot"))
    throw CLI::ValidationError("--plots", "gnuplot is not on PATH (Debian: apt-get install gnuplot-nox)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw CLI::ValidationError("--plots", fmt::format("cannot create directory '{}': {}", dir,
                                                      ec ? ec.message() : "not a directory"));
  if (access(dir.c_str(), W_OK) != 0)
    throw CLI::ValidationError("--plots", fmt::format("cannot write in '{}': {}", dir, std::strerror(errno)));
}

void select(bench_options* o) {
  o->ids = bench::register_suites({o->quick});
  for (const explore_row_spec& e : explore_rows()) o->ids.push_back(e.id);
  try {
    o->selected = bench::select_ids(o->ids, o->filter);
  } catch (const std::regex_error& e) {
    throw CLI::ValidationError("--filter", fmt::format("'{}' is not a regular expression ({})", o->filter, e.what()));
  }
  if (o->selected.empty())
    throw CLI::ValidationError("--filter",
                               fmt::format("'{}' matches no benchmark (gupfast bench --list shows them)", o->filter));
}

int run_bench(const bench_options& o) {
  if (o.list) {
    for (const std::string& id : o.ids) fmt::print("{}\n", id);
    return 0;
  }
  std::vector<std::string> suites;
  std::vector<const explore_row_spec*> explore;
  for (const std::string& id : o.selected) {
    const explore_row_spec* e = nullptr;
    for (const explore_row_spec& s : explore_rows())
      if (id == s.id) e = &s;
    if (e)
      explore.push_back(e);
    else
      suites.push_back(id);
  }
  const bench::suite_timing t = bench::timing_for({o.quick});
  fmt::print("gupfast bench: {} benchmark{}{}, {} mode; the table follows when all have run\n", suites.size(),
             suites.size() == 1 ? "" : "s", explore.empty() ? "" : " and the explorer", o.quick ? "quick" : "full");
  std::fflush(stdout);

  std::vector<bench::bench_result> results = bench::run_selected(suites);
  bench::report r = bench::build_report(results, o.quick, t.repetitions);
  for (const explore_row_spec* e : explore) r.rows.push_back(explorer_row(*e, o.quick));
  fmt::print("\n{}", bench::report_table(r));
  std::fflush(stdout);

  int rc = 0;
  for (const bench::bench_result& b : results) {
    if (!b.ok && b.error.rfind("n/a", 0) != 0) {
      fmt::print(stderr, "gupfast bench: {} failed: {}\n", b.id, b.error);
      rc = EXIT_RUN_FAILED;
    }
  }
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    out << bench::report_json(r).dump(2) << "\n";
    out.close();
    if (!out) {
      fmt::print(stderr, "gupfast bench: cannot write {}\n", o.json);
      rc = EXIT_RUN_FAILED;
    }
  }
  if (!o.plots.empty()) {
    if (std::string err = write_plots(r, o.plots); !err.empty()) {
      fmt::print(stderr, "gupfast bench: plots: {}\n", err);
      rc = EXIT_RUN_FAILED;
    }
  }
  return rc;
}

}  // namespace

command add_bench_command(CLI::App& root) {
  auto opts = std::make_shared<bench_options>();
  CLI::App* sub = root.add_subcommand(
      "bench", "Benchmark GUP: pin throughput beside the kernel's own pin path and an atomics floor, the "
               "strategies under churn, scaling, the explorer, memory; one table, optional JSON and plots");
  sub->add_flag("--quick", opts->quick, "One short repetition of each benchmark (under a minute) instead of three");
  sub->add_option("--json", opts->json, "Write the report (rows, ratios, targets, machine) as JSON to FILE")
      ->option_text("FILE");
  sub->add_option("--plots", opts->plots, "Draw SVG plots into DIR (created if missing) with gnuplot")
      ->option_text("DIR");
  sub->add_option("--filter", opts->filter,
                  "Run only the benchmarks whose id matches REGEX (ECMAScript, searched), e.g. '^pin/4k/'")
      ->option_text("REGEX");
  sub->add_flag("--list", opts->list, "Print the benchmark ids and exit");
  sub->callback([opts] {
    if (!opts->json.empty()) check_json_path(opts->json);
    if (!opts->plots.empty()) check_plots_dir(opts->plots);
    select(opts.get());
  });
  return {sub, [opts] { return run_bench(*opts); }};
}

}  // namespace gupfast::cli
