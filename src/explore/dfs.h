// Depth-first search over the scheduling decisions of a program, with a preemption bound,
// sleep sets and dynamic partial-order reduction (docs/explore.md, "Search").
//
// Stateless: every execution runs the program from the start; the driver keeps the stack of
// decisions of the current path and extends it with the default choice (the fiber that ran
// last, if it can go on: no preemption). After an execution, advance() moves to the deepest
// decision with an alternative left to explore. The next execution repeats the previous one
// up to the step of that decision: the scheduler replays those steps from its log
// (replayed_steps), and the DPOR state (events, the history of every word, vector clocks)
// is rolled back to that step instead of being rebuilt.
#pragma once
#include <cstdint>
#include <vector>

#include "explore/scheduler.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

// Tests only: a dfs search goes on after a violation (to compare what searches reach).
extern bool g_keep_going;
extern int g_reduction_parts;  // tests: 1 sleep sets only, 2 DPOR only, 3 both (default)

struct dfs_config {
  int bound = 2;           // preemptions per execution (< 0: none)
  int stale_bound = 0;     // loads per execution that read a store other than the newest (< 0: none)
  bool reduction = true;   // DPOR + sleep sets; false: every alternative within the bound
  bool sleep_sets = true;  // with reduction and no bound (a parallel search has none: they make
                           // the explored tree depend on the order it is explored in)
  int split_depth = 3;     // decisions above this depth always branch fully
};

// A part of a search (parallel.cpp): the subtree below a path of decisions. The nodes on the
// path are shared: their other alternatives are someone else's, and a race found below that
// adds one at a shared node is reported (node_addition) instead of explored here.
struct node_addition {
  std::vector<uint8_t> path;  // the choices of the decisions above the node: its key
  task_mask tasks = 0;        // alternatives to explore there
};

class dfs_driver final : public driver {
 public:
  // unit: the subtree below these choices (empty: the whole search).
  explicit dfs_driver(const dfs_config& cfg, std::vector<uint8_t> unit = {}) : cfg_(cfg), unit_(std::move(unit)) {}
  int choose(const decision& d) override;
  // Which store a load reads: every candidate within the stale-read bound is explored (no
  // reduction among them; the footprint of the load is the same whichever it reads).
  unsigned choose_value(const value_decision& d) override;
  void executed(const transition& t) override;
  uint64_t replayed_steps() const override { return replay_steps_; }
  // Before each execution: roll the DPOR state back to the prefix this execution repeats,
  // if keep_prefix. That needs every execution to put the same objects at the same
  // addresses (the words of the kept events' footprints): true when each starts from the
  // same snapshot of the world (program::snapshot), not when setup allocates anew.
  void begin_execution(bool keep_prefix);
  // Move to the next execution; false when every one within the bound was covered.
  bool advance();
  // Alternatives found at shared nodes since the last call (taken from the driver).
  std::vector<node_addition> take_additions();
  // Give part of the rest away: the alternatives left at the shallowest node that has any
  // become units (their paths) for others, and every node down to it becomes shared;
  // *shared_nodes gets each newly shared node with the alternatives taken there (explored,
  // being explored, or left to this driver). Empty: nothing to give.
  std::vector<std::vector<uint8_t>> donate(std::vector<node_addition>* shared_nodes);
  // The preemption bound (the stale-read bound) kept some alternative out: a larger bound
  // would explore more.
  bool bound_cut() const { return cut_; }
  bool stale_cut() const { return stale_cut_; }
  // The execution reached its last state (every thread returned, or none can run): the races
  // of the fibers' next transitions there.
  void final_state() override {
    if (cfg_.reduction) detect_races();
  }

