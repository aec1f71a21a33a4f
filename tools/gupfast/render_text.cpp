// The counterexample as text: numbered steps, one column per litmus thread, each step the
// litmus line, the kernel functions it ran and the values it read; then the violation and
// the replay command. Also condense(), which every view shares (render.h).
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "machine/config.h"
#include "render.h"

namespace gupfast::cli {

namespace {

constexpr size_t COLUMN_MAX = 50;   // a thread's column, at most
constexpr size_t DETAILS_MAX = 4;   // kernel functions shown per step in text
// The machine's own event counters (machine/counters.h): instrumentation, not kernel logic.
const std::set<std::string> NOISE = {"count_event"};

std::string clip(std::string s, size_t w) {
  if (s.size() <= w) return s;
  s.resize(w - 2);
  return s + "..";
}

}  // namespace

std::vector<std::string> thread_names(const litmus::file& f) {
  std::vector<std::string> n;
  for (const litmus::thread& t : f.threads) n.push_back(t.name);
  return n;
}

std::string describe_access(const step_detail& d) {
  if (d.op.empty() || d.op == "yield") return d.op;
  if (d.op == "load" && d.stale) return fmt::format("load {:#x} (stale {})", d.value, d.stale);
  if (d.op == "load" || d.op == "store" || d.op == "cmpxchg" || d.op == "xchg" || d.op == "rmw")
    return fmt::format("{} {:#x}", d.op, d.value);
  return d.value ? fmt::format("{} {:#x}", d.op, d.value) : d.op;
}

std::vector<step_row> condense(const litmus::file& f, const std::vector<litmus::trace_step>& trace) {
  std::vector<step_row> rows;
  for (size_t i = 0; i < trace.size(); i++) {
    const litmus::trace_step& s = trace[i];
    int tid = s.tid, line = s.line;
    if (line == 0 && !s.note.empty()) litmus::parse_note(f, s.note, &tid, &line);
    bool same = !rows.empty() && rows.back().tid == tid && rows.back().line == line && s.preemption == 0;
    if (!same) {
      step_row r;
      r.number = static_cast<int>(rows.size()) + 1;
      r.tid = tid;
      r.line = line;
      const litmus::op* o = line ? f.op_at(line) : nullptr;
      r.op_text = o ? o->text : s.note;
      if (r.op_text.empty()) r.op_text = tid == -2 ? "(RCU callbacks)" : tid < 0 ? "(setup / finish)" : "(thread start)";
      r.first = i;
      r.preempted = s.preemption > 0;
      rows.push_back(std::move(r));
    }
    step_row& r = rows.back();
    r.count++;
    if (s.op == "start" || NOISE.count(s.what)) continue;  // counted, not shown
    std::string fn = s.what.empty() ? "?" : s.what;
    if (r.details.empty() || r.details.back().function != fn) r.details.push_back(step_detail{fn, {}, 0, 0, 0});
    step_detail& d = r.details.back();
    d.entries++;
    // Keep the last load (the value read) if there is one; else the last access.
    // A stale load is kept over a later fresh one: it is what the counterexample turns on.
    if ((s.op == "load" && !(d.op == "load" && d.stale && !s.stale)) || d.op != "load") {
      d.op = s.op;
      d.addr = s.addr;
      d.value = s.value;
      d.stale = s.stale;
    }
  }
  // A fiber's first step ("start") belongs to the step that follows it on that thread.
  std::vector<step_row> out;
  for (size_t i = 0; i < rows.size(); i++) {
    if (rows[i].details.empty() && rows[i].line == 0 && i + 1 < rows.size() && rows[i + 1].tid == rows[i].tid) {
      rows[i + 1].preempted |= rows[i].preempted;
      rows[i + 1].count += rows[i].count;
      rows[i + 1].first = rows[i].first;
      continue;
    }
    out.push_back(std::move(rows[i]));
    out.back().number = static_cast<int>(out.size());
  }
  return out;
}

std::string render_summary(const explore_report& r) {
  const auto& res = r.result;
  std::string how = r.search.replay       ? std::string("replay")
                    : r.search.mode == "dfs" ? fmt::format("dfs, preemption bound {}", r.search.bound) +
                                                   (r.cfg.memory == "weak"
                                                        ? fmt::format(", stale-read bound {}", r.search.stale_bound)
                                                        : "")
                    : r.search.mode == "pct" ? fmt::format("pct, depth {}, seed {}", r.search.pct_depth, r.search.seed)
                                             : fmt::format("random, seed {}", r.search.seed);
  if (r.search.shard_count > 1) how += fmt::format(", shard {}/{}", r.search.shard_index, r.search.shard_count);
  if (r.search.jobs > 1) how += fmt::format(", {} workers", r.search.jobs);
  std::string out = fmt::format("litmus {}: {} unsafe={}\n", r.file->name, r.cfg.describe(),
                                r.cfg.unsafe ? unsafe_mask_names(r.cfg.unsafe) : "none");
  std::string execs = fmt::format("{} execution{}", res.executions, res.executions == 1 ? "" : "s");
  if (res.found) {
    std::string stale = r.cfg.memory == "weak" ? fmt::format(", {} stale read{}", res.found->stale_reads,
                                                             res.found->stale_reads == 1 ? "" : "s")
                                               : "";
    out += fmt::format("{}: violation after {} ({:.2f} s), {} preemption{}{}\n", how, execs, res.seconds,
                       res.found->preemptions, res.found->preemptions == 1 ? "" : "s", stale);
  } else {
    std::string scope = r.search.replay ? "" : res.exhaustive ? ", exhaustive" : ", not exhaustive";
    out += fmt::format("{}: no violation in {}{} ({:.2f} s)\n", how, execs, scope, res.seconds);
  }
  if (r.search.shard_count > 1)
    out += fmt::format("this shard: {} executions in {} subtrees ({} worker{})\n", res.own_executions, res.units,
                       r.search.jobs, r.search.jobs == 1 ? "" : "s");
  if (res.cut)
    out += fmt::format("{} execution{} cut at {} steps: inconclusive (a larger --max-steps runs them out)\n", res.cut,
                       res.cut == 1 ? "" : "s", res.max_steps);
  return out;
}

std::string render_text(const explore_report& r) {
  std::string out = render_summary(r);
  if (!r.result.found) return out;
  const litmus::violation_report& v = *r.result.found;
  std::vector<step_row> rows = condense(*r.file, v.trace);
  std::vector<std::string> names = thread_names(*r.file);
  size_t nt = names.size();

  // Each row's lines in its thread's column.
  std::vector<std::vector<std::string>> cells(rows.size());
  std::vector<size_t> width(nt, 0);
  for (size_t t = 0; t < nt; t++) width[t] = names[t].size() + 7;
  for (size_t i = 0; i < rows.size(); i++) {
    const step_row& row = rows[i];
    auto& c = cells[i];
    c.push_back(row.line ? fmt::format("{}: {}", row.line, row.op_text) : row.op_text);
    size_t shown = std::min(row.details.size(), DETAILS_MAX);
    for (size_t k = 0; k < shown; k++) {
      const step_detail& d = row.details[row.details.size() - shown + k];
      std::string acc = describe_access(d);
      c.push_back(fmt::format("  {}{}{}", d.function, acc.empty() ? "" : " ", acc));
    }
    if (row.details.size() > shown) c.insert(c.begin() + 1, fmt::format("  (+{} earlier)", row.details.size() - shown));
    for (std::string& s : c) s = clip(s, COLUMN_MAX);
    if (row.tid >= 0 && static_cast<size_t>(row.tid) < nt)
      for (const std::string& s : c) width[row.tid] = std::max(width[row.tid], s.size());
  }

  out += "\n";
  std::string head = fmt::format("{:>5} ", "step");
  std::string rule = "------";
  for (size_t t = 0; t < nt; t++) {
    head += fmt::format("| {:<{}} ", "thread " + names[t], width[t]);
    rule += "+" + std::string(width[t] + 2, '-');
  }
  while (!head.empty() && head.back() == ' ') head.pop_back();
  out += head + "\n" + rule + "\n";
  for (size_t i = 0; i < rows.size(); i++) {
    const step_row& row = rows[i];
    for (size_t k = 0; k < cells[i].size(); k++) {
      std::string num = k ? "" : fmt::format("{}{}", row.number, row.preempted ? "*" : "");
      std::string line = fmt::format("{:>5} ", num);
      if (row.tid < 0 || static_cast<size_t>(row.tid) >= nt) {
        line += "| " + cells[i][k];
      } else {
        for (size_t t = 0; t < nt; t++)
          line += fmt::format("| {:<{}} ", static_cast<size_t>(row.tid) == t ? cells[i][k] : "", width[t]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
  }
  out += "(* marks a preemption: the thread ran while another could have continued)\n\n";
  out += fmt::format("violation: {}: {}\n", v.kind, v.message);
  if (!r.replay_command.empty()) out += fmt::format("replay: {}\n", r.replay_command);
  return out;
}

}  // namespace gupfast::cli
