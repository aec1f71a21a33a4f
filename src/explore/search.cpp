// The explorer's searches (explore/search.h): depth-first with a preemption bound, random,
// PCT, and replay, each a driver of the scheduler (explore/scheduler.h).
#include "explore/search.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <stdexcept>

#include "explore/dfs.h"
#include "explore/parallel.h"
#include "explore/replay.h"
#include "explore/scheduler.h"

GUPFAST_NS_BEGIN
namespace explore {
namespace detail {
bool g_keep_going = false;
int g_reduction_parts = 3;
}
namespace {

using namespace detail;

using clock_type = std::chrono::steady_clock;

template <class Rng>
unsigned pick_value(Rng& rng, uint32_t candidates) {
  if (rng() & 1) return 0;
  auto n = static_cast<uint64_t>(__builtin_popcount(candidates));
  auto k = rng() % n;
  uint32_t m = candidates;
  while (k--) m &= m - 1;
  return static_cast<unsigned>(__builtin_ctz(m));
}
double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

int lowest(task_mask m) { return __builtin_ctz(m); }

// ---- random: a uniform choice at every decision ------------------------------------------------
class random_driver final : public driver {
 public:
  explicit random_driver(uint64_t seed) : rng_(seed) {}
  int choose(const decision& d) override {
    int n = __builtin_popcount(d.enabled);
    int k = static_cast<int>(rng_() % static_cast<uint64_t>(n));
    task_mask m = d.enabled;
    while (k--) m &= m - 1;
    return lowest(m);
  }
  // Half the loads read the newest store, the others any candidate.
  unsigned choose_value(const value_decision& d) override { return pick_value(rng_, d.candidates); }

 private:
  std::mt19937_64 rng_;
};

// ---- PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010) ----------------------------
// Every fiber gets a distinct random priority in d .. d + n - 1; d - 1 random steps of [0, k)
// are change points: at the i-th one, the fiber running it drops to priority i. The enabled
// fiber with the highest priority runs. k is the longest execution seen so far.
class pct_driver final : public driver {
 public:
  pct_driver(uint64_t seed, int depth, uint64_t k) : rng_(seed) {
    int order[NR_TASKS];
    for (int i = 0; i < NR_TASKS; i++) order[i] = i;
    std::shuffle(order, order + NR_TASKS, rng_);
    for (int i = 0; i < NR_TASKS; i++) prio_[order[i]] = depth + i;
    for (int i = 1; i < depth; i++) change_.push_back({rng_() % (k ? k : 1), i});
  }
  int choose(const decision& d) override {
    int best = -1;
    for (task_mask m = d.enabled; m; m &= m - 1) {
      int f = lowest(m);
      if (best < 0 || prio_[f] > prio_[best]) best = f;
    }
    return best;
  }
  void executed(const transition& t) override {
    for (auto& c : change_)
      if (c.first == t.step) prio_[t.task] = c.second;
  }
  unsigned choose_value(const value_decision& d) override { return pick_value(rng_, d.candidates); }

 private:
  std::mt19937_64 rng_;
  int prio_[NR_TASKS] = {};
  std::vector<std::pair<uint64_t, int>> change_;
};

// ---- replay: the token's choices, then "go on with the same fiber" -----------------------------
class replay_driver final : public driver {
 public:
  explicit replay_driver(std::vector<uint8_t> choices) : choices_(std::move(choices)) {}
  int choose(const decision& d) override {
    if (static_cast<size_t>(d.depth) < choices_.size()) {
      int c = choices_[d.depth];
      if (c >= NR_TASKS || !(d.enabled >> c & 1))
        throw std::runtime_error("explore: the replay token does not fit this program (decision " +
                                 std::to_string(d.depth) + " chooses a task that cannot run)");
      return c;
    }
    diverged_ = true;
    return d.last_enabled ? d.last : lowest(d.enabled);
  }
  unsigned choose_value(const value_decision& d) override {
    if (static_cast<size_t>(d.depth) < choices_.size()) {
      unsigned k = choices_[d.depth];
      if (k >= 32 || !(d.candidates >> k & 1))
        throw std::runtime_error("explore: the replay token does not fit this program (decision " +
                                 std::to_string(d.depth) + " reads a store the load cannot read)");
      return k;
    }
    diverged_ = true;
    return 0;
  }
  bool diverged() const { return diverged_; }

