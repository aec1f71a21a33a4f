// Depth-first search with a preemption bound, sleep sets and DPOR (explore/dfs.h).
//
// DPOR (Flanagan and Godefroid, POPL 2005): at every state reached, for every task q, find
// the latest transition i of another task that is dependent with q's next transition and
// does not happen before it (vector clocks over the dependence relation); the two race, so
// q must also be tried at the state before i (or, if q could not run there or sleeps there,
// every task that could: with sleep sets, the reversal may have to start with another task,
// e.g. the one whose write q's earlier transitions must read). With a preemption bound that alone misses schedules whose reversal costs an extra
// preemption; BPOR (Coons, Musuvathi and McKinley, OOPSLA 2013) adds a conservative point: q
// is also tried where the block of transitions containing i began (a context switch already
// happens there, so switching to q instead costs no more).
//
// Sleep sets (Godefroid 1996): a task whose transition was explored at a state stays asleep
// in the sibling branches while nothing dependent with that transition runs. They are used
// only by unbounded searches: with a preemption bound, the equivalent schedule that runs the
// sleeping transition first can need more preemptions than the bound allows, and the ways to
// restrict them that we tried still lost schedules on the randomized comparison with the
// unreduced search (tests/model/test_explore_reduction.cpp), so a bounded search relies on
// DPOR + BPOR alone.
//
// Sharding: decisions above split_depth branch fully (no reduction), so every shard walks
// the same top of the tree; the subtrees at split_depth are dealt out round-robin.
#include "explore/dfs.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