 private:
  // A decision: which task runs the step (a scheduling node), or which store a load of the
  // step reads (a value node: its alternatives are candidate indices, 0 the newest store).
  // Nodes are in step order; a step's scheduling node comes before its value nodes.
  struct node {
    task_mask enabled = 0;    // value node: the candidates
    task_mask done = 0;       // alternatives taken here so far (the current one included)
    task_mask sleep = 0;      // asleep in the state before this decision (enabled ones)
    task_mask sleep_all = 0;  // the whole sleep set there (restored when replaying to here)
    task_mask backtrack = 0;  // alternatives that must be explored here
    int chosen = -1;
    int last = -1;
    bool last_enabled = false;
    int preemptions = 0;  // before this decision's step
    int stale = 0;        // stale reads before this decision's step
    int stale_at = 0;     // value node: stale reads before this decision
    uint64_t step = 0;    // the transition it chose (value node: the transition of the load)
    bool shared = false;  // its alternatives are the search's, not this driver's (a unit's path)
    bool value = false;
  };
  std::vector<uint8_t> path_to(size_t depth) const;
  // Cost of alternative a at node n: in preemptions (running task a; a flush costs none), or
  // in stale reads (reading the a-th newest store).
  static int cost(const node& n, int a) {
    if (n.value) return a != 0 ? 1 : 0;
    return a != n.last && n.last_enabled && !is_flush_task(a) ? 1 : 0;
  }
  bool within(const node& n, int a) const {
    if (n.value) return cfg_.stale_bound < 0 || n.stale_at + cost(n, a) <= cfg_.stale_bound;
    return cfg_.bound < 0 || n.preemptions + cost(n, a) <= cfg_.bound;
  }
  // An alternative the bound keeps out.
  void note_cut(const node& n) { (n.value ? stale_cut_ : cut_) = true; }
  bool bounded() const { return cfg_.bound >= 0; }

  // ---- DPOR ----
  // One transition of this execution (by step index).
  struct event {
    int task;
    uint32_t block_start;       // first event of the run of its task's events containing it
    int32_t prev_of_task;       // the previous event of the same task, -1: none
    int32_t prev_last_write;    // last_write_[task] before this event
    int32_t prev_last_all;      // last_all_[task] before this event
    uint32_t clock[NR_TASKS];   // vector clock: how many events of each task happen before (or are) it
  };
  // The latest event of each task that read / wrote / added to each half of a word.
  struct word_hist {
    int32_t last[2][NR_TASKS][3];
  };
  // An overwritten entry of a word's history, to undo when events are rolled back.
  struct undo {
    uint32_t event;
    uint32_t word;
    uint16_t slot;  // index into word_hist::last, flattened
    int32_t old;
  };
  // A bulk access (access::nwords > 1) of an event: kept apart from the word histories.
  struct range_event {
    uint32_t event;
    int task;
    uintptr_t lo, hi;  // [lo, hi)
    uint8_t mode;
  };
  // Call f(event index) for every earlier event of another task than q that access a (of
  // mode `mode`) does not commute with.
  template <class F>
  void for_conflicts(const access& a, task_mask others, task_mask partners, F&& f) const;
  uint32_t word_index(uintptr_t word);
  int32_t* hist_slot(uint32_t w, int half, int task, int mode) { return &words_[w].last[half][task][mode]; }
  void truncate_events(uint64_t n);
  const uint32_t* clock_of(int task) const;
  int node_at_step(uint64_t step) const;
  void add_backtrack(uint64_t i, int q);
  bool happens_before(uint64_t i, int q) const;
  long latest_race(const footprint& fp, int q) const;
  long lookup_word(uintptr_t word) const;
  void detect_races();
  void record(const transition& t);

  dfs_config cfg_;
  std::vector<uint8_t> unit_;
  std::vector<node_addition> additions_;
  std::vector<node> stack_;
  size_t replay_ = 0;
  uint64_t replay_steps_ = 0;
  bool cut_ = false;
  bool stale_cut_ = false;
  // live, per execution
  task_mask sleep_ = 0;
  int preemptions_ = 0;
  int stale_ = 0;
  // the state before the step being executed (what its value nodes restore)
  task_mask pre_sleep_ = 0;
  int pre_preemptions_ = 0, pre_stale_ = 0;
  std::vector<event> events_;
  std::vector<undo> undo_;
  std::vector<range_event> ranges_;
  int32_t task_last_[NR_TASKS];   // the latest event of each task, -1: none
  int32_t last_write_[NR_TASKS];  // the latest event of each task that wrote or added
  int32_t last_all_[NR_TASKS];    // the latest event of each task that touched every word
  footprint prev_fp_;             // the footprint of the latest event
  bool prev_fp_valid_ = false;
  uint64_t checked_[NR_TASKS] = {};  // the pending footprint (its version) races were checked for
  // Word histories: words_ by index; an open-addressing table maps a word to its index.
  std::vector<word_hist> words_;
  std::vector<uintptr_t> table_keys_;
  std::vector<uint32_t> table_vals_;
};

}  // namespace explore::detail
GUPFAST_NS_END