 private:
  std::vector<uint8_t> choices_;
  bool diverged_ = false;
};

// A violation as a report shows it: its token, and its trace. Searches run without tracing;
// the trace comes from running the execution again with it on (the same execution: a program
// depends only on its schedule and its seed).
violation reported(const program& prog, const options& o, uint64_t seed, outcome&& out) {
  violation v = std::move(*out.v);
  v.replay = encode_token({seed, out.choices, static_cast<uint8_t>(o.memory)});
  if (v.trace.empty()) {
    replay_driver drv(out.choices);
    outcome again = run_execution(prog, drv, seed, o.max_steps, true, o.memory);
    if (again.v && again.v->kind == v.kind) v.trace = std::move(again.v->trace);
  }
  return v;
}

void check(const program& prog, const options& o) {
  if (prog.nthreads < 1 || prog.nthreads > MAX_THREADS)
    throw std::invalid_argument("explore: nthreads must be 1.." + std::to_string(MAX_THREADS));
  if (!prog.thread) throw std::invalid_argument("explore: program.thread is not set");
  if (o.max_steps == 0) throw std::invalid_argument("explore: max_steps must be > 0");
  if (o.jobs < 1 || o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
    throw std::invalid_argument("explore: jobs >= 1 and 0 <= shard_index < shard_count");
  if (o.shard_count > 1 && o.coordinator.find(':') == std::string::npos)
    throw std::invalid_argument("explore: a sharded search needs coordinator HOST:PORT");
  if (o.pct_depth < 1) throw std::invalid_argument("explore: pct_depth must be >= 1");
  if (o.stale_bound < -1) throw std::invalid_argument("explore: stale_bound must be >= 0 (or -1: none)");
  if (in_explorer()) throw std::logic_error("explore: explore() called from inside an exploration");
}

// Iterative deepening: stale reads 0, 1, ... stale_bound (weak memory only), and within each,
// preemptions 0, 1, ... bound; stops at the first violation, which so has the fewest stale
// reads, then the fewest preemptions.
result run_dfs(const program& prog, const options& o, clock_type::time_point t0) {
  result r;
  bool weak = o.memory == memory::model::weak;
  int stale_to = weak ? o.stale_bound : 0;
  int stale_from = (o.iterative && stale_to >= 0) ? 0 : stale_to;
  int from = (o.iterative && o.bound >= 0) ? 0 : o.bound;
  auto last_progress = clock_type::now();
  for (int sb = stale_from; sb <= stale_to || (stale_to < 0 && sb == stale_from); sb++) {
    bool stale_cut = false;
    r.stale_reached = sb;
    for (int b = from; b <= o.bound || (o.bound < 0 && b == from); b++) {
      dfs_config cfg;
      cfg.bound = b;
      cfg.stale_bound = sb;
      cfg.reduction = o.reduction;
      cfg.split_depth = o.split_depth;
      dfs_driver drv(cfg);
      r.bound_reached = b;
      bool done = false;
      for (;;) {
        drv.begin_execution(prog.snapshot);
        outcome out = run_execution(prog, drv, o.seed, o.max_steps, false, o.memory);
        r.executions++;
        if (out.kind == outcome::cut) r.cut++;
        if (out.v) {
          if (!r.found) r.found = reported(prog, o, o.seed, std::move(out));
          if (!g_keep_going) {
            r.seconds = since(t0);
            return r;
          }
        }
        if (!drv.advance()) {
          done = true;
          break;
        }
        if (o.on_progress && (r.executions & 63) == 0 && since(last_progress) > 0.1) {
          last_progress = clock_type::now();
          progress p{r.executions, r.cut, b, sb, since(t0), 1};
          o.on_progress(p);
        }
        if (o.time_limit_s > 0 && since(t0) > o.time_limit_s) break;
        if (o.max_executions && r.executions >= o.max_executions) break;
      }
      if (!done) {
        r.seconds = since(t0);
        return r;  // out of time or of executions: not exhaustive
      }
      stale_cut = drv.stale_cut();
      // Done; or no alternative was over the bound, so a larger one would explore the same.
      if (b == o.bound || o.bound < 0 || !drv.bound_cut()) {
        r.bound_reached = o.bound;
        break;
      }
    }
    if (sb == stale_to || stale_to < 0 || !stale_cut) {
      // A cut execution left its continuations unexplored: then the search is not exhaustive.
      r.exhaustive = r.cut == 0;
      r.stale_reached = stale_to;
      break;
    }
  }
  r.seconds = since(t0);
  return r;
}

template <class MakeDriver>
result run_sampling(const program& prog, const options& o, clock_type::time_point t0, MakeDriver make) {
  result r;
  uint64_t longest = 0;
  for (uint64_t i = 0; i < o.runs; i++) {
    auto drv = make(i, longest);
    outcome out = run_execution(prog, drv, o.seed, o.max_steps, false, o.memory);
    r.executions++;
    if (out.kind == outcome::cut) r.cut++;
    longest = std::max(longest, out.steps);
    if (out.v) {
      r.found = reported(prog, o, o.seed, std::move(out));
      break;
    }
    if (o.time_limit_s > 0 && since(t0) > o.time_limit_s) break;
  }
  r.seconds = since(t0);
  return r;
}

uint64_t mix(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

result explore_search(const program& prog, const options& o);

}  // namespace

namespace detail {
violation traced_violation(const program& prog, const options& o, const std::string& token, std::string kind,
                           std::string message, int preemptions) {
  std::string err;
  auto data = decode_token(token, &err);
  violation v;
  v.kind = std::move(kind);
  v.message = std::move(message);
  v.preemptions = preemptions;
  v.replay = token;
  if (!data) return v;
  replay_driver drv(data->choices);
  outcome again = run_execution(prog, drv, data->seed, o.max_steps, true, static_cast<memory::model>(data->memory));
  if (again.v && again.v->kind == v.kind) {
    v.trace = std::move(again.v->trace);
    v.stale_reads = again.v->stale_reads;
  }
  return v;
}
}  // namespace detail

result explore(const program& prog, const options& o) {
  check(prog, o);
  struct end_guard {
    const program& p;
    ~end_guard() { end_search(p); }  // a snapshot's teardown, once
  } guard{prog};
  return explore_search(prog, o);
}

namespace {

result explore_search(const program& prog, const options& o) {
  auto t0 = clock_type::now();
  if (o.replay) {
    std::string err;
    auto data = decode_token(*o.replay, &err);
    if (!data) throw std::invalid_argument("explore: " + err);
    replay_driver drv(data->choices);
    // The token names its memory model: the execution is that model's.
    options ro = o;
    ro.memory = static_cast<memory::model>(data->memory);
    outcome out = run_execution(prog, drv, data->seed, o.max_steps, true, ro.memory);
    result r;
    r.executions = 1;
    r.cut = out.kind == outcome::cut;
    r.bound_reached = out.preemptions;
    r.stale_reached = out.stale;
    if (out.v) r.found = reported(prog, ro, data->seed, std::move(out));
    r.seconds = since(t0);
    return r;
  }
  switch (o.mode) {
    case mode::dfs:
      if (o.jobs > 1 || o.shard_count > 1) return explore_parallel(prog, o, t0);
      return run_dfs(prog, o, t0);
    case mode::random:
      return run_sampling(prog, o, t0, [&](uint64_t i, uint64_t) { return random_driver(mix(o.seed, i)); });
    case mode::pct:
      return run_sampling(prog, o, t0, [&](uint64_t i, uint64_t longest) {
        return pct_driver(mix(o.seed, i), o.pct_depth, longest ? longest : 1000);
      });
  }
  return {};
}

}  // namespace
}  // namespace explore
GUPFAST_NS_END
