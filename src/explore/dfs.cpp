// Depth-first search with a preemption bound, sleep sets and DPOR (explore/dfs.h).
//
// DPOR (Flanagan and Godefroid, POPL 2005): at every state reached, for every task q, find
// the latest transition i of another task that is dependent with q's next transition and
// does not happen before it (vector clocks over the dependence relation); the two race, so
// q must also be tried at the state before i (or, if q could not run there or sleeps there,
// every task that could: with sleep sets, the reversal may have to start with another task,
// e.g. the one whose write q's earlier transitions must read). With a preemption bound that
// alone misses schedules whose reversal costs an extra preemption; BPOR (Coons, Musuvathi and
// McKinley, OOPSLA 2013) adds a conservative point: q is also tried where the block of
// transitions containing i began (a context switch already happens there, so switching to q
// instead costs no more).
//
// Sleep sets (Godefroid 1996): a task whose transition was explored at a state stays asleep
// in the sibling branches while nothing dependent with that transition runs. They are used
// only by unbounded searches: with a preemption bound, the equivalent schedule that runs the
// sleeping transition first can need more preemptions than the bound allows, and the ways to
// restrict them that we tried still lost schedules on the randomized comparison with the
// unreduced search (tests/model/test_explore_reduction.cpp), so a bounded search relies on
// DPOR + BPOR alone.
//
// Without sleep sets the tree this search explores is a function of the program alone, not
// of the order in which it is explored: a node's alternatives are its default choice and the
// tasks that races found anywhere below it add, each explored once. That is what lets a
// search be split among workers and still explore exactly the same executions.
//
// Incremental state. Consecutive executions share a prefix (up to the step of the deepest
// decision advance() changed): the scheduler replays it without calling us, and we keep the
// events of that prefix, undoing only what later events wrote (undo_).
//
// Parallel searches (parallel.cpp) explore units: the subtree below a path of decisions. A
// unit's path is made of shared nodes, whose alternatives the search as a whole hands out once
// each: races found below that add one there are reported, not explored (take_additions), and
// a driver asked for work gives the alternatives of its shallowest node with any (donate).
#include "explore/dfs.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

