// The model backend's own state, shared by its files (sync/model.cpp: atomics, CPUs, irqs and
// what the scheduler asks; model_locks.cpp, model_ipi.cpp, model_rcu.cpp: one concept each).
// Not for algorithm code, nor the scheduler (sync/model_rt.h is its interface).
#pragma once
#include <string>
#include <vector>

#include "sync/model_rt.h"

GUPFAST_NS_BEGIN
namespace sync::rt {

using explore::detail::ACC_ADD;
using explore::detail::ACC_READ;
using explore::detail::ACC_WRITE;
using explore::detail::footprint;
using explore::detail::NR_TASKS;

// A scheduling point with the fields of a pending_op.
void sched_point(op k, const void* addr, unsigned size, const site& loc, uint64_t arg = 0, void* obj = nullptr,
                 const char* name = nullptr);
uint64_t online_mask();

// ---- locks held, per task: released when an execution is cut short (model_locks.cpp) ----
enum class hold : uint8_t { spin, read, write };
void hold_add(const void* l, hold how);
void hold_drop(const void* l, hold how);
void holds_reset();  // a new execution: none held (keeps the buffers)
void holds_clear();  // and let the buffers go
void holds_release(int task);
// The lock word's owner tag for the running task, and its name in reports.
uint32_t owner_tag();
std::string owner_name(int64_t v);
bool lock_enabled(const pending_op& p);
void lock_footprint(const pending_op& p, footprint& fp);
std::string lock_describe(const pending_op& p);

// ---- IPIs (model_ipi.cpp) -------------------------------------------------------------
bool ipi_enabled(const pending_op& p);
void ipi_footprint(const pending_op& p, int cpu, footprint& fp);
std::string ipi_describe(const pending_op& p);

// ---- RCU (model_rcu.cpp) ----------------------------------------------------------------
bool rcu_enabled(const pending_op& p);
void rcu_footprint(const pending_op& p, int cpu, footprint& fp);
std::string rcu_describe(const pending_op& p);
void rcu_begin();
void rcu_end();
void rcu_task_dead(cpu_state& c);

}  // namespace sync::rt
GUPFAST_NS_END
