// Internals shared by the model backend (sync/model.cpp: what each seam operation does) and
// the explorer's scheduler (explore/scheduler.cpp: who runs when). Not for algorithm code.
//
// A scheduling point carries a pending_op: the operation the fiber is about to perform. The
// scheduler asks model.cpp whether it can run now (a lock is free, every IPI was acknowledged,
// a grace period ended, ...) and which words it touches (the dependence relation); when the
// fiber is chosen, point_ex() returns and the caller performs the operation right away.
#pragma once
#include <string>

#include "explore/scheduler.h"
#include "sync/sync.h"

GUPFAST_NS_BEGIN
namespace sync::rt {

struct pending_op {
  op kind = op::start;
  const void* addr = nullptr;
  uint8_t size = 0;
  site loc{};
  const char* name = nullptr;  // yield point; IPI sender
  uint64_t arg = 0;            // ipi_send / ipi_wait: CPU mask; gp_wait: grace period id; rcu_barrier: sequence
  void* obj = nullptr;         // ipi_wait: the sender's call_single_data array, by CPU; ipi_ack: the csd
};

// ---- scheduler.cpp ----------------------------------------------------------------------------
// A scheduling point with an operation that may block. Context: g_sched.
void point_ex(const pending_op& p);
// The running task (explore/scheduler.h: threads, RCU_TASK, interrupt tasks), or -1 on the
// explorer's own stack.
int current_task();
// The running fiber's CPU enters / leaves an IPI handler: from enter to exit its operations
// are its interrupt task's, and its thread cannot run.
void irq_enter();
void irq_exit();
// Fibers are being unwound after the threads phase: blocking operations act at once.
bool unwinding();
// Direct mode met a wait that can never end (a lock held by the caller itself): report it.
[[noreturn]] void direct_stuck(const char* what, const site& loc);

// ---- model.cpp --------------------------------------------------------------------------------
extern cpu_state g_cpus[NR_CPUS];
// Can a task (suspended at p, on CPU cpu or -1) perform p now? (cpu_relax is the scheduler's.)
bool op_enabled(const pending_op& p, int cpu);
// The words p touches.
void op_footprint(const pending_op& p, int cpu, explore::detail::footprint& fp);
// A queued IPI can interrupt CPU c now (irqs on).
inline bool ipi_deliverable(const cpu_state* c) { return c && !c->irq_disabled && c->csd_queue; }
// On c's fiber, its interrupt task chosen for its ipi_run transition: take the oldest queued
// call, run it with irqs off, acknowledge it.
void ipi_run_one(cpu_state* c);
// The callback fiber: is a callback's grace period over? Run the oldest such callback.
bool rcu_callback_ready();
void rcu_run_one_callback();
// Direct mode: run every callback whose grace period is over (all: every queued one).
void rcu_run_callbacks_direct(bool all);

// One execution's model state: CPUs 0..ncpus-1 online with irqs on, no IPI, no RCU reader,
// no callback. model_begin at its start, model_end after teardown.
void model_begin(int ncpus, uint64_t seed);
void model_end();
// Task `task` (on CPU cpu, or -1) was unwound: release the locks it held; for a thread, end
// its CPU's RCU read section and drop its queued IPIs (their senders are gone too).
void model_task_dead(int task, int cpu);
// Describe what a task waits for (deadlock reports).
std::string describe_wait(const pending_op& p, int cpu);

}  // namespace sync::rt
GUPFAST_NS_END
