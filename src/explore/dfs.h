// Depth-first search over the scheduling decisions of a program, with a preemption bound,
// sleep sets and dynamic partial-order reduction (docs/explore.md, "Search").
//
// Stateless: every execution runs the program from the start; the driver keeps the stack of
// decisions of the current path, replays its prefix, and extends it with the default choice
// (the fiber that ran last, if it can go on: no preemption). After an execution, advance()
// moves to the deepest decision with an alternative left to explore.
#pragma once
#include <unordered_map>
#include <vector>

#include "explore/scheduler.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

// Tests only: a dfs search goes on after a violation (to compare what searches reach).
extern bool g_keep_going;
extern int g_reduction_parts;
extern bool g_dfs_debug;  // tests: 1 sleep sets only, 2 DPOR only, 3 both (default)

struct dfs_config {
  int bound = 2;           // preemptions per execution (< 0: none)
  bool reduction = true;   // DPOR + sleep sets; false: every alternative within the bound
  int split_depth = 3;     // decisions above this depth always branch fully (shards split there)
  int shard_index = 0, shard_count = 1;
};

class dfs_driver final : public driver {
 public:
  explicit dfs_driver(const dfs_config& cfg) : cfg_(cfg) {}
  int choose(const decision& d) override;
  void executed(const transition& t) override;
  void begin_execution();
  // The execution ended: does it count for this shard (and may its violation be reported)?
  bool end_execution(const outcome& out);
  // Move to the next execution; false when every one within the bound was covered.
  bool advance();
  // The bound kept some alternative out: a larger bound would explore more.
  bool bound_cut() const { return cut_; }
  // The execution reached its last state (every thread returned, or none can run): the races
  // of the fibers' next transitions there.
  void final_state() override {
    if (cfg_.reduction) detect_races();
  }

 private:
  struct node {
    task_mask enabled = 0;
    task_mask done = 0;       // alternatives taken here so far (the current one included)
    task_mask sleep = 0;      // asleep in the state before this decision
    task_mask backtrack = 0;  // alternatives that must be explored here
    int chosen = -1;
    int last = -1;
    bool last_enabled = false;
    int preemptions = 0;       // before this decision
    uint64_t step = 0;         // the transition it chose
  };
  // Cost in preemptions of running task a at node n.
  static int cost(const node& n, int a) { return a != n.last && n.last_enabled ? 1 : 0; }
  bool within(const node& n, int a) const { return cfg_.bound < 0 || n.preemptions + cost(n, a) <= cfg_.bound; }
  bool bounded() const { return cfg_.bound >= 0; }
  bool sharded() const { return cfg_.shard_count > 1; }

  // ---- DPOR ----
  struct event {
    int task;
    uint64_t block_start;       // first event of the run of its task's events containing it
    footprint fp;
    uint32_t clock[NR_TASKS];   // vector clock: how many events of each task happen before (or are) it
  };
  // The latest event of each task that read / wrote / added to each half of a word.
  struct word_hist {
    int32_t last[2][NR_TASKS][3];
    word_hist() {
      for (auto& h : last)
        for (auto& l : h) l[0] = l[1] = l[2] = -1;
    }
  };
  int node_at_step(uint64_t step) const;
  void add_backtrack(uint64_t i, int q);
  bool happens_before(uint64_t i, int q) const;
  long latest_race(const footprint& fp, int q) const;
  void detect_races();
  static bool same(const footprint& a, const footprint& b);
  void record(const transition& t);

  dfs_config cfg_;
  std::vector<node> stack_;
  size_t replay_ = 0;
  uint64_t subtrees_ = 0;
  bool cut_ = false;
  // live, per execution
  task_mask sleep_ = 0;
  int preemptions_ = 0;
  int max_depth_ = 0;
  bool probe_ = false;
  std::vector<event> events_;
  std::unordered_map<uintptr_t, word_hist> hist_;
  int32_t last_write_[NR_TASKS];
  uint32_t fclock_[NR_TASKS][NR_TASKS] = {};
  footprint next_fp_[NR_TASKS];
  bool next_fp_valid_[NR_TASKS] = {};
};

}  // namespace explore::detail
GUPFAST_NS_END
