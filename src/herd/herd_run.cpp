// A herd7 C litmus test under the explorer (herd_run.h), and the door the CLI calls
// (herd.h): read the file, parse it, explore every execution on the chosen memory model,
// record each final state at finish, report in herd7's format.
#include "herd/herd_run.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "explore/search.h"
#include "explore/world.h"
#include "herd/herd_exec.h"
#include "herd/herd_parse.h"

GUPFAST_NS_BEGIN
namespace explore::herd {
namespace {

using ::gupfast::herd::run_options;
using ::gupfast::herd::run_outcome;

void locations_of(const prop& p, std::set<location>& out) {
  if (p.k == prop::kind::atom) out.insert(p.loc);
  for (const prop& k : p.kids) locations_of(k, out);
}

// What a final state records: every local register, every int variable, and whatever else
// the condition, the filter or `locations` names (a parameter register).
std::vector<location> state_keys(const test& t) {
  std::vector<location> keys;
  for (size_t p = 0; p < t.procs.size(); p++)
    for (size_t r = 0; r < t.procs[p].regs.size(); r++)
      if (t.procs[p].regs[r].param_var < 0) keys.push_back({static_cast<int>(p), static_cast<int>(r), -1});
  for (size_t v = 0; v < t.vars.size(); v++)
    if (!t.vars[v].lock) keys.push_back({-1, -1, static_cast<int>(v)});
  std::set<location> named(t.locations.begin(), t.locations.end());
  locations_of(t.cond, named);
  if (t.filter) locations_of(*t.filter, named);
  for (const location& l : named)
    if (std::find(keys.begin(), keys.end(), l) == keys.end()) keys.push_back(l);
  return keys;
}

// The explorer's options for a run: every execution within the bounds, each counted once
// (no iterative deepening, which runs the smaller bounds' executions again).
options search_options(const run_options& o, memory::model m) {
  options opts;
  opts.mode = mode::dfs;
  opts.bound = o.bound;
  opts.stale_bound = o.stale_bound;
  opts.memory = m;
  opts.iterative = false;
  opts.max_executions = o.max_executions;
  opts.time_limit_s = o.time_limit_s;
  return opts;
}

struct run_state {
  const test* t;
  machine m;
  observed seen;
  explicit run_state(const test& tt) : t(&tt), m(tt) { seen.keys = state_keys(tt); }

  // The explorer's finish: the final state and the condition's truth.
  void finish() {
    world::world_alloc_off off;  // the map is ours, not the execution's world
    if (t->filter && !m.holds(*t->filter)) {
      seen.filtered++;
      return;
    }
    std::vector<int64_t> state;
    state.reserve(seen.keys.size());
    for (const location& l : seen.keys) state.push_back(m.value_of(l));
    seen.states[state]++;
    (m.holds(t->cond) ? seen.positive : seen.negative)++;
  }
};

std::string read_file(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file's verdict for model m: Result-<m> wins over Result.
void expected_of(const test& t, const std::string& m, run_outcome* out) {
  for (const std::string& key : {"Result-" + m, std::string("Result")}) {
    auto it = t.results.find(key);
    if (it != t.results.end()) {
      out->expected = it->second;
      out->expected_from = key;
      return;
    }
  }
}

run_outcome run_test(const test& t, const run_options& o, memory::model m) {
  run_outcome out;
  out.name = t.name;
  expected_of(t, o.memory, &out);
  run_state st(t);
  program p;
  p.nthreads = static_cast<int>(t.procs.size());
  p.setup = [&] { st.m.reset(); };
  p.thread = [&](int tid) { st.m.run(tid); };
  p.finish = [&] { st.finish(); };
  p.teardown = [] {};
  result r = explore(p, search_options(o, m));
  if (r.found) {
    if (r.found->kind == machine::runtime_error_kind) {
      out.error = r.found->message;
      return out;
    }
    out.violation = r.found->kind + ": " + r.found->message;
  }
  st.seen.executions = r.executions;
  st.seen.exhaustive = r.exhaustive && !r.found;
  st.seen.seconds = r.seconds;
  out.exhaustive = st.seen.exhaustive;
  out.observation = observation_of(st.seen);
  report_context ctx;
  ctx.memory = o.memory;
  ctx.bound = o.bound;
  ctx.stale_bound = o.stale_bound;
  ctx.all_registers = o.all_registers;
  ctx.value_name = [&](int64_t v) {
    std::optional<int> var = st.m.var_at(v);
    return var ? t.vars[static_cast<size_t>(*var)].name : std::to_string(v);
  };
  out.report = format_report(t, st.seen, ctx);
  return out;
}

}  // namespace
}  // namespace explore::herd
GUPFAST_NS_END

namespace gupfast::herd {

run_outcome run_file(const std::string& path, const run_options& o) {
  namespace h = gupfast::explore::herd;
  run_outcome out;
  std::optional<gupfast::memory::model> m = gupfast::memory::parse_model(o.memory);
  if (!m) {
    out.error = "unknown memory model " + o.memory + " (sc, tso or weak)";
    return out;
  }
  bool ok = false;
  std::string text = h::read_file(path, &ok);
  if (!ok) {
    out.error = path + ": cannot read the file";
    return out;
  }
  try {
    h::test t = h::parse_test(text, path);
    return h::run_test(t, o, *m);
  } catch (const h::parse_error& e) {
    out.error = e.line > 0 ? path + ":" + std::to_string(e.line) + ": " + e.what() : path + ": " + e.what();
  }
  return out;
}

}  // namespace gupfast::herd
