// Running a litmus file under the explorer, as the CLI sees it: plain structs, no backend.
//
// The explorer and the litmus interpreter are compiled against the model backend
// (namespace gupfast::model); the CLI against the native one. This header is the one door
// between them: it names configurations by strings and masks, and returns the explorer's
// result as copies, so nothing of either backend crosses it.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "explore/litmus.h"

namespace gupfast::litmus {

// The machine one exploration runs on (resolved: every field set).
struct run_config {
  std::string strategy = "rcu";
  std::string tlb = "broadcast";
  std::string pte = "native";
  std::string seq_scope = "table";  // meaningful with strategy seqcount only
  bool pt_reclaim = false;
  int nodes = 1;                    // NUMA nodes (machine_config::nodes)
  std::string geometry = "small";   // page-table geometry (pgtable/geometry.h)
  std::string memory = "sc";        // memory model of the threads (memory/memory_model.h)
  uint32_t unsafe = 0;              // machine/config.h unsafe_step bits
  // "strategy=rcu tlb=broadcast pte=native geometry=small" (+ " seq-scope=mm", " nodes=2",
  // " pt-reclaim=on", " memory=weak" when not the defaults) for reports.
  std::string describe() const;
};

// How to search (explore::options, see explore/search.h).
struct search_config {
  std::string mode = "dfs";  // dfs | random | pct
  int bound = 2;             // preemption bound (dfs)
  int stale_bound = 2;       // weak memory: loads per execution that read an older store (dfs)
  bool iterative = true;     // dfs: bound 0, then 1, ... up to bound (fewest preemptions first)
  uint64_t runs = 10000;     // random / pct: executions
  uint64_t seed = 1;
  int pct_depth = 3;
  int jobs = 1;               // dfs: worker processes on this machine (explore/parallel.h)
  int shard_index = 0, shard_count = 1;
  std::string coordinator;    // shards: HOST:PORT of shard 0
  double connect_timeout_s = 300;
  // Called now and then while a search runs (explore::progress's fields).
  std::function<void(uint64_t executions, uint64_t cut, int bound, int stale, double seconds, int workers)> on_progress;
  uint64_t max_steps = 0;     // per execution; 0: the explorer's default
  double time_limit_s = 0;    // 0: none
  uint64_t max_executions = 0;  // dfs; 0: none
  std::optional<std::string> replay;
  bool snapshot = true;  // setup once, then each execution from its snapshot (explore/world.h)
};

// One scheduling step of the counterexample.
struct trace_step {
  int tid = -1;           // litmus thread index; -1: setup or finish; -2: RCU callbacks
  int line = 0;           // the litmus line being run (0 if none)
  std::string what;       // kernel function or yield point
  std::string op;         // load, store, cmpxchg, yield, ...
  uint64_t addr = 0;
  uint64_t value = 0;
  std::string note;       // the interpreter's annotation ("A:12 pin_fast 0x200000 1 write")
  int preemption = 0;     // > 0: this step preempted another thread (the count so far)
  int stale = 0;          // > 0: this load read the stale-th store before the newest (weak memory)
};

struct violation_report {
  std::string kind;       // stale-pin, ... (or "litmus-error": an operation of setup failed)
  std::string message;
  std::string replay;     // token for search_config::replay
  int preemptions = 0;
  int stale_reads = 0;    // weak memory: loads that read an older store
  std::vector<trace_step> trace;
};

// A shard's part of a parallel search.
struct run_share {
  int shard = 0, workers = 0;
  uint64_t units = 0, executions = 0;
};

struct run_result {
  uint64_t executions = 0;    // the whole search's
  uint64_t own_executions = 0, units = 0;  // parallel: this process's workers'
  int workers = 1;
  std::vector<run_share> shares;
  uint64_t cut = 0;          // executions cut at the step budget: inconclusive
  uint64_t max_steps = 0;    // that budget
  bool exhaustive = false;  // dfs: every execution within the bound was run
  int bound_reached = 0;
  int stale_reached = 0;     // weak memory: the stale-read bound searched
  double seconds = 0;
  std::optional<violation_report> found;
};

// Explore every interleaving of f's threads within the search's bounds on the machine of
// cfg. Context: no machine exists in the calling process (the explorer creates its own,
// one per execution, on the model backend).
run_result run_litmus(const file& f, const run_config& cfg, const search_config& search);

// Setup and thread indices of the interpreter's annotations: "A:12 ..." -> tid of A, 12.
bool parse_note(const file& f, const std::string& note, int* tid, int* line);

}  // namespace gupfast::litmus
