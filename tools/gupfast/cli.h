// The gupfast command line: what every subcommand shares.
//
// Each subcommand lives in its own file and exposes one function, add_<name>_command(),
// that registers its parser on the root app and returns a runner. main.cpp lists them,
// parses once, and calls the runner of the subcommand that was chosen. A later subcommand
// (stress, explore, bench, scenarios) is one new file plus one line in main.cpp.
//
// Exit codes, for every subcommand:
//   0  success (and --help, --version)
//   1  the run itself failed (a check failed, a leak, the machine could not be created)
//   2  command-line misuse: one line on stderr, "gupfast: <what>; see gupfast --help"
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "machine/config.h"

namespace gupfast::cli {

inline constexpr int EXIT_RUN_FAILED = 1;
inline constexpr int EXIT_USAGE = 2;
// No violation, but some executions were cut at the step budget (--max-steps): no verdict.
inline constexpr int EXIT_INCONCLUSIVE = 3;

// A registered subcommand: its parser, and what to run once parsing succeeded.
struct command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// The machine a subcommand runs on, as given on its command line. Strings are checked
// by the parse_* helpers of machine/config.h while parsing; to_machine_config() then
// checks the combination.
struct machine_options {
  std::string strategy = "rcu";
  std::string tlb;       // empty: the machine's default for the strategy
  std::string pte = "native";
  std::string seq_scope;  // empty: the machine's default; only with --strategy seqcount
  unsigned long frames = machine_config{}.frames;
  int nodes = machine_config{}.nodes;
  bool pt_reclaim = false;  // --pt-reclaim: MADV_DONTNEED frees the PTE tables it empties
  std::string geometry;     // empty: the command's default (x86-64; the explorer's: small)
};

// --strategy, --tlb, --pte, --seq-scope, --frames, --pt-reclaim on `cmd`.
void add_machine_options(CLI::App* cmd, machine_options* opts);
// Throws CLI::ValidationError for a combination the machine refuses (strategy ipi with
// broadcast flushes) or that means nothing (--seq-scope without --strategy seqcount), so
// it is reported as misuse. Call it from the subcommand's parse
// callback.
machine_config to_machine_config(const machine_options& opts);

// "-EFAULT" for -14, and so on, for the errnos the machine returns.
std::string errno_name(long err);
// "12,345" for 12345.
std::string grouped(uint64_t v);
// "8 GiB" / "512 MiB" for a frame count.
std::string frames_size(unsigned long frames);

// ---- subcommands -------------------------------------------------------------------------
command add_demo_command(CLI::App& root);
command add_explore_command(CLI::App& root);
command add_scenarios_command(CLI::App& root);
command add_bench_command(CLI::App& root);
command add_stress_command(CLI::App& root);
command add_litmus_command(CLI::App& root);  // litmus.cpp: herd7 C litmus tests

}  // namespace gupfast::cli
