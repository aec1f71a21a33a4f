// Model backend: IPIs (smp_call_function_many, sync/model.h). Under the scheduler the sender
// queues a call on each target CPU and waits (ipi_wait) until every target took it: at the
// target's next scheduling point with irqs on (its interrupt task, explore/scheduler.h). In
// direct mode the call runs at once on behalf of each target.
//
// Under a memory model the call data is what orders: the sender releases to it before the
// IPI (on arm64 the send orders earlier stores before the interrupt), the handler acquires
// from it, the acknowledgement releases (csd_unlock's smp_store_release) and the waiting
// sender acquires (csd_lock_wait's smp_cond_load_acquire). Under tso sending and
// acknowledging wait for an empty store buffer (sync/model.cpp, drains()).
#include <string>

#include "memory/memory_model.h"
#include "sync/model_state.h"

GUPFAST_NS_BEGIN
namespace sync {
namespace rt {
namespace {

void csd_enqueue(cpu_state* c, call_single_data* csd) {
  csd->next = nullptr;
  call_single_data** pp = &c->csd_queue;
  while (*pp) pp = &(*pp)->next;
  *pp = csd;
  if (c->irq_disabled) c->ipis_deferred++;
}

// Direct mode: run the call on behalf of CPU c, as if it took the interrupt now.
void run_on_behalf(cpu_state* c, smp_call_func_t func, void* info) {
  cpu_state* saved = g_cpu;
  g_cpu = c;
  int irq = c->irq_disabled;
  c->irq_disabled = 1;
  func(info);
  c->irq_disabled = irq;
  c->ipis_taken++;
  g_cpu = saved;
}

}  // namespace

bool ipi_enabled(const pending_op& p) {
  auto* csds = static_cast<const call_single_data*>(p.obj);
  for (uint64_t m = p.arg; m; m &= m - 1)
    if (!csds[__builtin_ctzll(m)].done) return false;
  return true;
}

void ipi_footprint(const pending_op& p, int cpu, footprint& fp) {
  switch (p.kind) {
    case op::ipi_send:
      for (uint64_t m = p.arg; m; m &= m - 1) fp.add(&g_cpus[__builtin_ctzll(m)].csd_queue, sizeof(void*), ACC_WRITE);
      break;
    case op::ipi_wait: {
      auto* csds = static_cast<const call_single_data*>(p.obj);
      for (uint64_t m = p.arg; m; m &= m - 1) fp.add(&csds[__builtin_ctzll(m)].done, sizeof(int), ACC_READ);
      break;
    }
    case op::ipi_ack:  // the sender's wait, and the thread the handler interrupted
      fp.add(p.addr, sizeof(int), ACC_WRITE);
      if (cpu >= 0) fp.add(&g_cpus[cpu].csd_queue, sizeof(void*), ACC_WRITE);
      break;
    default:
      break;
  }
}

std::string ipi_describe(const pending_op& p) {
  std::string s = "IPI acknowledgement from CPU";
  auto* csds = static_cast<const call_single_data*>(p.obj);
  for (uint64_t m = p.arg; m; m &= m - 1) {
    int c = __builtin_ctzll(m);
    if (!csds[c].done) s += " " + std::to_string(c) + (g_cpus[c].irq_disabled ? " (irqs off)" : "");
  }
  return s;
}

void ipi_run_one(cpu_state* c) {
  call_single_data* csd = c->csd_queue;
  c->csd_queue = csd->next;
  int irq = c->irq_disabled;
  c->irq_disabled = 1;  // the handler runs with irqs off, as a real one
  irq_enter();
  memory::acquire_from(csd);
  csd->func(csd->info);
  pending_op ack;
  ack.kind = op::ipi_ack;
  ack.addr = &csd->done;
  ack.size = sizeof(int);
  ack.name = csd->sender;
  point_ex(ack);
  memory::release_to(csd);
  csd->done = 1;
  c->ipis_taken++;
  c->irq_disabled = irq;
  irq_exit();
}

}  // namespace rt

using rt::g_cpu;
using rt::g_cpus;
using rt::g_sched;
using rt::op;

void smp_call_function_many(uint64_t mask, smp_call_func_t func, void* info, bool, const site& loc) {
  cpu_state* self = g_cpu;
  uint64_t targets = mask & rt::online_mask();
  if (self) targets &= ~(uint64_t{1} << self->id);
  if (!g_sched) {
    for (uint64_t m = targets; m; m &= m - 1) rt::run_on_behalf(&g_cpus[__builtin_ctzll(m)], func, info);
  } else if (targets) {
    // Under the scheduler only the explorer's CPUs are online: 0 .. MAX_THREADS - 1.
    call_single_data csds[explore::MAX_THREADS];
    rt::sched_point(op::ipi_send, nullptr, 0, loc, targets);
    for (uint64_t m = targets; m; m &= m - 1) {
      int cpu = __builtin_ctzll(m);
      call_single_data* csd = &csds[cpu];
      csd->func = func;
      csd->info = info;
      csd->done = 0;
      csd->sender = loc.function_name();
      memory::release_to(csd);
      rt::csd_enqueue(&g_cpus[cpu], csd);
    }
    if (self && (mask >> self->id & 1)) {
      unsigned long flags = local_irq_save(loc);
      func(info);
      local_irq_restore(flags, loc);
    }
    rt::sched_point(op::ipi_wait, nullptr, 0, loc, targets, csds);
    for (uint64_t m = targets; m; m &= m - 1) memory::acquire_from(&csds[__builtin_ctzll(m)]);
    return;
  }
  if (self && (mask >> self->id & 1)) {
    unsigned long flags = local_irq_save(loc);
    func(info);
    local_irq_restore(flags, loc);
  }
}

}  // namespace sync
GUPFAST_NS_END
