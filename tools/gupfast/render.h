// What `gupfast explore` prints and writes: the counterexample as numbered steps (text), as
// Chrome Trace Event JSON (--trace: Perfetto, chrome://tracing), as one self-contained HTML
// page with a lane per thread (--html), and the run's summary as JSON (--json).
//
// All three views share condense(): the explorer's trace has one entry per scheduling point
// (an atomic access, a fence, a yield point); a numbered step is a maximal run of entries of
// one thread on one litmus line, with the kernel functions it went through and the values
// it read.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "explore/run.h"

namespace gupfast::cli {

// Everything a view needs about one exploration.
struct explore_report {
  const litmus::file* file = nullptr;
  litmus::run_config cfg;
  litmus::search_config search;
  litmus::run_result result;
  std::string replay_command;  // "gupfast explore NAME --unsafe ... --replay TOKEN" (if found)
};

// One kernel function within a step: the trace entries in it, and the last value loaded.
struct step_detail {
  std::string function;
  std::string op;          // last access: load, store, cmpxchg, yield, ...
  uint64_t addr = 0;
  uint64_t value = 0;
  int entries = 0;
  int stale = 0;  // the load read the stale-th store before the newest (weak memory)
};

struct step_row {
  int number = 0;             // 1-based
  int tid = -1;               // -1: setup / finish (the explorer's own fiber)
  int line = 0;               // litmus line (0 if none)
  std::string op_text;        // "pin_fast 0x200000 1 write" (or the note)
  std::vector<step_detail> details;
  size_t first = 0, count = 0;  // entries of the trace
  bool preempted = false;       // this step started by preempting another thread
};

std::vector<step_row> condense(const litmus::file& f, const std::vector<litmus::trace_step>& trace);
// Column titles: "A", "B", ... (the litmus thread names).
std::vector<std::string> thread_names(const litmus::file& f);
// "load 0x8000000000012067" / "yield" for a detail.
std::string describe_access(const step_detail& d);

// Text: the counterexample table, the violation, the replay line.
std::string render_text(const explore_report& r);
// The summary line(s) of a run, with or without a violation.
std::string render_summary(const explore_report& r);
// Chrome Trace Event JSON.
nlohmann::json render_trace(const explore_report& r);
// A self-contained HTML page.
std::string render_html(const explore_report& r);
// --json for one run (keys: litmus, strategy, tlb, pte, unsafe, mode, bound, executions,
// exhaustive, seconds, violation, ...).
nlohmann::json render_json(const explore_report& r);

}  // namespace gupfast::cli