GUPFAST_NS_BEGIN
namespace explore::detail {

namespace {
inline task_mask bit(int t) { return task_mask{1} << t; }
int lowest(task_mask m) { return __builtin_ctz(m); }
constexpr int32_t NONE = -1;
const uint32_t ZERO_CLOCK[NR_TASKS] = {};
inline size_t hash_word(uintptr_t w) { return static_cast<size_t>((w >> 3) * 0x9e3779b97f4a7c15ull >> 20); }
}  // namespace

// ---- word histories ----------------------------------------------------------------------------
long dfs_driver::lookup_word(uintptr_t word) const {
  if (table_keys_.empty()) return -1;
  size_t mask = table_keys_.size() - 1;
  for (size_t i = hash_word(word) & mask;; i = (i + 1) & mask) {
    if (table_keys_[i] == word) return table_vals_[i];
    if (table_keys_[i] == 0) return -1;
  }
}

uint32_t dfs_driver::word_index(uintptr_t word) {
  long w = lookup_word(word);
  if (w >= 0) return static_cast<uint32_t>(w);
  if ((words_.size() + 1) * 2 > table_keys_.size()) {  // keep the table at most half full
    size_t n = table_keys_.empty() ? 1024 : table_keys_.size() * 2;
    std::vector<uintptr_t> keys(n, 0);
    std::vector<uint32_t> vals(n, 0);
    for (size_t i = 0; i < table_keys_.size(); i++) {
      if (!table_keys_[i]) continue;
      size_t j = hash_word(table_keys_[i]) & (n - 1);
      while (keys[j]) j = (j + 1) & (n - 1);
      keys[j] = table_keys_[i];
      vals[j] = table_vals_[i];
    }
    table_keys_.swap(keys);
    table_vals_.swap(vals);
  }
  size_t mask = table_keys_.size() - 1, i = hash_word(word) & mask;
  while (table_keys_[i]) i = (i + 1) & mask;
  table_keys_[i] = word;
  table_vals_[i] = static_cast<uint32_t>(words_.size());
  word_hist h;
  std::memset(&h, 0xff, sizeof h);  // every entry NONE
  words_.push_back(h);
  return table_vals_[i];
}

const uint32_t* dfs_driver::clock_of(int task) const {
  int32_t e = task_last_[task];
  return e < 0 ? ZERO_CLOCK : events_[static_cast<size_t>(e)].clock;
}

// Drop events [n, end): undo what they wrote to the word histories.
void dfs_driver::truncate_events(uint64_t n) {
  while (!ranges_.empty() && ranges_.back().event >= n) ranges_.pop_back();
  while (!undo_.empty() && undo_.back().event >= n) {
    const undo& u = undo_.back();
    (&words_[u.word].last[0][0][0])[u.slot] = u.old;
    undo_.pop_back();
  }
  while (events_.size() > n) {
    const event& e = events_.back();
    task_last_[e.task] = e.prev_of_task;
    last_write_[e.task] = e.prev_last_write;
    last_all_[e.task] = e.prev_last_all;
    events_.pop_back();
  }
}

// ---- the search ----------------------------------------------------------------------------------
void dfs_driver::begin_execution(bool keep_prefix) {
  // Decisions 0 .. replay_ - 2 repeat; decision replay_ - 1 changes: the steps before it repeat.
  if (replay_ == 0 || !keep_prefix) {
    replay_steps_ = 0;
    sleep_ = 0;
    preemptions_ = 0;
    stale_ = 0;
  } else {
    const node& n = stack_[replay_ - 1];
    replay_steps_ = n.step;
    sleep_ = n.sleep_all;
    preemptions_ = n.preemptions;
    stale_ = n.stale;
  }
  if (events_.empty()) {
    for (auto& t : task_last_) t = NONE;
    for (auto& w : last_write_) w = NONE;
    for (auto& w : last_all_) w = NONE;
  }
  truncate_events(replay_steps_);
  prev_fp_valid_ = false;
  for (auto& c : checked_) c = 0;
}

int dfs_driver::choose(const decision& d) {
  size_t k = static_cast<size_t>(d.depth);
  if (k < replay_) {
    node& n = stack_[k];
    if (n.value || n.enabled != d.enabled || n.last != d.last || n.step != d.step)
      throw std::runtime_error("explore: the program does not behave the same when run again (decision " +
                               std::to_string(k) + "): its threads must depend only on the schedule");
    return n.chosen;
  }
  node n;
  n.enabled = d.enabled;
  n.last = d.last;
  n.last_enabled = d.last_enabled;
  n.preemptions = preemptions_;
  n.stale = n.stale_at = stale_;
  n.sleep_all = sleep_;
  n.sleep = sleep_ & d.enabled;
  n.step = d.step;
  task_mask cand = d.enabled & ~n.sleep;
  if (k < unit_.size()) {  // the unit's path: the choice is given, the node is the search's
    int c = unit_[k];
    if (c >= NR_TASKS || !(d.enabled >> c & 1))
      throw std::runtime_error("explore: a unit's path does not fit the program (decision " + std::to_string(k) + ")");
    n.chosen = c;
    n.done = bit(c);
    n.shared = true;
    // What full branching puts here was taken when the node became shared: known, not new.
    n.backtrack = bit(c);
    if (!cfg_.reduction || !(g_reduction_parts & 2) || static_cast<int>(k) < cfg_.split_depth) n.backtrack |= cand;
    stack_.push_back(n);
    return c;
  }
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
      if (!within(n, lowest(m))) note_cut(n);
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

unsigned dfs_driver::choose_value(const value_decision& d) {
  size_t k = static_cast<size_t>(d.depth);
  if (k < replay_) {
    node& n = stack_[k];
    if (!n.value || n.enabled != d.candidates || n.step != d.step)
      throw std::runtime_error("explore: the program does not behave the same when run again (decision " +
                               std::to_string(k) + "): its loads must depend only on the schedule");
    stale_ += n.chosen != 0;
    return static_cast<unsigned>(n.chosen);
  }
  node n;
  n.value = true;
  n.enabled = d.candidates;
  n.step = d.step;
  n.sleep_all = pre_sleep_;
  n.preemptions = pre_preemptions_;
  n.stale = pre_stale_;
  n.stale_at = stale_;
  n.backtrack = d.candidates;  // full branching (advance() applies the bound)
  int c = 0;
  if (k < unit_.size()) {  // the unit's path: the choice is given, the node is the search's
    c = unit_[k];
    if (c >= 32 || !(d.candidates >> c & 1))
      throw std::runtime_error("explore: a unit's path does not fit the program (decision " + std::to_string(k) + ")");
    n.shared = true;
  }
  n.chosen = c;
  n.done = bit(c);
  for (task_mask m = d.candidates & ~bit(c); m; m &= m - 1)
    if (!within(n, lowest(m))) note_cut(n);
  stack_.push_back(n);
  stale_ += c != 0;
  return static_cast<unsigned>(c);
}

void dfs_driver::executed(const transition& t) {
  pre_sleep_ = sleep_;
  pre_preemptions_ = preemptions_;
  pre_stale_ = stale_;
  if (t.preempted) preemptions_++;
  if (!cfg_.reduction) return;
  // ---- sleep sets (unbounded searches only) ----
  if (!bounded() && cfg_.sleep_sets && (g_reduction_parts & 1)) {
    task_mask s = sleep_;
    if (t.depth >= 0) s |= stack_[static_cast<size_t>(t.depth)].done & ~bit(t.task);
    task_mask ns = 0;
    for (task_mask m = s & ~bit(t.task); m; m &= m - 1) {
      int g = lowest(m);
      if (!dependent(pending_footprint(g), g, *t.fp, t.task)) ns |= bit(g);
    }
    sleep_ = ns;
  }
  // ---- DPOR ----
  detect_races();  // at the state before t
  record(t);
}

bool dfs_driver::advance() {
  while (!stack_.empty()) {
    node& n = stack_.back();
    if (n.shared) {  // its alternatives are the search's
      stack_.pop_back();
      continue;
    }
    task_mask left = n.backtrack & n.enabled & ~n.done & ~n.sleep;
    for (task_mask m = left; m; m &= m - 1)
      if (!within(n, lowest(m))) note_cut(n);
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

std::vector<uint8_t> dfs_driver::path_to(size_t depth) const {
  std::vector<uint8_t> p(depth);
  for (size_t i = 0; i < depth; i++) p[i] = static_cast<uint8_t>(stack_[i].chosen);
  return p;
}

std::vector<node_addition> dfs_driver::take_additions() {
  std::vector<node_addition> out;
  out.swap(additions_);
  return out;
}

std::vector<std::vector<uint8_t>> dfs_driver::donate(std::vector<node_addition>* shared_nodes) {
  std::vector<std::vector<uint8_t>> units;
  for (size_t j = 0; j < stack_.size(); j++) {
    node& n = stack_[j];
    if (n.shared) continue;
    task_mask left = 0;
    for (task_mask m = n.backtrack & n.enabled & ~n.done & ~n.sleep; m; m &= m - 1)
      if (within(n, lowest(m))) left |= bit(lowest(m));
    if (!left) continue;
    // The shallowest node with work left: it and every node above it become shared.
    for (size_t i = 0; i <= j; i++) {
      node& s = stack_[i];
      if (s.shared) continue;
      s.shared = true;
      shared_nodes->push_back({path_to(i), s.done | (i == j ? left : 0)});
    }
    n.done |= left;
    for (task_mask m = left; m; m &= m - 1) {
      std::vector<uint8_t> u = path_to(j);
      u.push_back(static_cast<uint8_t>(lowest(m)));
      units.push_back(std::move(u));
    }
    break;
  }
  return units;
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
  // The step's scheduling node comes first; a value node first means the step had none.
  return lo < stack_.size() && stack_[lo].step == step && !stack_[lo].value ? static_cast<int>(lo) : -1;
}

void dfs_driver::add_backtrack(uint64_t i, int q) {
  auto add_at = [&](uint64_t step) {
    int ni = node_at_step(step);
    if (ni < 0) return;  // one task could run there: nothing to reverse at that state
    node& n = stack_[static_cast<size_t>(ni)];
    // FG: q itself if it can run there. If it cannot, or it sleeps there (its transition at that
    // state is covered elsewhere, but the reversal may need another task to go first: the
    // events between that let q's racing transition happen), every task that can.
    task_mask add = (n.enabled >> q & 1) && !(n.sleep >> q & 1) ? bit(q) : n.enabled;
    if (n.shared) {
      // Someone else explores it: report what is new and within the bound.
      task_mask fresh = 0;
      for (task_mask m = add & ~n.backtrack & ~n.sleep; m; m &= m - 1) {
        int a = lowest(m);
        if (within(n, a))
          fresh |= bit(a);
        else
          note_cut(n);
      }
      n.backtrack |= add;
      if (fresh) additions_.push_back({path_to(static_cast<size_t>(ni)), fresh});
      return;
    }
    n.backtrack |= add;
  };
  add_at(i);
  if (bounded()) add_at(events_[i].block_start);  // BPOR's conservative branch
}

bool dfs_driver::happens_before(uint64_t i, int q) const {
  const event& e = events_[i];
  return clock_of(q)[e.task] >= e.clock[e.task];
}

// The latest event dependent with footprint fp (the next transition of task q) that does not
// happen before q, or -1.
long dfs_driver::latest_race(const footprint& fp, int q) const {
  long best = -1;
  auto consider = [&](int32_t i) {
    if (i > best && events_[static_cast<size_t>(i)].task != q && !happens_before(static_cast<uint64_t>(i), q))
      best = i;
  };
  // A CPU's thread and its own flush task never race (explore/scheduler.h, flush_partners):
  // what they share is ordered (a store before its flush, a flush before a drain), and
  // their memory accesses commute.
  task_mask others = program_tasks() & ~bit(q) & ~flush_partners(q);
  if (fp.everything) {
    for (task_mask m = others; m; m &= m - 1) consider(task_last_[lowest(m)]);
    return best;
  }
  for (int a = 0; a < fp.n; a++) for_conflicts(fp.a[a], others, 0, consider);  // others has no partners
  for (task_mask m = others; m; m &= m - 1) {
    consider(last_all_[lowest(m)]);  // a transition that touched every word
    if (fp.any_write) consider(last_write_[lowest(m)]);
  }
  return best;
}

template <class F>
void dfs_driver::for_conflicts(const access& a, task_mask others, task_mask partners, F&& f) const {
  uint8_t mode = a.mode;
  if (!a.own) others &= ~partners;  // a memory word: not with the CPU's own flushes (access::own)
  auto conflicts = [mode](uint8_t theirs) {
    return !(mode == ACC_READ && theirs == ACC_READ) && !(mode == ACC_ADD && theirs == ACC_ADD);
  };
  // Every word the access covers, in the word histories.
  for (unsigned k = 0; k < a.nwords; k++) {
    long w = lookup_word(a.word + 8ul * k);
    if (w < 0) continue;
    const word_hist& h = words_[static_cast<size_t>(w)];
    for (int half = 0; half < 2; half++) {
      if (!(a.halves >> half & 1)) continue;
      for (task_mask m = others; m; m &= m - 1) {
        const int32_t* l = h.last[half][lowest(m)];
        if (mode != ACC_READ) f(l[0]);  // their reads
        f(l[1]);                         // their writes
        if (mode != ACC_ADD) f(l[2]);   // their additions
      }
    }
  }
  // Bulk accesses that overlap it.
  uintptr_t lo = a.word, hi = a.word + 8ul * a.nwords;
  for (const range_event& r : ranges_)
    if ((others >> r.task & 1) && r.lo < hi && lo < r.hi && conflicts(r.mode)) f(static_cast<int32_t>(r.event));
}

// Race detection at the current state (after the last event): the task that ran last has a
// new next transition, check it against the whole history; every other task's next transition
// is the one checked at the previous state unless its footprint changed, so only the last
// event can be a new race for it.
void dfs_driver::detect_races() {
  if (events_.empty()) return;
  uint64_t li = events_.size() - 1;
  int last_task = events_.back().task;
  for (task_mask m = program_tasks(); m; m &= m - 1) {
    int q = lowest(m);
    if (!task_alive(q)) continue;
    uint64_t version = 0;
    const footprint& fp = pending_footprint(q, &version);
    bool full = q == last_task || !prev_fp_valid_ || checked_[q] != version;
    checked_[q] = version;
    if (full) {
      long i = latest_race(fp, q);
      if (i >= 0) add_backtrack(static_cast<uint64_t>(i), q);
    } else if (dependent(prev_fp_, last_task, fp, q) && !happens_before(li, q)) {
      add_backtrack(li, q);
    }
  }
}

void dfs_driver::record(const transition& t) {
  int p = t.task;
  const footprint& fp = *t.fp;
  auto i = static_cast<uint32_t>(events_.size());
  event e;
  e.task = p;
  e.prev_of_task = task_last_[p];
  e.prev_last_write = last_write_[p];
  e.prev_last_all = last_all_[p];
  std::memcpy(e.clock, clock_of(p), sizeof e.clock);
  // Happens-before: join the clocks of the earlier events this one depends on.
  auto join = [&](int32_t j) {
    if (j < 0) return;
    const uint32_t* c = events_[static_cast<size_t>(j)].clock;
    for (int r = 0; r < NR_TASKS; r++)
      if (c[r] > e.clock[r]) e.clock[r] = c[r];
  };
  task_mask others = program_tasks() & ~bit(p);
  task_mask partners = flush_partners(p);
  uint32_t word_of[footprint::MAX];  // each single-word access's history, looked up once
  if (fp.everything) {
    for (task_mask m = others; m; m &= m - 1) join(task_last_[lowest(m)]);
  } else {
    for (int a = 0; a < fp.n; a++) {
      const access& acc = fp.a[a];
      if (acc.nwords > 1) {
        for_conflicts(acc, others, partners, join);
        continue;
      }
      uint32_t w = word_of[a] = word_index(acc.word);
      const word_hist& h = words_[w];
      task_mask with = acc.own ? others : others & ~partners;
      for (int half = 0; half < 2; half++) {
        if (!(acc.halves >> half & 1)) continue;
        for (task_mask m = with; m; m &= m - 1) {
          const int32_t* l = h.last[half][lowest(m)];
          if (acc.mode != ACC_READ) join(l[0]);
          join(l[1]);
          if (acc.mode != ACC_ADD) join(l[2]);
        }
      }
      if (!ranges_.empty()) {
        access one = acc;
        for (const range_event& r : ranges_)
          if ((with >> r.task & 1) && r.lo <= one.word && one.word < r.hi &&
              !(one.mode == ACC_READ && r.mode == ACC_READ) && !(one.mode == ACC_ADD && r.mode == ACC_ADD))
            join(static_cast<int32_t>(r.event));
      }
    }
    for (task_mask m = others; m; m &= m - 1) {
      join(last_all_[lowest(m)]);
      if (fp.any_write) join(last_write_[lowest(m)]);
    }
  }
  e.clock[p]++;
  e.block_start = (!events_.empty() && events_.back().task == p) ? events_.back().block_start : i;
  events_.push_back(e);
  task_last_[p] = static_cast<int32_t>(i);
  bool writes = fp.everything;
  for (int a = 0; a < fp.n; a++) {
    uint8_t mode = fp.a[a].mode;
    if (mode != ACC_READ) writes = true;
    if (fp.a[a].nwords > 1) {
      ranges_.push_back({i, p, fp.a[a].word, fp.a[a].word + 8ul * fp.a[a].nwords, mode});
      continue;
    }
    uint32_t w = fp.everything ? word_index(fp.a[a].word) : word_of[a];
    int slot_mode = mode == ACC_READ ? 0 : mode == ACC_WRITE ? 1 : 2;
    for (int half = 0; half < 2; half++) {
      if (!(fp.a[a].halves >> half & 1)) continue;
      int32_t* s = hist_slot(w, half, p, slot_mode);
      if (*s == static_cast<int32_t>(i)) continue;
      auto flat = static_cast<uint16_t>(s - &words_[w].last[0][0][0]);
      undo_.push_back({i, w, flat, *s});
      *s = static_cast<int32_t>(i);
    }
  }
  if (writes) last_write_[p] = static_cast<int32_t>(i);
  if (fp.everything) last_all_[p] = static_cast<int32_t>(i);
  prev_fp_.copy_from(fp);
  prev_fp_valid_ = true;
}

}  // namespace explore::detail
GUPFAST_NS_END
