// Model backend: what each seam operation does, under the explorer's scheduler (a scheduling
// point first, then the operation at once) and in direct mode (the operation at once). This
// file: what the scheduler asks of a pending operation, CPUs, irqs, yield points; locks, IPIs
// and RCU have a file each (model_locks.cpp, model_ipi.cpp, model_rcu.cpp).
//
// Blocking is a condition on the pending operation (op_enabled): a fiber waiting for a lock,
// an IPI acknowledgement, a grace period or rcu_barrier is simply not runnable, and the
// scheduler reports a deadlock when nothing is. Every change that another fiber can observe
// happens inside the point that declares it (op_footprint), which is what makes the search's
// dependence relation sound. Under a memory model the footprints also name the model's own
// state an operation depends on (memory/memory_model.h): the store buffer of the CPU (tso),
// the total order of full fences (weak).
#include <cerrno>
#include <cstdio>
#include <string>

#include "memory/memory_model.h"
#include "memory/tso.h"
#include "sync/model_state.h"

GUPFAST_NS_BEGIN
namespace sync {
namespace rt {

GUPFAST_WORLD cpu_state g_cpus[NR_CPUS];

const char* op_name(op k) {
  static const char* const names[] = {
      "load", "store", "rmw", "load_range", "store_range", "fence", "yield", "relax",
      "lock", "trylock", "unlock",
      "down_read", "up_read", "down_write", "up_write", "down_read_trylock", "down_write_trylock",
      "irq_off", "irq_on",
      "ipi_send", "ipi_wait", "ipi_run", "ipi_ack",
      "rcu_read_lock", "rcu_read_unlock", "synchronize_rcu", "gp_wait", "call_rcu", "rcu_callback", "rcu_barrier",
      "start", "idle", "drain", "flush",
  };
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(op::NR_OPS));
  return names[static_cast<int>(k)];
}

namespace {

GUPFAST_WORLD uint64_t g_rng = 0x9e3779b97f4a7c15ull;
yield_hook_t g_hook = nullptr;
void* g_hook_ctx = nullptr;
GUPFAST_WORLD unsigned long g_direct_relax = 0;

memory::fence fence_of(const pending_op& p) { return static_cast<memory::fence>(p.arg); }
mo order_of(const pending_op& p) { return static_cast<mo>(p.arg); }

// tso: what waits for an empty store buffer (memory/tso.cpp says why each).
bool drains(const pending_op& p) {
  switch (p.kind) {
    case op::fence:
      return fence_of(p) == memory::fence::full;  // the others are compiler barriers on x86
    case op::rmw:
    case op::load_range:
    case op::store_range:
    case op::lock:
    case op::trylock:
    case op::unlock:
    case op::down_read:
    case op::up_read:
    case op::down_write:
    case op::up_write:
    case op::down_read_trylock:
    case op::down_write_trylock:
    case op::ipi_send:
    case op::ipi_ack:
    case op::rcu_read_unlock:
    case op::synchronize_rcu:
    case op::call_rcu:
    case op::rcu_barrier:
    case op::drain:
      return true;
    default:
      return false;
  }
}

// weak: what is a point of the total order of full fences.
bool full_fence(const pending_op& p) {
  switch (p.kind) {
    case op::fence:
      return memory::is_full(fence_of(p));
    case op::rmw:
    case op::store:
      return order_of(p) == seq_cst;
    case op::synchronize_rcu:
    case op::gp_wait:
    case op::call_rcu:
    case op::rcu_callback:
      return true;
    default:
      return false;
  }
}

}  // namespace

uint64_t online_mask() {
  uint64_t m = 0;
  for (int i = 0; i < NR_CPUS; i++)
    if (g_cpus[i].online) m |= uint64_t{1} << i;
  return m;
}

void sched_point(op k, const void* addr, unsigned size, const site& loc, uint64_t arg, void* obj, const char* name) {
  pending_op p;
  p.kind = k;
  p.addr = addr;
  p.size = static_cast<uint8_t>(size);
  p.loc = loc;
  p.arg = arg;
  p.obj = obj;
  p.name = name;
  point_ex(p);
}

// ---- what the scheduler asks ----------------------------------------------------------------------
bool op_enabled(const pending_op& p, int cpu) {
  if (memory::tso_active() && cpu >= 0 && !memory::tso::empty(cpu) && drains(p)) return false;
  switch (p.kind) {
    case op::lock:
    case op::down_read:
    case op::down_write:
      return lock_enabled(p);
    case op::ipi_wait:
      return ipi_enabled(p);
    case op::gp_wait:
    case op::rcu_barrier:
    case op::rcu_callback:
      return rcu_enabled(p);
    case op::idle:
      return false;
    default:
      return true;
  }
}

void op_footprint(const pending_op& p, int cpu, footprint& fp) {
  if (memory::tso_active() && cpu >= 0 && cpu < memory::tso::NR_BUFFERS && drains(p))
    fp.add_own(memory::buffer_word(cpu), ACC_READ);
  if (memory::weak_active() && full_fence(p)) fp.add(memory::fence_word(), 8, ACC_WRITE);
  switch (p.kind) {
    case op::load:
      // tso: a load its own buffer answers reads no memory (its flushes give the same value).
      if (!(memory::tso_active() && memory::tso::forwards(cpu, p.addr, p.size))) fp.add(p.addr, p.size, ACC_READ);
      break;
    case op::load_range:
      fp.add_range(p.addr, static_cast<unsigned>(p.arg), ACC_READ);
      break;
    case op::store_range:
      fp.add_range(p.addr, static_cast<unsigned>(p.arg), ACC_WRITE);
      break;
    case op::store:
      // tso: a store goes into the CPU's buffer; its flush writes memory.
      if (memory::tso_active() && !memory::tso::direct(cpu))
        fp.add_own(memory::tso::store_word(cpu), ACC_WRITE);
      else
        fp.add(p.addr, p.size, ACC_WRITE);
      break;
    case op::rmw:
      fp.add(p.addr, p.size, ACC_WRITE);
      break;
    case op::lock:
    case op::trylock:
    case op::unlock:
    case op::down_read:
    case op::down_read_trylock:
    case op::up_read:
    case op::down_write:
    case op::down_write_trylock:
    case op::up_write:
      lock_footprint(p, fp);
      break;
    case op::irq_off:
    case op::irq_on:
      if (cpu >= 0) fp.add(&g_cpus[cpu].irq_disabled, sizeof(int), ACC_WRITE);
      break;
    case op::ipi_send:
    case op::ipi_wait:
    case op::ipi_ack:
      ipi_footprint(p, cpu, fp);
      break;
    case op::rcu_read_lock:
    case op::rcu_read_unlock:
    case op::synchronize_rcu:
    case op::gp_wait:
    case op::call_rcu:
    case op::rcu_callback:
    case op::rcu_barrier:
      rcu_footprint(p, cpu, fp);
      break;
    default:  // fence, yield, start, idle, drain: no memory
      break;
  }
}

std::string describe_wait(const pending_op& p, int cpu) {
  if (memory::tso_active() && cpu >= 0 && !memory::tso::empty(cpu) && drains(p))
    return std::string(op_name(p.kind)) + " (its store buffer is not empty)";
  switch (p.kind) {
    case op::lock:
    case op::down_read:
    case op::down_write:
      return lock_describe(p);
    case op::ipi_wait:
      return ipi_describe(p);
    case op::gp_wait:
    case op::rcu_barrier:
      return rcu_describe(p);
    case op::relax:
      return "cpu_relax (spinning: nothing it reads changes)";
    case op::idle:
      return "idle";
    default:
      return op_name(p.kind);
  }
}

void model_begin(int ncpus, uint64_t seed) {
  for (int i = 0; i < NR_CPUS; i++) {
    cpu_state& c = g_cpus[i];
    c = cpu_state{};
    c.id = i;
    c.online = i < ncpus;
    c.fiber = i < ncpus ? i : -1;
  }
  g_cpu = &g_cpus[0];
  rcu_begin();
  holds_reset();
  g_rng = seed * 0x9e3779b97f4a7c15ull + 1;
  g_direct_relax = 0;
}

void model_end() {
  // Callbacks teardown left queued are dropped: the machine they would touch is gone. The
  // buffers go too: between executions the model's globals hold no memory (explore/world.h).
  for (auto& c : g_cpus) c = cpu_state{};
  g_cpu = nullptr;
  rcu_end();
  holds_clear();
}

void model_task_dead(int task, int cpu) {
  holds_release(task);
  if (task < explore::MAX_THREADS && cpu >= 0) {
    cpu_state& c = g_cpus[cpu];
    rcu_task_dead(c);
    c.irq_disabled = 0;
    c.csd_queue = nullptr;
  }
}

}  // namespace rt

