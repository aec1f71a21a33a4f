// The explorer row of `gupfast bench`: how many executions per second the deterministic
// explorer (`gupfast explore`) gets through on a two-thread scenario.
//
// The explorer is its own subcommand, built separately; this row only runs it, as a child
// process of this very binary, and reads its JSON report ("executions", "seconds"). If the
// binary has no `explore` (`gupfast explore --help` does not print explore's help), the row says
// "n/a (explorer not built)". The scenario is reclaim-vs-pin-fast when `gupfast scenarios`
// lists it (or cannot be asked), else the first name it lists.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
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

bench::row make_row(const std::string& name) {
  bench::row x;
  x.id = EXPLORE_ROW_ID;
  x.section = "explorer (gupfast explore), one run";
  x.name = name;
  x.unit = "executions/s";
  return x;
}

}  // namespace

bench::row explorer_row(bool quick) {
  const std::string self = self_exe();
  bench::row x = make_row("executions per second on a two-thread scenario");
  // Without an `explore` subcommand, CLI11 answers `explore --help` with the root's help
  // (exit 0): only explore's own help has "gupfast explore" in its usage line.
  child_result help = run_child({self, "explore", "--help"}, 10);
  // A build without the model backend has an `explore` that only says so.
  if (!help.started || help.exit_code != 0 || help.out.find("gupfast explore") == std::string::npos ||
      help.out.find("(not built)") != std::string::npos) {
    x.na = "n/a (explorer not built)";
    return x;
  }
  const std::string scenario = pick_scenario(self);
  x.name = fmt::format("executions per second, scenario {}", scenario);

  char path[] = "/tmp/gupfast-bench-explore-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    x.na = fmt::format("n/a (cannot create a temporary file: {})", std::strerror(errno));
    return x;
  }
  close(fd);
  const double limit = quick ? 30 : 300;
  child_result r = run_child({self, "explore", scenario, "--json", path}, limit);
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  unlink(path);
  if (r.timed_out) {
    x.na = fmt::format("n/a (explore {} ran past {} s)", scenario, limit);
    return x;
  }
  if (j.is_discarded() || !j.is_object() || !j.contains("executions") || !j.contains("seconds") ||
      !j["executions"].is_number() || !j["seconds"].is_number()) {
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
  double executions = j["executions"].get<double>(), seconds = j["seconds"].get<double>();
  if (seconds <= 0) {
    x.na = "n/a (explore reported 0 seconds)";
    return x;
  }
  x.value = executions / seconds;
  x.counters = {{"executions", executions}, {"seconds", seconds}, {"exit_code", r.exit_code}};
  std::string search;  // "dfs, bound 2, exhaustive", from what the explorer reports
  if (j.contains("mode") && j["mode"].is_string()) search = j["mode"].get<std::string>();
  if (j.contains("bound") && j["bound"].is_number()) search += fmt::format(", bound {}", j["bound"].get<long>());
  if (j.contains("exhaustive") && j["exhaustive"].is_boolean())
    search += j["exhaustive"].get<bool>() ? ", exhaustive" : ", not exhaustive";
  const bool violation = j.contains("violation") && !j["violation"].is_null();
  x.note = fmt::format("{:.0f} executions in {} s{}{}{}", executions, bench::format_figure(seconds),
                       search.empty() ? "" : " (" + search + ")", violation ? "; stopped at a violation" : "",
                       r.exit_code ? fmt::format("; explore exited {}", r.exit_code) : "");
  return x;
}

}  // namespace gupfast::cli
