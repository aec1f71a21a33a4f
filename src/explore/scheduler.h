// The explorer's scheduler: fibers as CPUs, one execution of a program, and the scheduling
// points of the model backend (sync/model.h), as seen from the search (search.cpp) and from
// the seam's implementation (sync/model.cpp).
//
// One execution: setup runs on the explorer's own stack as CPU 0 in direct mode (every seam
// operation acts at once, nothing else runs); then each thread is a fiber on its CPU, plus a
// fiber that runs RCU callbacks (no CPU, as liburcu's call_rcu thread in the native backend);
// at every scheduling point the fiber that reached it asks the search which task executes
// the next transition and switches to that task's fiber. A transition is one seam operation
// (or taking one queued IPI, or taking one RCU callback) and the plain code after it up to the
// next point. When every thread has returned and nothing is left to run (callbacks whose grace
// period ended, queued IPIs), finish and teardown run in direct mode again.
//
// The search sees only task ids, enabled sets and footprints (which words a transition
// reads, writes or adds to: the dependence relation of partial-order reduction).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "explore/search.h"
#include "memory/memory_model.h"
#include "sync/sync.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

// Tasks are what the search chooses among. Thread t (0 .. MAX_THREADS - 1) runs on fiber t as
// CPU t; RCU_TASK runs RCU callbacks on its own fiber (no CPU); irq_task(c) is CPU c's interrupt
// context: it takes the IPIs queued to CPU c, on fiber c. While CPU c has irqs on and an IPI
// queued, or is inside a handler, thread c cannot run: the IPI is taken before the thread's
// next operation. (A thread and its interrupt context are separate tasks so that a task's next
// transition depends only on its own progress, as partial-order reduction requires.) Under
// the tso memory model, flush_task(c) writes CPU c's oldest buffered store to memory
// (memory/tso.h); the scheduler performs it itself, on no fiber.
inline constexpr int RCU_TASK = MAX_THREADS;
inline constexpr int NR_FIBERS = MAX_THREADS + 1;
inline constexpr int FLUSH_BASE = NR_FIBERS + MAX_THREADS;
inline constexpr int NR_TASKS = FLUSH_BASE + MAX_THREADS;
inline constexpr int irq_task(int cpu) { return NR_FIBERS + cpu; }
inline constexpr int flush_task(int cpu) { return FLUSH_BASE + cpu; }
inline constexpr bool is_irq_task(int task) { return task >= NR_FIBERS && task < FLUSH_BASE; }
inline constexpr bool is_flush_task(int task) { return task >= FLUSH_BASE; }
inline constexpr int fiber_of(int task) {
  return task < NR_FIBERS ? task : task < FLUSH_BASE ? task - NR_FIBERS : task - FLUSH_BASE;
}
// The tasks a memory word does not make dependent with this one (access::own): a CPU's
// thread and interrupt tasks, and its flush task.
inline constexpr uint32_t flush_partners(int task) {
  int c = fiber_of(task);
  if (c >= MAX_THREADS) return 0;  // the RCU callback task has no store buffer
  return is_flush_task(task) ? (1u << c | 1u << irq_task(c)) : 1u << flush_task(c);
}
// A preemption is a switch away from a task that could have gone on (CHESS's definition). A
// thread and its CPU's interrupt task are never runnable together, so taking an IPI costs
// none; neither does leaving a task that blocks, returns, or spins with nothing changed, nor
// a flush (a store buffer draining is not a switch of what the CPU runs).
using task_mask = uint32_t;

// ---- the dependence relation ------------------------------------------------------------
enum : uint8_t { ACC_READ = 1, ACC_WRITE = 2, ACC_ADD = 4 };
// One word touched by a transition: the aligned 8-byte word, which of its 4-byte halves
// (bit 0 low, bit 1 high: two ints of one word, or a PAE entry's halves, are independent;
// bytes within one half are not told apart), and how. Model state (a CPU's irq flag, its IPI
// queue, its RCU nesting, the callback queue) is named by the address of the field holding it.
//
// tso: a CPU's flush of its oldest buffered store and the same CPU's own accesses to that
// memory commute (its loads read its latest store of the word either way: forwarding, or
// memory as its flush left it; a store by another CPU in between is dependent with both).
// And where both can run, a store and the flush of an older store commute too (a FIFO's tail
// and head). So a CPU's thread or interrupt task and its own flush task never race
// (flush_partners): DPOR reverses nothing between them. Happens-before still orders them
// through the buffer's own words (`own`: its head and slots; memory words do not count): a
// store before its flush, a flush before a draining operation.
struct access {
  uintptr_t word = 0;
  uint8_t halves = 0;
  uint8_t mode = 0;
  uint16_t nwords = 1;  // > 1: the words [word, word + 8 * nwords), both halves (a bulk copy)
  bool own = false;     // a store buffer's word (see above)
};
struct footprint {
  static constexpr int MAX = 8;
  access a[MAX];
  int n = 0;
  bool any_write = false;   // reads every word: depends on every write ("anything changed")
  bool everything = false;  // touches every word (more accesses than fit): depends on all
  void clear() {
    n = 0;
    any_write = everything = false;
  }
  // A copy of the accesses in use only (a footprint is mostly empty slots).
  void copy_from(const footprint& o) {
    n = o.n;
    any_write = o.any_write;
    everything = o.everything;
    for (int i = 0; i < n; i++) a[i] = o.a[i];
  }
  void add(const void* addr, unsigned size, uint8_t mode);
  void add_own(const void* word, uint8_t mode);  // a store buffer's word (access::own)
  // Every word of [addr, addr + bytes): addr and bytes 8-aligned, at most 4 KiB.
  void add_range(const void* addr, unsigned bytes, uint8_t mode);
};
// Two transitions of different tasks are dependent if they touch a common half of a word and
// not both only read (or only add: additions commute).
// Do transitions with these footprints, of tasks tx and ty, not commute?
bool dependent(const footprint& x, int tx, const footprint& y, int ty);