using rt::g_cpu;
using rt::g_cpus;
using rt::g_sched;
using rt::op;

// ---- yield points, randomness ---------------------------------------------------------------
bool g_yield_hooked = false;

void point_range(op k, const void* addr, size_t bytes, const site& loc) {
  rt::sched_point(k, addr, 0, loc, bytes);
}

void yield_point_slow(const char* name) {
  if (rt::g_hook) rt::g_hook(name, rt::g_hook_ctx);
  if (g_sched) rt::sched_point(op::yield, nullptr, 0, site{}, 0, nullptr, name);
}

void set_amplify(bool, uint64_t seed) noexcept { rt::g_rng = seed * 0x9e3779b97f4a7c15ull + 1; }

void set_yield_hook(yield_hook_t hook, void* ctx) noexcept {
  rt::g_hook_ctx = ctx;
  rt::g_hook = hook;
  g_yield_hooked = hook != nullptr;
}

uint64_t random_u64() noexcept {
  uint64_t& s = rt::g_rng;
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 0x2545f4914f6cdd1dull;
}

void cpu_relax(const site& loc) {
  if (g_sched) {
    rt::sched_point(op::relax, nullptr, 0, loc);
    return;
  }
  if (rt::unwinding()) return;
  // Direct mode: nothing else runs, so a loop that keeps spinning waits forever.
  if (++rt::g_direct_relax > 1000000) rt::direct_stuck("a cpu_relax() loop", loc);
}

