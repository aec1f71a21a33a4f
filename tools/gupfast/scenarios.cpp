// `gupfast scenarios`: the built-in litmus scenarios, one line each (bug-zoo entries marked
// with their commit); with --zoo, the zoo entries alone with commit, year, release and the
// mutant that reverts the fix; with --mutants, which scenarios expect each mutant to be
// caught (every mutant must be caught by one).
#include "scenarios.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>
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
  bool zoo = false;
};

std::string commits_of(const litmus::zoo_entry& z) {
  std::string c;
  for (const std::string& id : z.commits) c += (c.empty() ? "" : ",") + id;
  return c;
}

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
    std::string mark = f->zoo ? fmt::format("[zoo {} {}] ", commits_of(*f->zoo), f->zoo->year) : "";
    fmt::print("{:<{}}  {}{}\n", b.name, width, mark, f->about.empty() ? "(no description)" : f->about);
  }
  return 0;
}

// The zoo entries: name, commit(s), year, release, the mutants that revert the fix (and the
// era's, the later fixes the kernel of that time lacked), title.
int list_zoo() {
  std::vector<std::pair<std::string, litmus::file>> entries;
  for (const builtin_scenario& b : builtin_scenarios()) {
    std::string err;
    bool parse_failed;
    auto f = load_scenario(b.name, &err, &parse_failed);
    if (f && f->zoo) entries.emplace_back(b.name, std::move(*f));
  }
  size_t wn = 4, wc = 6, wr = 7, wm = 6;
  for (const auto& [name, f] : entries) {
    wn = std::max(wn, name.size());
    wc = std::max(wc, commits_of(*f.zoo).size());
    wr = std::max(wr, f.zoo->release.size());
    wm = std::max(wm, f.zoo->revert_names.size());
  }
  fmt::print("{:<{}}  {:<{}}  year  {:<{}}  {:<{}}  title (era: later fixes also removed)\n", "name", wn,
             "commit", wc, "release", wr, "revert", wm);
  for (const auto& [name, f] : entries) {
    const litmus::zoo_entry& z = *f.zoo;
    std::string era = z.era ? fmt::format(" (era: {})", z.era_names) : "";
    fmt::print("{:<{}}  {:<{}}  {}  {:<{}}  {:<{}}  {}{}\n", name, wn, commits_of(z), wc, z.year, z.release, wr,
               z.revert_names, wm, f.about, era);
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
  sub->add_flag("--zoo", opts->zoo,
                "Instead, list the bug-zoo entries (tests/litmus/zoo, docs/bug-zoo.md): commit, year, release, "
                "the mutants that revert the fix, title");
  sub->get_option("--zoo")->excludes("--mutants");
  return {sub, [opts] {
            if (opts->zoo) return list_zoo();
            return opts->mutants ? list_mutants() : list_scenarios();
          }};
}

}  // namespace gupfast::cli
