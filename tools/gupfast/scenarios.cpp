// `gupfast scenarios`: the built-in litmus scenarios, one line each; with --mutants, which
// scenarios expect each mutant to be caught (every mutant must be caught by one).
#include "scenarios.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "cli.h"

namespace gupfast::cli {

std::optional<litmus::file> load_scenario(const std::string& arg, std::string* err, bool* parse_failed) {
  *parse_failed = false;
  std::string text, path;
  std::error_code ec;
  if (std::filesystem::is_regular_file(arg, ec)) {
    std::ifstream in(arg, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in && !in.eof()) {
      *err = fmt::format("'{}' cannot be read", arg);
      return std::nullopt;
    }
    text = ss.str();
    path = arg;
  } else {
    for (const builtin_scenario& b : builtin_scenarios())
      if (arg == b.name) {
        text = b.text;
        path = b.path;
      }
    if (path.empty()) {
      *err = fmt::format("'{}' is neither a file nor a built-in scenario (gupfast scenarios lists them)", arg);
      return std::nullopt;
    }
  }
  litmus::parse_error pe;
  auto f = litmus::parse(text, path, &pe);
  if (!f) {
    *parse_failed = true;
    *err = pe.what();
  }
  return f;
}

namespace {

struct scenarios_options {
  bool mutants = false;
};

int list_scenarios() {
  size_t width = 0;
  for (const builtin_scenario& b : builtin_scenarios()) width = std::max(width, std::string(b.name).size());
  for (const builtin_scenario& b : builtin_scenarios()) {
    std::string err;
    bool parse_failed;
    auto f = load_scenario(b.name, &err, &parse_failed);
    if (!f) {  // a bad file in tests/litmus: the build embeds it anyway; say so
      fmt::print("{:<{}}  (does not parse: {})\n", b.name, width, err);
      continue;
    }
    fmt::print("{:<{}}  {}\n", b.name, width, f->about.empty() ? "(no description)" : f->about);
  }
  return 0;
}

// For each mutant: the scenarios with an `expect KIND with ...` line naming it.
int list_mutants() {
  std::map<int, std::set<std::string>> by_mutant;
  for (const builtin_scenario& b : builtin_scenarios()) {
    std::string err;
    bool parse_failed;
    auto f = load_scenario(b.name, &err, &parse_failed);
    if (!f) continue;
    for (const litmus::expectation& e : f->expects)
      if (!e.expects_ok())
        for (unsigned s = 0; s < NR_UNSAFE_STEPS; s++)
          if (e.unsafe >> s & 1) by_mutant[s].insert(b.name);
  }
  int missing = 0;
  for (unsigned s = 0; s < NR_UNSAFE_STEPS; s++) {
    const auto& set = by_mutant[s];
    std::string names;
    for (const std::string& n : set) names += (names.empty() ? "" : ", ") + n;
    if (set.empty()) missing++;
    fmt::print("{:<22} {}\n", unsafe_steps[s].name, names.empty() ? "NOT CAUGHT by any scenario" : names);
  }
  return missing ? EXIT_RUN_FAILED : 0;
}

}  // namespace

command add_scenarios_command(CLI::App& root) {
  auto opts = std::make_shared<scenarios_options>();
  CLI::App* sub = root.add_subcommand(
      "scenarios", "List the built-in litmus scenarios (the files of tests/litmus), one line each; "
                   "run one with `gupfast explore NAME`");
  sub->add_flag("--mutants", opts->mutants,
                "Instead, list each mutant (--unsafe name) with the scenarios that expect to catch it; "
                "exit 1 if one has none");
  return {sub, [opts] { return opts->mutants ? list_mutants() : list_scenarios(); }};
}

}  // namespace gupfast::cli
