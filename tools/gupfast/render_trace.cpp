// Machine-readable views of an exploration: the counterexample as Chrome Trace Event JSON
// (--trace; opens in Perfetto and chrome://tracing), and the run's summary (--json).
//
// The trace's clock is logical: one microsecond per scheduling point of the explorer. Each
// litmus thread is a thread lane; a numbered step is a slice named by its litmus line, with
// one nested slice per kernel function; the violation is a global instant event.
#include <fmt/format.h>

#include "machine/config.h"
#include "render.h"

namespace gupfast::cli {

namespace {

using json = nlohmann::json;

constexpr int PID = 1;

// Lane 0: setup and finish; 1..n: the litmus threads; n + 1: RCU callbacks.
int lane(const litmus::file& f, int tid) { return tid == -2 ? static_cast<int>(f.threads.size()) + 1 : tid < 0 ? 0 : tid + 1; }

}  // namespace

json render_trace(const explore_report& r) {
  json events = json::array();
  const litmus::file& f = *r.file;
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", PID},
                    {"args", {{"name", fmt::format("litmus {} ({})", f.name, r.cfg.describe())}}}});
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", PID}, {"tid", 0}, {"args", {{"name", "setup / finish"}}}});
  for (size_t t = 0; t < f.threads.size(); t++) {
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", PID}, {"tid", lane(f, int(t))},
                      {"args", {{"name", "thread " + f.threads[t].name}}}});
    events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", PID}, {"tid", lane(f, int(t))},
                      {"args", {{"sort_index", int(t) + 1}}}});
  }
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", PID}, {"tid", lane(f, -2)}, {"args", {{"name", "RCU callbacks"}}}});
  if (!r.result.found) return json{{"traceEvents", events}, {"displayTimeUnit", "ns"}};

  const litmus::violation_report& v = *r.result.found;
  uint64_t end = 0;
  for (const step_row& row : condense(f, v.trace)) {
    json args = {{"step", row.number}, {"line", row.line}, {"preempted", row.preempted}};
    events.push_back({{"name", fmt::format("{}: {}", row.number, row.op_text)}, {"cat", "litmus"}, {"ph", "X"},
                      {"pid", PID}, {"tid", lane(f, row.tid)}, {"ts", row.first}, {"dur", row.count}, {"args", args}});
    uint64_t ts = row.first;
    for (const step_detail& d : row.details) {
      events.push_back({{"name", d.function}, {"cat", "kernel"}, {"ph", "X"}, {"pid", PID}, {"tid", lane(f, row.tid)},
                        {"ts", ts}, {"dur", d.entries},
                        {"args", {{"access", describe_access(d)}, {"addr", fmt::format("{:#x}", d.addr)}}}});
      ts += d.entries;
    }
    end = row.first + row.count;
  }
  events.push_back({{"name", "violation: " + v.kind}, {"cat", "oracle"}, {"ph", "i"}, {"s", "g"}, {"pid", PID},
                    {"tid", 0}, {"ts", end}, {"args", {{"message", v.message}, {"replay", v.replay}}}});
  return json{{"traceEvents", events},
              {"displayTimeUnit", "ns"},
              {"otherData", {{"litmus", f.name}, {"violation", v.kind}, {"replay", r.replay_command}}}};
}

json render_json(const explore_report& r) {
  const auto& res = r.result;
  json j = {
      {"litmus", r.file->name},
      {"file", r.file->path},
      {"strategy", r.cfg.strategy},
      {"tlb", r.cfg.tlb},
      {"pte", r.cfg.pte},
      {"seq_scope", r.cfg.seq_scope},
      {"pt_reclaim", r.cfg.pt_reclaim},
      {"nodes", r.cfg.nodes},
      {"geometry", r.cfg.geometry},
      {"memory", r.cfg.memory},
      {"unsafe", r.cfg.unsafe ? unsafe_mask_names(r.cfg.unsafe) : ""},
      {"mode", r.search.replay ? "replay" : r.search.mode},
      {"bound", r.search.bound},
      {"stale_bound", r.search.stale_bound},
      {"seed", r.search.seed},
      {"shard", fmt::format("{}/{}", r.search.shard_index, r.search.shard_count)},
      {"executions", res.executions},
      {"cut_executions", res.cut},
      {"max_steps", res.max_steps},
      {"inconclusive", !res.found && res.cut > 0},
      {"exhaustive", res.exhaustive},
      {"bound_reached", res.bound_reached},
      {"stale_reached", res.stale_reached},
      {"seconds", res.seconds},
      {"violation", nullptr},
  };
  if (r.search.mode != "dfs") j["runs"] = r.search.runs;
  if (r.search.jobs > 1 || r.search.shard_count > 1) {
    // A parallel search: what this process's workers did, and each shard's share that this
    // process knows (shard 0: all of them; the others: their own). --merge adds them up.
    j["jobs"] = r.search.jobs;
    j["workers"] = res.workers;
    j["own_executions"] = res.own_executions;
    j["units"] = res.units;
    json shares = json::array();
    for (const litmus::run_share& s : res.shares)
      shares.push_back({{"shard", s.shard}, {"workers", s.workers}, {"units", s.units}, {"executions", s.executions}});
    j["shares"] = shares;
    j["shard_index"] = r.search.shard_index;
    j["shard_count"] = r.search.shard_count;
  }
  if (res.found) {
    const auto& v = *res.found;
    json steps = json::array();
    for (const step_row& row : condense(*r.file, v.trace)) {
      json fns = json::array();
      for (const step_detail& d : row.details) fns.push_back({{"function", d.function}, {"access", describe_access(d)}});
      steps.push_back({{"step", row.number},
                       {"thread", row.tid >= 0 && size_t(row.tid) < r.file->threads.size() ? r.file->threads[row.tid].name : ""},
                       {"line", row.line},
                       {"op", row.op_text},
                       {"preempted", row.preempted},
                       {"kernel", fns}});
    }
    j["violation"] = {{"kind", v.kind}, {"message", v.message}, {"replay", v.replay},
                      {"replay_command", r.replay_command}, {"preemptions", v.preemptions},
                      {"stale_reads", v.stale_reads},  {"steps", steps}};
  }
  return j;
}

}  // namespace gupfast::cli
