// The sync seam: every way the algorithm code touches shared memory, waits, or talks to
// another CPU goes through this header.
//
//   atomics      sync::atomic<T> with an explicit memory order on every access; sync::load /
//                store / cmpxchg / xchg on raw memory (page-table entries live in frames)
//   fences       smp_mb / smp_rmb / smp_wmb / barrier, named as in the kernel
//   yield points yield_point("file:where"): no-op normally, a random delay when amplified
//                (liburcu's DEBUG_YIELD), a scheduling point under the model backend
//   cpus         a thread registers as a CPU (cpu_online); this_cpu() is its per-CPU state
//   irqs         local_irq_save/restore: a soft mask (as powerpc's lazy irq masking)
//   IPIs         smp_call_function_many: delivered only where the target has irqs on
//   RCU          rcu_read_lock/unlock, call_rcu, synchronize_rcu, rcu_barrier
//   locks        spinlock_t, rw_semaphore
//
// Rules (see docs/architecture.md): algorithm code never includes <atomic>, <thread>,
// <signal.h> or urcu headers; plain fields are used only where a lock or single ownership
// protects them; no bare spin loop: every retry loop calls cpu_relax(), a yield point.
#pragma once
#include "sync/config.h"

#include <cstdint>

#if defined(GUPFAST_SYNC_MODEL)
#include "sync/model.h"
#else
#include "sync/native.h"
#endif
