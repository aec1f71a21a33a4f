// `gupfast litmus FILE.litmus`: a herd7 C litmus test (the Linux kernel's
// tools/memory-model/litmus-tests format) run under the explorer on one of its memory models
// (src/herd/herd.h), printed as herd7 prints it.
//
// Exit codes: 0 ran (with --check-result: our Observation is the file's Result); 1 it is
// not (--check-result), or the explorer stopped on a deadlock; 2 misuse, a missing file, a
// syntax error or an unsupported construct ("FILE:LINE: ..."); 3 the search did not cover
// every execution (--max-executions, --time-limit): inconclusive.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli.h"
#include "herd/herd.h"

namespace gupfast::cli {

namespace {

struct litmus_options {
  std::string file;
  herd::run_options run;
  bool check_result = false;
};

int run_litmus(const litmus_options& o) {
  herd::run_outcome r = herd::run_file(o.file, o.run);
  if (!r.error.empty()) {
    fmt::print(stderr, "{}\n", r.error);
    return EXIT_USAGE;
  }
  fmt::print("{}", r.report);
  std::fflush(stdout);
  if (!r.violation.empty()) {
    fmt::print(stderr, "gupfast litmus: {}: the explorer stopped on {}\n", o.file, r.violation);
    return EXIT_RUN_FAILED;
  }
  if (!r.exhaustive) return EXIT_INCONCLUSIVE;
  if (!o.check_result) return 0;
  if (r.expected.empty()) {
    fmt::print(stderr, "{}: no Result: line to check against\n", o.file);
    return EXIT_USAGE;
  }
  bool same = r.expected == r.observation;
  fmt::print("Check {} {}: {} {}, observed {}\n", r.name, same ? "ok" : "FAILED", r.expected_from, r.expected,
             r.observation);
  return same ? 0 : EXIT_RUN_FAILED;
}

}  // namespace

command add_litmus_command(CLI::App& root) {
  auto o = std::make_shared<litmus_options>();
  CLI::App* sub = root.add_subcommand(
      "litmus", "Run a herd7 C litmus test (the Linux kernel's tools/memory-model format) under the explorer: "
                "every execution on a memory model, printed as herd7 prints it");
  sub->add_option("file", o->file, "The .litmus file")->required();
  sub->add_option("--memory", o->run.memory,
                  "Memory model: sc, tso (x86-TSO) or weak (a kernel-faithful weak model; docs/memory-model.md)")
      ->check(CLI::IsMember({"sc", "tso", "weak"}))
      ->capture_default_str();
  sub->add_option("--bound", o->run.bound, "The most preemptions in one execution (-1: none)")
      ->check(CLI::Range(-1, 100))
      ->capture_default_str();
  sub->add_option("--stale-bound", o->run.stale_bound,
                  "--memory weak: the most loads in one execution that read a store older than the newest (-1: none)")
      ->check(CLI::Range(-1, 100))
      ->capture_default_str();
  sub->add_option("--max-executions", o->run.max_executions,
                  "Stop after this many executions (then inconclusive: exit 3)")
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 62));
  sub->add_option("--time-limit", o->run.time_limit_s, "Stop after this many seconds (then inconclusive: exit 3)")
      ->check(CLI::PositiveNumber);
  sub->add_flag("--check-result", o->check_result,
                "Compare our Observation with the file's Result line (Result-<model> wins where the file has "
                "one): exit 0 if the same, 1 if not");
  sub->add_flag("--all-registers", o->run.all_registers,
                "Show every register and variable in the states, not only the condition's and `locations`'");
  sub->footer(
      "The counts (Positive, Negative, executions) are our executions': interleavings reduced by DPOR, "
      "times the weak model's choices of which store a load reads; herd7 counts candidate executions, so "
      "only the Observation (Never / Sometimes / Always) compares. Not modelled: load buffering and a "
      "modification order other than the execution order (weak), control dependencies, data races of "
      "plain accesses (they are READ_ONCE / WRITE_ONCE here); rcu_dereference is an acquire load.");
  return {sub, [o] { return run_litmus(*o); }};
}

}  // namespace gupfast::cli
