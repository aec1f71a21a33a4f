// `gupfast explore`, shared between its files: the options as parsed, how the machine of a
// run is resolved from the defaults, the litmus file's `machine` line and the command line,
// and the two ways to run (explore.cpp: one exploration; explore_checks.cpp: every
// `expect` line, each configuration in a child process).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "explore/run.h"

namespace gupfast::cli {

struct explore_options {
  std::string target;  // FILE or NAME, as given
  machine_options machine;
  std::string unsafe;
  std::string mode = "dfs";
  int bound = 2;
  std::string memory = "sc";  // --memory
  int stale_bound = 2;        // --stale-bound
  uint64_t runs = 10000;
  uint64_t seed = 1;
  int pct_depth = 3;
  double time_limit = 0;
  uint64_t max_steps = 0;
  uint64_t max_executions = 0;
  unsigned jobs = 1;
  std::string coordinator;
  std::vector<std::string> merge;  // --merge: shard reports to combine
  double connect_timeout = 300;
  std::string json_path, trace_path, html_path, replay, shard;
  bool check = false;
  bool from_scratch = false;  // --from-scratch: no setup snapshot
  // Filled by the parse callback.
  uint32_t unsafe_mask = 0;
  int shard_index = 0, shard_count = 1;
  CLI::App* app = nullptr;
  bool given(const char* name) const { return app->get_option(name)->count() > 0; }
};

// One machine setting: unset, or a value and whether the command line gave it.
struct setting {
  std::optional<std::string> value;
  bool from_cli = false;
};
struct base_settings {
  setting strategy, tlb, pte, seq_scope, memory;
  bool pt_reclaim = false;
  int nodes = 1;
  std::string geometry = "small";  // the explorer's default
};

// The file's machine line overridden by the command line's explicit options.
base_settings base_of(const litmus::file& f, const explore_options& o);
// A complete configuration, or nullopt if the combination is not a machine (strategy ipi
// with broadcast flushes); the flush mode defaults to the strategy's.
std::optional<litmus::run_config> resolve(const std::string& strategy, const std::optional<std::string>& tlb,
                                          const std::string& pte, const std::optional<std::string>& scope,
                                          const base_settings& b, uint32_t unsafe);
// Every configuration expectation e names, narrowed by the settings given on the command
// line (from_cli), with the file's and the defaults for the rest.
std::vector<litmus::run_config> configs_of(const litmus::expectation& e, const base_settings& b);
// The search: the command line's options, else the file's `search` line, else defaults.
litmus::search_config search_of(const explore_options& o, const litmus::file& f);
// "gupfast explore TARGET --strategy ... --replay TOKEN": reproduces the violation.
std::string replay_command(const explore_options& o, const litmus::run_config& c, const std::string& token);
// Writes text to path; false (and a line on stderr) if it cannot.
bool write_file(const std::string& path, const std::string& text);
// A setup operation failed: the file's fault, "FILE:LINE: ..." on stderr. Returns 2.
int litmus_error(const litmus::file& f, const litmus::violation_report& v);

// --check-expectations (explore_checks.cpp). Returns the exit code.
int run_checks(const litmus::file& f, const explore_options& o);
// --merge (explore_merge.cpp). Returns the exit code.
int run_merge(const explore_options& o);

}  // namespace gupfast::cli
