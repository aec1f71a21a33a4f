// The scheduler's own state for one execution, shared by its files (scheduler.cpp: decisions
// and the scheduling points; fibers.cpp: stacks and switching; spin.cpp: what a spin loop
// read; trace.cpp: steps as a report shows them). Not for the algorithm code, nor the search.
#pragma once
#include <boost/context/fiber.hpp>
#include <string>
#include <vector>

#include "explore/world.h"
#include "sync/model_rt.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

using sync::rt::op;
using sync::rt::pending_op;

inline constexpr int MAIN = NR_FIBERS;  // the explorer's own stack (a fiber index)
inline constexpr int PHASE_END = -1;    // decide(): every thread returned, nothing left to run

// One step of the trace (recorded only while tracing: a report needs it).
struct raw_step {
  uint8_t task;
  op kind;
  uint8_t size;
  uint8_t preempted;
  uint8_t stale;  // its load read the stale-th newest store (0: the newest)
  uint32_t note;
  const void* addr;
  uint64_t value;
  sync::site loc;
  const char* name;
};

// One step of the schedule, kept from one execution to the next: a search that repeats the
// previous execution's first steps (driver::replayed_steps) has them replayed from here.
struct log_entry {
  uint8_t task;
  uint8_t decision : 1;  // a choice among two or more tasks
  uint8_t preempted : 1;
  uint32_t vpos;         // the value log's length when the step began
};

enum class relax_mode : uint8_t { stutter, progress, yield_any };

// A task: its pending transition, and what it read and wrote since its last cpu_relax (one
// loop iteration: spin.cpp).
struct task_rec {
  pending_op p;
  uint64_t version = 0;  // bumped whenever p changes (footprint cache key)
  struct rd {
    const void* addr;
    uint8_t size;
    uint64_t v;
  };
  struct wr {
    const void* addr;
    uint8_t size;
    uint64_t old;
  };
  // What it read and wrote since the oldest iteration still open (below); entries past
  // MAX_SPIN_* are dropped and the next cpu_relax counts as progress (overflow).
  std::vector<rd> reads;
  std::vector<wr> writes;
  bool overflow = false;
  relax_mode mode = relax_mode::stutter;
  int progress_streak = 0;
  uint64_t relax_epoch = 0;
  uint32_t note = 0;
  // Spinlocks it took, with the lock's release count then (exec_state::lock_versions).
  struct lk {
    const void* addr;
    uint64_t version;
  };
  std::vector<lk> locks;
  uint64_t own_writes = 0;  // writes it made (exec_state::write_epoch counts everyone's)
  // One mark per cpu_relax site (file:line) the fiber passed: where in reads/writes that
  // loop's current iteration began. Loops nest (a wait loop inside a retry loop), so an
  // iteration of the outer loop is everything since the outer cpu_relax, inner iterations
  // included; judging each loop by its own iteration is what lets a nest that changes
  // nothing wait (rather than count the alternation of sites as progress).
  struct mark {
    const char* file;
    uint32_t line;
    uint32_t r, w, l;
    uint64_t others;  // other tasks' writes when the iteration began
  };
  std::vector<mark> marks;
  // The pending cpu_relax's iteration: reads[it_r..], writes[it_w..], locks[it_l..].
  uint32_t it_r = 0, it_w = 0, it_l = 0;
  uint32_t seg_w = 0;  // writes since the last cpu_relax (any site) begin here
};

struct fiber_rec {
  bool alive = false;      // created, not yet returned
  bool body_done = false;  // threads: the body returned (the fiber idles; its CPU takes IPIs)
  bool in_irq = false;     // its CPU's interrupt task is inside a handler, on this fiber
  sync::cpu_state* cpu = nullptr;
};

