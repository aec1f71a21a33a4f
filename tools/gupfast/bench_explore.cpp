// The explorer rows of `gupfast bench`: how many executions per second the deterministic
// explorer (`gupfast explore`) gets through
//   explore/two-thread  reclaim-vs-pin-fast's safe search (4 KiB pages)
//   explore/thp         folio-recheck's safe search (a THP split under GUP-fast, the
//                       explorer's small geometry)
// each a whole dfs search within bound 2, run a few times (the median rate is the row's).
//
// The explorer is its own subcommand, built separately; a row only runs it, as a child
// process of this very binary, and reads its JSON report ("executions", "seconds"). If the
// binary has no `explore` (`gupfast explore --help` does not print explore's help), the row says
// "n/a (explorer not built)". The two-thread scenario is reclaim-vs-pin-fast when `gupfast
// scenarios` lists it (or cannot be asked), else the first name it lists.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench.h"

namespace gupfast::cli {

namespace {

constexpr const char* DEFAULT_SCENARIO = "reclaim-vs-pin-fast";

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "gupfast";
  return std::string(buf, static_cast<size_t>(n));
}

// The scenario to explore: DEFAULT_SCENARIO if listed, else the first word of the first
// listed line that looks like a scenario name (lower case, digits and dashes).
std::string pick_scenario(const std::string& self) {
  child_result r = run_child({self, "scenarios"}, 10);
  if (r.exit_code != 0 || r.out.find(DEFAULT_SCENARIO) != std::string::npos) return DEFAULT_SCENARIO;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string w;
    words >> w;
    if (w.empty() || w.find('-') == std::string::npos) continue;
    if (w.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos) return w;
  }
  return DEFAULT_SCENARIO;
}

bench::row make_row(const explore_row_spec& spec) {
  bench::row x;
  x.id = spec.id;
  x.section = "explorer (gupfast explore), one search";
  x.name = spec.what;
  x.unit = "executions/s";
  return x;
}

}  // namespace

const std::vector<explore_row_spec>& explore_rows() {
  static const std::vector<explore_row_spec> rows = {
      {"explore/two-thread", DEFAULT_SCENARIO, "executions per second, a two-thread scenario"},
      {"explore/thp", "folio-recheck", "executions per second, a THP split under GUP-fast (small geometry)"},
      // The memory models' cost on the same scenario (docs/memory-model.md); tso's flush
      // placements multiply the executions, so its search is cut at a count.
      {"explore/weak", DEFAULT_SCENARIO, "executions per second, weak memory (stale-read bound 2)",
       {"--memory", "weak"}},
      {"explore/tso", DEFAULT_SCENARIO, "executions per second, x86-TSO (first 50,000 executions)",
       {"--memory", "tso", "--max-executions", "50000"}},
  };
  return rows;
}

bench::row explorer_row(const explore_row_spec& spec, bool quick) {
  const std::string self = self_exe();
  bench::row x = make_row(spec);
  // Without an `explore` subcommand, CLI11 answers `explore --help` with the root's help
  // (exit 0): only explore's own help has "gupfast explore" in its usage line.
  child_result help = run_child({self, "explore", "--help"}, 10);
  // A build without the model backend has an `explore` that only says so.
  if (!help.started || help.exit_code != 0 || help.out.find("gupfast explore") == std::string::npos ||
      help.out.find("(not built)") != std::string::npos) {
    x.na = "n/a (explorer not built)";
    return x;
  }
  const std::string scenario = spec.scenario == DEFAULT_SCENARIO ? pick_scenario(self) : spec.scenario;
  x.name = fmt::format("{}: {}", spec.what, scenario);

  char path[] = "/tmp/gupfast-bench-explore-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    x.na = fmt::format("n/a (cannot create a temporary file: {})", std::strerror(errno));
    return x;
  }
  close(fd);
  const double limit = quick ? 30 : 300;
  const int runs = quick ? 3 : 5;
  std::vector<double> rates;
  double executions = 0, seconds = 0;
  int exit_code = 0;
  nlohmann::json j;
  for (int run = 0; run < runs; run++) {
    std::vector<std::string> argv = {self, "explore", scenario, "--json", path};
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    child_result r = run_child(argv, limit);
    std::ifstream in(path);
    j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (r.timed_out) {
      unlink(path);
      x.na = fmt::format("n/a (explore {} ran past {} s)", scenario, limit);
      return x;
    }
    if (j.is_discarded() || !j.is_object() || !j.contains("executions") || !j.contains("seconds") ||
        !j["executions"].is_number() || !j["seconds"].is_number()) {
      unlink(path);
      if (r.err.find("built without the explorer") != std::string::npos) {
        x.na = "n/a (explorer not built)";
        return x;
      }
      std::string why = r.err.substr(0, r.err.find('\n'));
      if (why.size() > 100) why = why.substr(0, 100) + "...";
      x.na = fmt::format("n/a (explore {} exited {} without executions/seconds in its JSON{}{})", scenario,
                         r.exit_code, why.empty() ? "" : ": ", why);
      return x;
    }
    executions = j["executions"].get<double>();
    seconds = j["seconds"].get<double>();
    exit_code = r.exit_code;
    if (seconds > 0) rates.push_back(executions / seconds);
  }
  unlink(path);
  if (rates.empty()) {
    x.na = "n/a (explore reported 0 seconds)";
    return x;
  }
  std::sort(rates.begin(), rates.end());
  x.value = rates[rates.size() / 2];
  x.counters = {{"executions", executions}, {"seconds", seconds}, {"exit_code", exit_code},
                {"runs", static_cast<double>(rates.size())}};
  std::string search;  // "dfs, bound 2, exhaustive", from what the explorer reports
  if (j.contains("mode") && j["mode"].is_string()) search = j["mode"].get<std::string>();
  if (j.contains("bound") && j["bound"].is_number()) search += fmt::format(", bound {}", j["bound"].get<long>());
  if (j.contains("exhaustive") && j["exhaustive"].is_boolean())
    search += j["exhaustive"].get<bool>() ? ", exhaustive" : ", not exhaustive";
  const bool violation = j.contains("violation") && !j["violation"].is_null();
  x.note = fmt::format("{:.0f} executions in {} s{}, median of {} runs{}{}", executions, bench::format_figure(seconds),
                       search.empty() ? "" : " (" + search + ")", rates.size(), violation ? "; stopped at a violation" : "",
                       exit_code ? fmt::format("; explore exited {}", exit_code) : "");
  return x;
}

}  // namespace gupfast::cli
