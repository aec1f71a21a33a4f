// The report of a herd7 C litmus test's run, in herd7's format (herd_run.h):
//
//   Test SB Allowed
//   States 4
//   0:r0=0; 1:r0=0;
//   ...
//   Ok
//   Witnesses
//   Positive: 1 Negative: 3
//   Condition exists (0:r0=0 /\ 1:r0=0)
//   Observation SB Sometimes 1 3
//   Time SB 0.01
//   Memory weak, 4 executions, exhaustive
//
// The last line is ours (herd7 prints a Hash= line there, of its own state encoding). The
// states show herd7's locations, those of the condition and the `locations` line, unless
// all_registers asks for the whole recorded state.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "herd/herd_run.h"

GUPFAST_NS_BEGIN
namespace explore::herd {
namespace {

void locations_of(const prop& p, std::set<location>& out) {
  if (p.k == prop::kind::atom) out.insert(p.loc);
  for (const prop& k : p.kids) locations_of(k, out);
}

std::string value_text(const value& v, const test& t) {
  return v.var >= 0 ? t.vars[static_cast<size_t>(v.var)].name : std::to_string(v.number);
}

// herd7's notation: /\ binds tighter than \/; ~ tightest.
std::string prop_text(const prop& p, const test& t, int outer) {
  switch (p.k) {
    case prop::kind::truth:
      return p.truth ? "true" : "false";
    case prop::kind::atom:
      return location_name(t, p.loc) + "=" + value_text(p.val, t);
    case prop::kind::negation:
      return std::string(1, '~').append(prop_text(p.kids[0], t, 3));  // (not "~" + s: a GCC 12 -Wrestrict false alarm)
    case prop::kind::conj:
    case prop::kind::disj: {
      int prec = p.k == prop::kind::conj ? 2 : 1;
      std::string s = prop_text(p.kids[0], t, prec) + (prec == 2 ? " /\\ " : " \\/ ") + prop_text(p.kids[1], t, prec + 1);
      return outer > prec ? "(" + s + ")" : s;
    }
  }
  return "";
}

std::string condition_text(const test& t) {
  const char* q = t.quant == quantifier::exists ? "exists" : t.quant == quantifier::not_exists ? "~exists" : "forall";
  return fmt::format("{} ({})", q, prop_text(t.cond, t, 0));
}

// herd7's order: the registers by process, then the variables.
bool shown_before(const test& t, const location& a, const location& b) {
  if ((a.proc >= 0) != (b.proc >= 0)) return a.proc >= 0;
  if (a.proc >= 0) {
    if (a.proc != b.proc) return a.proc < b.proc;
    return t.procs[static_cast<size_t>(a.proc)].regs[static_cast<size_t>(a.reg)].name <
           t.procs[static_cast<size_t>(b.proc)].regs[static_cast<size_t>(b.reg)].name;
  }
  return t.vars[static_cast<size_t>(a.var)].name < t.vars[static_cast<size_t>(b.var)].name;
}

std::vector<location> shown_locations(const test& t, const observed& o, bool all) {
  std::set<location> want;
  if (all) want.insert(o.keys.begin(), o.keys.end());
  locations_of(t.cond, want);
  want.insert(t.locations.begin(), t.locations.end());
  std::vector<location> v(want.begin(), want.end());
  std::sort(v.begin(), v.end(), [&](const location& a, const location& b) { return shown_before(t, a, b); });
  return v;
}

// A state's line, and a key that sorts numbers by value, then names.
struct shown_state {
  std::vector<std::pair<int, std::string>> key;  // (0, number padded) or (1, name)
  std::string line;
  bool operator<(const shown_state& o) const { return key < o.key; }
};

shown_state show(const test& t, const std::vector<location>& locs, const std::vector<size_t>& index,
                 const std::vector<int64_t>& state, const report_context& ctx) {
  shown_state s;
  for (size_t i = 0; i < locs.size(); i++) {
    int64_t v = state[index[i]];
    std::string name = ctx.value_name(v);
    bool is_number = name == std::to_string(v);
    // Numbers sort by value: offset so that negative ones come first, zero-padded.
    s.key.emplace_back(is_number ? 0 : 1,
                       is_number ? fmt::format("{:020}", static_cast<uint64_t>(v) ^ (uint64_t{1} << 63)) : name);
    s.line += fmt::format("{}={}; ", location_name(t, locs[i]), name);
  }
  if (!s.line.empty()) s.line.pop_back();
  return s;
}

std::string run_line(const observed& o, const report_context& ctx) {
  std::string s = fmt::format("Memory {}, {} execution{}", ctx.memory, o.executions, o.executions == 1 ? "" : "s");
  if (o.filtered) s += fmt::format(" ({} dropped by the filter)", o.filtered);
  if (!o.exhaustive) return s + ", not exhaustive: inconclusive";
  s += ", exhaustive";
  if (ctx.bound >= 0) s += fmt::format(" within --bound {}", ctx.bound);
  if (ctx.stale_bound >= 0 && ctx.memory == "weak") s += fmt::format(" {} --stale-bound {}", ctx.bound >= 0 ? "and" : "within", ctx.stale_bound);
  return s;
}

}  // namespace

std::string location_name(const test& t, const location& l) {
  if (l.proc >= 0) return fmt::format("{}:{}", l.proc, t.procs[static_cast<size_t>(l.proc)].regs[static_cast<size_t>(l.reg)].name);
  return t.vars[static_cast<size_t>(l.var)].name;
}

std::string observation_of(const observed& o) {
  if (o.positive == 0) return "Never";
  if (o.negative == 0) return "Always";
  return "Sometimes";
}

std::string format_report(const test& t, const observed& o, const report_context& ctx) {
  std::vector<location> locs = shown_locations(t, o, ctx.all_registers);
  std::vector<size_t> index;
  for (const location& l : locs) index.push_back(static_cast<size_t>(std::find(o.keys.begin(), o.keys.end(), l) - o.keys.begin()));
  std::set<shown_state> states;
  for (const auto& [state, n] : o.states) states.insert(show(t, locs, index, state, ctx));

  bool ok = t.quant == quantifier::exists ? o.positive > 0 : t.quant == quantifier::not_exists ? o.positive == 0 : o.negative == 0;
  // herd7's kind of test: exists Allowed, ~exists Forbidden, forall Required.
  const char* kind = t.quant == quantifier::exists ? "Allowed" : t.quant == quantifier::not_exists ? "Forbidden" : "Required";
  std::string s = fmt::format("Test {} {}\n", t.name, kind);
  s += fmt::format("States {}\n", states.size());
  for (const shown_state& st : states) s += st.line + "\n";
  s += ok ? "Ok\n" : "No\n";
  s += "Witnesses\n";
  s += fmt::format("Positive: {} Negative: {}\n", o.positive, o.negative);
  s += fmt::format("Condition {}\n", condition_text(t));
  s += fmt::format("Observation {} {} {} {}\n", t.name, observation_of(o), o.positive, o.negative);
  s += fmt::format("Time {} {:.2f}\n", t.name, o.seconds);
  s += run_line(o, ctx) + "\n";
  return s;
}

}  // namespace explore::herd
GUPFAST_NS_END