// pending_footprint() is asked for every task at every new step (DPOR's race detection); a
// task's footprint changes only when its pending operation does, or its CPU's interrupt state.
struct fp_cache {
  bool valid = false;
  uint64_t version = 0;
  const void* csdq = nullptr;
  int irq = 0;
  bool in_irq = false;
  uint64_t gen = 0;  // pending_footprint_version()
  footprint fp;
};

struct lock_version {
  const void* lock;
  uint64_t releases;
};

struct exec_state {
  const program* prog = nullptr;
  driver* drv = nullptr;
  uint64_t max_steps = 0;
  int nthreads = 0;
  task_mask tasks = 0;  // the tasks this program has (its threads, their interrupts, RCU)
  task_rec t[NR_TASKS];
  fiber_rec f[NR_FIBERS];
  boost::context::fiber ctxs[NR_FIBERS + 1];
  int running = MAIN, from = MAIN;  // fibers
  int last = -1;                    // the task of the previous transition
  int chosen = -1;                  // the task the last decision chose
  bool threads_phase = false, unwinding = false, aborted = false;
  int depth = 0;
  uint64_t write_epoch = 0;
  std::vector<lock_version> lock_versions;  // spinlock -> releases so far
  // Schedule log (kept across executions) and how much of it this execution replays; the
  // value log: the store each load with a choice read (memory/weak.cpp), in order.
  std::vector<log_entry> log;
  uint64_t replay_until = 0;
  std::vector<uint8_t> vlog;
  uint32_t vpos = 0;
  memory::model mem = memory::model::sc;
  // The trace, recorded only while tracing (a violation's report replays its execution so).
  bool tracing = false;
  uint32_t main_note = 0;
  std::vector<raw_step> steps;
  std::vector<std::string> notes;
  outcome out;
  fp_cache fpc[NR_TASKS];
  // The world after the setup of snap_prog (program::snapshot).
  world::snapshot snap;
  const program* snap_prog = nullptr;
};

extern exec_state g_x;
extern bool g_in_explorer;

inline sync::cpu_state* cpu_of(int f) {
  if (f == MAIN) return &sync::rt::g_cpus[0];
  if (f == RCU_TASK) return nullptr;
  return &sync::rt::g_cpus[f];
}

// The task running now: the running fiber's thread, its interrupt task inside a handler, or
// the callback task.
inline int cur_task() {
  int f = g_x.running;
  if (f < MAX_THREADS && g_x.f[f].in_irq) return irq_task(f);
  return f;
}

// The CPU a task's operations act on (-1: the callback task has none).
inline int cpu_index(int task) { return fiber_of(task) == RCU_TASK ? -1 : fiber_of(task); }

// ---- spin.cpp ----
void prepare_relax(task_rec& f);
void begin_iteration(task_rec& f, const sync::site& loc);
bool relax_enabled(const task_rec& f, int cpu);
// The relax about to be taken ends an iteration: under a memory model, its reads of the
// words it read go to the latest stores (memory::relax).
void relax_reads(const task_rec& f);
void relax_footprint(const task_rec& f, footprint& fp);
void reset_task(task_rec& t, const pending_op& first);

// ---- trace.cpp ----
std::string short_fn(const char* pretty);
std::string short_file(const char* file);
std::string task_name(int task);
void record_violation(std::string kind, std::string message);
[[noreturn]] void abort_now();
[[noreturn]] void stuck();

// ---- fibers.cpp ----
struct unwind_fiber {};  // thrown at a suspended fiber's point to unwind it
void switch_to(int fiber);
void create_fiber(int fiber, const pending_op& first);
// Unwind every fiber still suspended at a point (they idle, or the execution stopped).
void unwind_fibers();

// ---- scheduler.cpp ----
int decide();
unsigned choose_value(uint32_t mask);
// World code is about to run on this thread (setup, a thread's body, a handler): its
// allocations are the world's if the program keeps its state there (program::snapshot).
inline void world_code() { world::set_allocating(g_x.prog && g_x.prog->snapshot); }

}  // namespace explore::detail
GUPFAST_NS_END