GUPFAST_NS_BEGIN
namespace explore::detail {

namespace {
inline task_mask bit(int t) { return task_mask{1} << t; }
int lowest(task_mask m) { return __builtin_ctz(m); }
}  // namespace

void dfs_driver::begin_execution() {
  sleep_ = 0;
  preemptions_ = 0;
  max_depth_ = 0;
  probe_ = false;
  events_.clear();
  hist_.clear();
  for (auto& c : fclock_)
    for (auto& v : c) v = 0;
  for (auto& w : last_write_) w = -1;
  for (auto& n : next_fp_valid_) n = false;
}

bool dfs_driver::end_execution(const outcome& out) {
  (void)out;
  if (probe_) return false;
  if (sharded() && max_depth_ <= cfg_.split_depth) {  // no decision below the split: the top's
    uint64_t id = subtrees_++;
    return id % static_cast<uint64_t>(cfg_.shard_count) == static_cast<uint64_t>(cfg_.shard_index);
  }
  return true;
}

int dfs_driver::choose(const decision& d) {
  size_t k = static_cast<size_t>(d.depth);
  if (k + 1 > static_cast<size_t>(max_depth_)) max_depth_ = static_cast<int>(k + 1);
  if (k < replay_) {
    node& n = stack_[k];
    if (n.enabled != d.enabled || n.last != d.last)
      throw std::runtime_error("explore: the program does not behave the same when run again (decision " +
                               std::to_string(k) + "): its threads must depend only on the schedule");
    n.step = d.step;
    return n.chosen;
  }
  if (sharded() && static_cast<int>(k) == cfg_.split_depth) {
    uint64_t id = subtrees_++;
    if (id % static_cast<uint64_t>(cfg_.shard_count) != static_cast<uint64_t>(cfg_.shard_index)) {
      probe_ = true;  // another shard's subtree
      return -1;
    }
  }
  node n;
  n.enabled = d.enabled;
  n.last = d.last;
  n.last_enabled = d.last_enabled;
  n.preemptions = preemptions_;
  n.sleep = sleep_ & d.enabled;
  n.step = d.step;
  task_mask cand = d.enabled & ~n.sleep;
  // The default: the task that ran last, else the lowest task within the bound (free ones first:
  // when the last task cannot go on, every choice is free).
  int pick = -1;
  if (n.last >= 0 && (cand >> n.last & 1)) {
    pick = n.last;
  } else {
    for (int pass = 0; pass < 2 && pick < 0; pass++)
      for (task_mask m = cand; m; m &= m - 1) {
        int a = lowest(m);
        if (cost(n, a) == pass && within(n, a)) {
          pick = a;
          break;
        }
      }
  }
  if (pick < 0) {  // every runnable task is asleep here, or over the bound: redundant
    for (task_mask m = cand; m; m &= m - 1)
      if (!within(n, lowest(m))) cut_ = true;
    final_state();
    return -1;
  }
  n.chosen = pick;
  n.done = bit(pick);
  n.backtrack = bit(pick);
  if (!cfg_.reduction || !(g_reduction_parts & 2) || static_cast<int>(k) < cfg_.split_depth) {
    for (task_mask m = cand; m; m &= m - 1) n.backtrack |= bit(lowest(m));  // advance() applies the bound
  }
  stack_.push_back(n);
  return pick;
}

void dfs_driver::executed(const transition& t) {
  if (t.preempted) preemptions_++;
  if (!cfg_.reduction) return;
  // ---- sleep sets (unbounded searches only) ----
  if (!bounded() && (g_reduction_parts & 1)) {
    task_mask s = sleep_;
    if (t.depth >= 0) s |= stack_[static_cast<size_t>(t.depth)].done & ~bit(t.task);
    task_mask ns = 0;
    for (task_mask m = s & ~bit(t.task); m; m &= m - 1) {
      int g = lowest(m);
      if (!dependent(pending_footprint(g), t.fp)) ns |= bit(g);
    }
    sleep_ = ns;
  }
  // ---- DPOR ----
  detect_races();  // at the state before t
  record(t);
}

static bool dbg() { static bool d = getenv("DFSDBG") != nullptr; return d; }
bool dfs_driver::advance() {
  if (dbg()) {
    fprintf(stderr, "EXEC:");
    for (auto& e : events_) fprintf(stderr, "%d", e.task);
    fprintf(stderr, "\n  stack:");
    for (auto& n : stack_) fprintf(stderr, " [s%lu en%x ch%d done%x bt%x sl%x last%d]", (unsigned long)n.step, n.enabled, n.chosen, n.done, n.backtrack, n.sleep, n.last);
    fprintf(stderr, "\n");
  }
  while (!stack_.empty()) {
    node& n = stack_.back();
    task_mask left = n.backtrack & n.enabled & ~n.done & ~n.sleep;
    for (task_mask m = left; m; m &= m - 1)
      if (!within(n, lowest(m))) cut_ = true;
    for (int pass = 0; pass < 2; pass++)
      for (task_mask m = left; m; m &= m - 1) {
        int a = lowest(m);
        if (cost(n, a) != pass || !within(n, a)) continue;
        n.done |= bit(a);
        n.chosen = a;
        replay_ = stack_.size();
        return true;
      }
    stack_.pop_back();
  }
  replay_ = 0;
  return false;
}

// ---- DPOR --------------------------------------------------------------------------------------
// Events are this execution's transitions, by step index. Each node remembers the step it chose,
// so the state before step i is a decision node iff some node has step == i.

int dfs_driver::node_at_step(uint64_t step) const {
  size_t lo = 0, hi = stack_.size();  // nodes are in step order
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (stack_[mid].step < step)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < stack_.size() && stack_[lo].step == step ? static_cast<int>(lo) : -1;
}

void dfs_driver::add_backtrack(uint64_t i, int q) {
  if (dbg()) fprintf(stderr, "  race: event %lu (task %d) vs next of %d at step %zu\n", (unsigned long)i, events_[i].task, q, events_.size());
  auto add_at = [&](uint64_t step) {
    int ni = node_at_step(step);
    if (ni < 0) return;  // one task could run there: nothing to reverse at that state
    node& n = stack_[static_cast<size_t>(ni)];
    // FG: q itself if it can run there. If it cannot, or it sleeps there (its transition at that
    // state is covered elsewhere, but the reversal may need another task to go first: the
    // events between that let q's racing transition happen), every task that can.
    if ((n.enabled >> q & 1) && !(n.sleep >> q & 1))
      n.backtrack |= bit(q);
    else
      n.backtrack |= n.enabled;
  };
  add_at(i);
  if (bounded()) add_at(events_[i].block_start);  // BPOR's conservative branch
}

bool dfs_driver::happens_before(uint64_t i, int q) const {
  const event& e = events_[i];
  return fclock_[q][e.task] >= e.clock[e.task];
}

// The latest event dependent with footprint fp (the next transition of task q) that does not
// happen before q, or -1.
long dfs_driver::latest_race(const footprint& fp, int q) const {
  long best = -1;
  auto consider = [&](int32_t i) {
    if (i > best && events_[static_cast<size_t>(i)].task != q && !happens_before(static_cast<uint64_t>(i), q))
      best = i;
  };
  for (int a = 0; a < fp.n; a++) {
    auto it = hist_.find(fp.a[a].word);
    if (it == hist_.end()) continue;
    for (int half = 0; half < 2; half++) {
      if (!(fp.a[a].halves >> half & 1)) continue;
      const auto& h = it->second.last[half];
      for (int r = 0; r < NR_TASKS; r++) {
        if (r == q) continue;
        uint8_t mode = fp.a[a].mode;
        if (mode != ACC_READ) consider(h[r][0]);  // their reads
        consider(h[r][1]);                         // their writes
        if (mode != ACC_ADD) consider(h[r][2]);   // their additions
      }
    }
  }
  if (fp.any_write)
    for (int r = 0; r < NR_TASKS; r++)
      if (r != q) consider(last_write_[r]);
  return best;
}

// Race detection at the current state (after the last event): the task that ran last has a
// new next transition, check it against the whole history; every other task's next transition
// is the one checked at the previous state unless its footprint changed, so only the last
// event can be a new race for it.
void dfs_driver::detect_races() {
  if (events_.empty()) return;
  const event& last = events_.back();
  uint64_t li = events_.size() - 1;
  for (int q = 0; q < NR_TASKS; q++) {
    if (!task_alive(q)) continue;
    footprint fp = pending_footprint(q);
    bool full = q == last.task || !next_fp_valid_[q] || !same(fp, next_fp_[q]);
    next_fp_[q] = fp;
    next_fp_valid_[q] = true;
    if (full) {
      long i = latest_race(fp, q);
      if (i >= 0) add_backtrack(static_cast<uint64_t>(i), q);
    } else if (last.task != q && dependent(last.fp, fp) && !happens_before(li, q)) {
      add_backtrack(li, q);
    }
  }
}

bool dfs_driver::same(const footprint& a, const footprint& b) {
  if (a.n != b.n || a.any_write != b.any_write) return false;
  for (int i = 0; i < a.n; i++)
    if (a.a[i].word != b.a[i].word || a.a[i].mode != b.a[i].mode || a.a[i].halves != b.a[i].halves) return false;
  return true;
}

void dfs_driver::record(const transition& t) {
  int p = t.task;
  auto i = static_cast<int32_t>(events_.size());
  // Happens-before: join the clocks of the earlier events this one depends on.
  uint32_t* c = fclock_[p];
  auto join = [&](int32_t j) {
    if (j < 0) return;
    const event& e = events_[static_cast<size_t>(j)];
    for (int r = 0; r < NR_TASKS; r++)
      if (e.clock[r] > c[r]) c[r] = e.clock[r];
  };
  for (int a = 0; a < t.fp.n; a++) {
    auto it = hist_.find(t.fp.a[a].word);
    if (it == hist_.end()) continue;
    uint8_t mode = t.fp.a[a].mode;
    for (int half = 0; half < 2; half++) {
      if (!(t.fp.a[a].halves >> half & 1)) continue;
      const auto& h = it->second.last[half];
      for (int r = 0; r < NR_TASKS; r++) {
        if (r == p) continue;
        if (mode != ACC_READ) join(h[r][0]);
        join(h[r][1]);
        if (mode != ACC_ADD) join(h[r][2]);
      }
    }
  }
  if (t.fp.any_write)
    for (int r = 0; r < NR_TASKS; r++)
      if (r != p) join(last_write_[r]);
  c[p]++;
  event e;
  e.task = p;
  e.fp = t.fp;
  for (int r = 0; r < NR_TASKS; r++) e.clock[r] = c[r];
  e.block_start = (!events_.empty() && events_.back().task == p) ? events_.back().block_start : static_cast<uint64_t>(i);
  events_.push_back(e);
  for (int a = 0; a < t.fp.n; a++) {
    word_hist& h = hist_.try_emplace(t.fp.a[a].word).first->second;
    uint8_t mode = t.fp.a[a].mode;
    for (int half = 0; half < 2; half++)
      if (t.fp.a[a].halves >> half & 1) h.last[half][p][mode == ACC_READ ? 0 : mode == ACC_WRITE ? 1 : 2] = i;
    if (mode != ACC_READ) last_write_[p] = i;
  }
}

}  // namespace explore::detail
GUPFAST_NS_END