// ---- the search's side ----------------------------------------------------------------------
struct decision {
  task_mask enabled = 0;     // two or more tasks
  int last = -1;             // the task that executed the previous transition (-1: none yet)
  bool last_enabled = false; // it could go on: choosing another task is a preemption
  uint64_t step = 0;         // index of the transition being chosen
  int depth = 0;             // index of this decision among the execution's decisions
};

// One transition about to run (every one of the threads phase, forced ones included).
struct transition {
  uint64_t step = 0;      // its index
  int task = -1;
  int last = -1;          // the task of the previous transition
  bool preempted = false; // a preemption: `last` could have gone on
  int depth = -1;         // the decision that chose it, -1: forced (one task could run)
  const footprint* fp = nullptr;
};

// The memory model's choice of which store a load reads (memory/weak.cpp): a decision too,
// counted among the execution's decisions (depth) and recorded in its choices.
struct value_decision {
  uint32_t candidates = 0;  // bit k: the k-th newest store may be read (bit 0: the newest)
  uint64_t step = 0;        // the transition making the load
  int depth = 0;
};

class driver {
 public:
  virtual ~driver() = default;
  // Pick a task of d.enabled, or -1 to abandon the execution (the search found it redundant).
  virtual int choose(const decision& d) = 0;
  // Pick a candidate of d.candidates (k > 0: a stale read). Default: the newest store.
  virtual unsigned choose_value(const value_decision& d) {
    (void)d;
    return 0;
  }
  // The chosen transition is about to run (after choose(), if there was a choice).
  virtual void executed(const transition& t) { (void)t; }
  // The execution reached its last state: every thread returned and nothing can run, or
  // nothing can run (deadlock). The tasks' next transitions can still be queried.
  virtual void final_state() {}
  // How many first steps of this execution repeat the previous execution's exactly (the same
  // tasks chosen): the scheduler replays them from its log without calling the driver
  // (neither choose() nor executed()). 0: none (every step is the driver's).
  virtual uint64_t replayed_steps() const { return 0; }
};

// Live queries while a driver is being called.
// The task's next transition (valid until the next step); *version, if given, changes whenever
// that footprint may have (never the same for two footprints computed).
const footprint& pending_footprint(int task, uint64_t* version = nullptr);
bool task_enabled(int task);
bool task_alive(int task);
task_mask program_tasks();  // the tasks the running program has

struct outcome {
  // cut: the execution reached the step budget (max_steps) and was stopped: inconclusive.
  enum kind { complete, violation, pruned, cut } kind = complete;
  std::optional<explore::violation> v;  // replay token not filled in (search.cpp does)
  std::vector<uint8_t> choices;         // the task (or store) chosen at each decision
  uint64_t steps = 0;                   // transitions of the threads phase
  int preemptions = 0;
  int stale = 0;                        // loads that read a store other than the newest
};

// Run one execution. `drv` chooses; `seed` seeds sync::random_u64(). `tracing`: record every
// step for a report (a violation's trace; otherwise its trace is empty).
// `mem`: the memory model of the threads phase (memory/memory_model.h).
outcome run_execution(const program& prog, driver& drv, uint64_t seed, uint64_t max_steps, bool tracing = false,
                      memory::model mem = memory::model::sc);

// The search is over: if a snapshot of prog's world is kept, put it back and run teardown
// (once for the whole search), and let the world go.
void end_search(const program& prog);

// Why an execution stops (thrown on the fiber or stack that sees it; caught by the explorer).
struct abort_execution {};

}  // namespace explore::detail
GUPFAST_NS_END