// ---- CPUs -------------------------------------------------------------------------------------
cpu_state* cpu_by_id(int id) noexcept { return (id >= 0 && id < NR_CPUS) ? &g_cpus[id] : nullptr; }

uint64_t cpu_online_mask() noexcept { return rt::online_mask(); }

int cpu_online() noexcept {
  if (g_cpu || g_sched) return -EBUSY;
  for (int i = 0; i < NR_CPUS; i++) {
    cpu_state& c = g_cpus[i];
    if (c.online) continue;
    c = cpu_state{};
    c.id = i;
    c.online = 1;
    g_cpu = &c;
    return i;
  }
  return -ENOSPC;
}

void cpu_offline() noexcept {
  if (!g_cpu || g_sched) return;
  g_cpu->online = 0;
  g_cpu->csd_queue = nullptr;
  g_cpu = nullptr;
}

// ---- irqs ---------------------------------------------------------------------------------------
unsigned long local_irq_save(const site& loc) {
  cpu_state* c = g_cpu;
  if (!c) return 1;
  if (g_sched) rt::sched_point(op::irq_off, &c->irq_disabled, sizeof(int), loc);
  unsigned long old = c->irq_disabled;
  c->irq_disabled = 1;
  return old;
}

void local_irq_enable(const site& loc) {
  cpu_state* c = g_cpu;
  if (!c) return;
  if (g_sched) rt::sched_point(op::irq_on, &c->irq_disabled, sizeof(int), loc);
  c->irq_disabled = 0;
  // Under the scheduler a queued IPI interrupts at this CPU's next scheduling point; in
  // direct mode none can be queued (they run at once).
}

}  // namespace sync
GUPFAST_NS_END
