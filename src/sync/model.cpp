// Model backend: what each seam operation does, under the explorer's scheduler (a scheduling
// point first, then the operation at once) and in direct mode (the operation at once).
//
// Blocking is a condition on the pending operation (op_enabled): a fiber waiting for a lock,
// an IPI acknowledgement, a grace period or rcu_barrier is simply not runnable, and the
// scheduler reports a deadlock when nothing is. Every change that another fiber can observe
// happens inside the point that declares it (op_footprint), which is what makes the search's
// dependence relation sound.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "sync/model_rt.h"

GUPFAST_NS_BEGIN
namespace sync {

struct rwsem_access {
  static int64_t& readers(rw_semaphore* s) { return s->readers_; }
  static int64_t& writer(rw_semaphore* s) { return s->writer_; }
};
static_assert(sizeof(rw_semaphore) == 2 * sizeof(int64_t));

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
      "start", "idle",
  };
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(op::NR_OPS));
  return names[static_cast<int>(k)];
}

namespace {

using explore::detail::ACC_ADD;
using explore::detail::ACC_READ;
using explore::detail::ACC_WRITE;
using explore::detail::footprint;
using explore::detail::NR_TASKS;

constexpr int MAIN_SLOT = NR_TASKS;  // locks held by the explorer's own stack

// ---- locks held, per task: released when an execution is cut short ------------------------------
enum class hold : uint8_t { spin, read, write };
struct held {
  const void* lock;
  hold how;
};
GUPFAST_WORLD std::vector<held> g_held[NR_TASKS + 1];

int slot() {
  int t = current_task();
  return t < 0 ? MAIN_SLOT : t;
}
void hold_add(const void* l, hold how) { g_held[slot()].push_back({l, how}); }
void hold_drop(const void* l, hold how) {
  // Usually the caller's own; a lock may be released by another CPU than its taker.
  for (int k = -1; k <= NR_TASKS; k++) {
    int s = k < 0 ? slot() : k;
    for (size_t i = g_held[s].size(); i-- > 0;)
      if (g_held[s][i].lock == l && g_held[s][i].how == how) {
        g_held[s].erase(g_held[s].begin() + static_cast<long>(i));
        return;
      }
  }
}
// 1: the explorer's stack; task t: t + 2.
uint32_t owner_tag() { return static_cast<uint32_t>(current_task() + 2); }
std::string owner_name(int64_t v) {
  if (v == 1) return "setup";
  int t = static_cast<int>(v) - 2;
  if (t == explore::detail::RCU_TASK) return "rcu callbacks";
  if (explore::detail::is_irq_task(t)) return "cpu " + std::to_string(explore::detail::fiber_of(t)) + " interrupt";
  return "thread " + std::to_string(t);
}

// ---- RCU: grace periods and callbacks ----------------------------------------------------------
// A grace period is the set of CPUs inside a read-side section when it started, with how many
// sections each had left by then; it is over when each has left one more.
struct grace_period {
  uint64_t cpus = 0;
  uint64_t qs[NR_CPUS];
};
GUPFAST_WORLD std::vector<grace_period> g_gps;
struct callback {
  rcu_head* head;
  uint64_t gp;
  uint64_t seq;
};
GUPFAST_WORLD std::vector<callback> g_cbs;  // queued, oldest first
GUPFAST_WORLD uint64_t g_cb_seq = 0;        // callbacks queued so far
GUPFAST_WORLD int g_cbq_word;  // names the callback queue in footprints
GUPFAST_WORLD int g_nocpu_rcu_nesting = 0;  // direct mode, a thread that is not a CPU

uint64_t online_mask() {
  uint64_t m = 0;
  for (int i = 0; i < NR_CPUS; i++)
    if (g_cpus[i].online) m |= uint64_t{1} << i;
  return m;
}

uint64_t gp_start() {
  grace_period gp;
  for (int i = 0; i < NR_CPUS; i++)
    if (g_cpus[i].online && g_cpus[i].rcu_nesting > 0) {
      gp.cpus |= uint64_t{1} << i;
      gp.qs[i] = g_cpus[i].rcu_qs;
    }
  g_gps.push_back(gp);
  return g_gps.size() - 1;
}
bool gp_done(uint64_t id) {
  const grace_period& gp = g_gps[id];
  for (uint64_t m = gp.cpus; m; m &= m - 1) {
    int c = __builtin_ctzll(m);
    if (g_cpus[c].online && g_cpus[c].rcu_qs == gp.qs[c]) return false;
  }
  return true;
}
void all_rcu_words(footprint& fp, uint64_t cpus, uint8_t mode) {
  for (uint64_t m = cpus; m; m &= m - 1) fp.add(&g_cpus[__builtin_ctzll(m)].rcu_nesting, sizeof(int), mode);
}

// ---- IPIs ----------------------------------------------------------------------------------------
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

struct rwsem_fields {
  int64_t readers;
  int64_t writer;
};
const rwsem_fields* fields(const void* sem) { return static_cast<const rwsem_fields*>(sem); }

GUPFAST_WORLD uint64_t g_rng = 0x9e3779b97f4a7c15ull;
yield_hook_t g_hook = nullptr;
void* g_hook_ctx = nullptr;
GUPFAST_WORLD unsigned long g_direct_relax = 0;

}  // namespace

// ---- what the scheduler asks ----------------------------------------------------------------------
bool op_enabled(const pending_op& p, int) {
  switch (p.kind) {
    case op::lock:
      return *static_cast<const uint32_t*>(p.addr) == 0;
    case op::down_read:
      return fields(p.addr)->writer == 0;
    case op::down_write:
      return fields(p.addr)->writer == 0 && fields(p.addr)->readers == 0;
    case op::ipi_wait: {
      auto* csds = static_cast<const call_single_data*>(p.obj);
      for (uint64_t m = p.arg; m; m &= m - 1)
        if (!csds[__builtin_ctzll(m)].done) return false;
      return true;
    }
    case op::gp_wait:
      return gp_done(p.arg);
    case op::rcu_barrier:
      for (const callback& cb : g_cbs)
        if (cb.seq < p.arg) return false;
      return true;
    case op::rcu_callback:
      return rcu_callback_ready();
    case op::idle:
      return false;
    default:
      return true;
  }
}

void op_footprint(const pending_op& p, int cpu, footprint& fp) {
  const rwsem_fields* s = fields(p.addr);
  switch (p.kind) {
    case op::load:
      fp.add(p.addr, p.size, ACC_READ);
      break;
    case op::load_range:
      fp.add_range(p.addr, static_cast<unsigned>(p.arg), ACC_READ);
      break;
    case op::store_range:
      fp.add_range(p.addr, static_cast<unsigned>(p.arg), ACC_WRITE);
      break;
    case op::store:
    case op::rmw:
    case op::lock:
    case op::trylock:
    case op::unlock:
      fp.add(p.addr, p.size ? p.size : 4, ACC_WRITE);
      break;
    case op::down_read:
    case op::down_read_trylock:
      fp.add(&s->writer, 8, ACC_READ);
      fp.add(&s->readers, 8, ACC_ADD);
      break;
    case op::up_read:
      fp.add(&s->readers, 8, ACC_ADD);
      break;
    case op::down_write:
    case op::down_write_trylock:
      fp.add(&s->writer, 8, ACC_WRITE);
      fp.add(&s->readers, 8, ACC_READ);
      break;
    case op::up_write:
      fp.add(&s->writer, 8, ACC_WRITE);
      break;
    case op::irq_off:
    case op::irq_on:
      if (cpu >= 0) fp.add(&g_cpus[cpu].irq_disabled, sizeof(int), ACC_WRITE);
      break;
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
    case op::rcu_read_lock:
    case op::rcu_read_unlock:
      if (cpu >= 0) fp.add(&g_cpus[cpu].rcu_nesting, sizeof(int), ACC_WRITE);
      break;
    case op::synchronize_rcu:
      all_rcu_words(fp, online_mask(), ACC_READ);
      break;
    case op::gp_wait:
      all_rcu_words(fp, g_gps[p.arg].cpus, ACC_READ);
      break;
    case op::call_rcu:
    case op::rcu_callback:
      all_rcu_words(fp, online_mask(), ACC_READ);
      fp.add(&g_cbq_word, sizeof(int), ACC_WRITE);
      break;
    case op::rcu_barrier:
      fp.add(&g_cbq_word, sizeof(int), ACC_READ);
      break;
    default:  // fence, yield, start, idle: no memory
      break;
  }
}

std::string describe_wait(const pending_op& p, int) {
  char buf[160];
  switch (p.kind) {
    case op::lock: {
      uint32_t v = *static_cast<const uint32_t*>(p.addr);
      std::snprintf(buf, sizeof buf, "spin_lock %p held by %s", p.addr, owner_name(v).c_str());
      return buf;
    }
    case op::down_read:
    case op::down_write: {
      const rwsem_fields* s = fields(p.addr);
      std::snprintf(buf, sizeof buf, "%s %p (readers %lld, writer %s)", p.kind == op::down_read ? "down_read" : "down_write",
                    p.addr, static_cast<long long>(s->readers), s->writer ? owner_name(s->writer).c_str() : "none");
      return buf;
    }
    case op::ipi_wait: {
      std::string s = "IPI acknowledgement from CPU";
      auto* csds = static_cast<const call_single_data*>(p.obj);
      for (uint64_t m = p.arg; m; m &= m - 1) {
        int c = __builtin_ctzll(m);
        if (!csds[c].done) s += " " + std::to_string(c) + (g_cpus[c].irq_disabled ? " (irqs off)" : "");
      }
      return s;
    }
    case op::gp_wait: {
      std::string s = "grace period; in rcu_read_lock: CPU";
      const grace_period& gp = g_gps[p.arg];
      for (uint64_t m = gp.cpus; m; m &= m - 1) {
        int c = __builtin_ctzll(m);
        if (g_cpus[c].rcu_qs == gp.qs[c]) s += " " + std::to_string(c);
      }
      return s;
    }
    case op::rcu_barrier:
      return "rcu_barrier (callbacks still queued)";
    case op::relax:
      return "cpu_relax (spinning: nothing it reads changes)";
    case op::idle:
      return "idle";
    default:
      return op_name(p.kind);
  }
}

void ipi_run_one(cpu_state* c) {
  call_single_data* csd = c->csd_queue;
  c->csd_queue = csd->next;
  int irq = c->irq_disabled;
  c->irq_disabled = 1;  // the handler runs with irqs off, as a real one
  irq_enter();
  csd->func(csd->info);
  pending_op ack;
  ack.kind = op::ipi_ack;
  ack.addr = &csd->done;
  ack.size = sizeof(int);
  ack.name = csd->sender;
  point_ex(ack);
  csd->done = 1;
  c->ipis_taken++;
  c->irq_disabled = irq;
  irq_exit();
}

bool rcu_callback_ready() {
  for (const callback& cb : g_cbs)
    if (gp_done(cb.gp)) return true;
  return false;
}

void rcu_run_one_callback() {
  for (size_t i = 0; i < g_cbs.size(); i++)
    if (gp_done(g_cbs[i].gp)) {
      rcu_head* h = g_cbs[i].head;
      g_cbs.erase(g_cbs.begin() + static_cast<long>(i));
      h->func(h);
      return;
    }
}

void rcu_run_callbacks_direct(bool all) {
  for (;;) {
    size_t i = 0;
    while (i < g_cbs.size() && !all && !gp_done(g_cbs[i].gp)) i++;
    if (i == g_cbs.size()) return;
    rcu_head* h = g_cbs[i].head;
    g_cbs.erase(g_cbs.begin() + static_cast<long>(i));
    cpu_state* saved = g_cpu;
    g_cpu = nullptr;  // as the callback fiber: no CPU
    h->func(h);
    g_cpu = saved;
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
  g_gps.clear();
  g_cbs.clear();
  g_cb_seq = 0;
  for (auto& h : g_held) h.clear();
  g_rng = seed * 0x9e3779b97f4a7c15ull + 1;
  g_direct_relax = 0;
}

void model_end() {
  // Callbacks teardown left queued are dropped: the machine they would touch is gone. The
  // buffers go too: between executions the model's globals hold no memory (explore/world.h).
  for (auto& c : g_cpus) c = cpu_state{};
  g_cpu = nullptr;
  std::vector<grace_period>().swap(g_gps);
  std::vector<callback>().swap(g_cbs);
  for (auto& h : g_held) std::vector<held>().swap(h);
}

void model_task_dead(int task, int cpu) {
  for (auto it = g_held[task].rbegin(); it != g_held[task].rend(); ++it) {
    switch (it->how) {
      case hold::spin:
        *static_cast<uint32_t*>(const_cast<void*>(it->lock)) = 0;
        break;
      case hold::read:
        rwsem_access::readers(static_cast<rw_semaphore*>(const_cast<void*>(it->lock)))--;
        break;
      case hold::write:
        rwsem_access::writer(static_cast<rw_semaphore*>(const_cast<void*>(it->lock))) = 0;
        break;
    }
  }
  g_held[task].clear();
  if (task < explore::MAX_THREADS && cpu >= 0) {
    cpu_state& c = g_cpus[cpu];
    if (c.rcu_nesting) {
      c.rcu_nesting = 0;
      c.rcu_qs++;
    }
    c.irq_disabled = 0;
    c.csd_queue = nullptr;
  }
}

}  // namespace rt

using rt::g_cpu;
using rt::g_cpus;
using rt::g_sched;
using rt::op;
using rt::pending_op;

namespace {
void sched_point(op k, const void* addr, unsigned size, const site& loc, uint64_t arg = 0, void* obj = nullptr,
                 const char* name = nullptr) {
  pending_op p;
  p.kind = k;
  p.addr = addr;
  p.size = static_cast<uint8_t>(size);
  p.loc = loc;
  p.arg = arg;
  p.obj = obj;
  p.name = name;
  rt::point_ex(p);
}
}  // namespace

// ---- yield points, randomness ---------------------------------------------------------------
bool g_yield_hooked = false;

void point_range(op k, const void* addr, size_t bytes, const site& loc) {
  sched_point(k, addr, 0, loc, bytes);
}

void yield_point_slow(const char* name) {
  if (rt::g_hook) rt::g_hook(name, rt::g_hook_ctx);
  if (g_sched) sched_point(op::yield, nullptr, 0, site{}, 0, nullptr, name);
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
    sched_point(op::relax, nullptr, 0, loc);
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
  if (g_sched) sched_point(op::irq_off, &c->irq_disabled, sizeof(int), loc);
  unsigned long old = c->irq_disabled;
  c->irq_disabled = 1;
  return old;
}

void local_irq_enable(const site& loc) {
  cpu_state* c = g_cpu;
  if (!c) return;
  if (g_sched) sched_point(op::irq_on, &c->irq_disabled, sizeof(int), loc);
  c->irq_disabled = 0;
  // Under the scheduler a queued IPI interrupts at this CPU's next scheduling point; in
  // direct mode none can be queued (they run at once).
}

// ---- IPIs ---------------------------------------------------------------------------------------
void smp_call_function_many(uint64_t mask, smp_call_func_t func, void* info, bool, const site& loc) {
  cpu_state* self = g_cpu;
  uint64_t targets = mask & rt::online_mask();
  if (self) targets &= ~(uint64_t{1} << self->id);
  if (!g_sched) {
    for (uint64_t m = targets; m; m &= m - 1) rt::run_on_behalf(&g_cpus[__builtin_ctzll(m)], func, info);
  } else if (targets) {
    // Under the scheduler only the explorer's CPUs are online: 0 .. MAX_THREADS - 1.
    call_single_data csds[explore::MAX_THREADS];
    sched_point(op::ipi_send, nullptr, 0, loc, targets);
    for (uint64_t m = targets; m; m &= m - 1) {
      int cpu = __builtin_ctzll(m);
      call_single_data* csd = &csds[cpu];
      csd->func = func;
      csd->info = info;
      csd->done = 0;
      csd->sender = loc.function_name();
      rt::csd_enqueue(&g_cpus[cpu], csd);
    }
    if (self && (mask >> self->id & 1)) {
      unsigned long flags = local_irq_save(loc);
      func(info);
      local_irq_restore(flags, loc);
    }
    sched_point(op::ipi_wait, nullptr, 0, loc, targets, csds);
    return;
  }
  if (self && (mask >> self->id & 1)) {
    unsigned long flags = local_irq_save(loc);
    func(info);
    local_irq_restore(flags, loc);
  }
}

// ---- RCU ----------------------------------------------------------------------------------------
void rcu_read_lock(const site& loc) {
  cpu_state* c = g_cpu;
  if (!c) {
    rt::g_nocpu_rcu_nesting++;
    return;
  }
  if (g_sched) sched_point(op::rcu_read_lock, &c->rcu_nesting, sizeof(int), loc);
  c->rcu_nesting++;
}

void rcu_read_unlock(const site& loc) {
  cpu_state* c = g_cpu;
  if (!c) {
    rt::g_nocpu_rcu_nesting--;
    return;
  }
  if (g_sched) sched_point(op::rcu_read_unlock, &c->rcu_nesting, sizeof(int), loc);
  if (--c->rcu_nesting == 0) c->rcu_qs++;
}

void synchronize_rcu(const site& loc) {
  if (!g_sched) {
    // Direct mode: nothing else runs, so no other reader can be inside a section.
    if (g_cpu && g_cpu->rcu_nesting && !rt::unwinding()) rt::direct_stuck("synchronize_rcu inside rcu_read_lock", loc);
    rt::rcu_run_callbacks_direct(false);
    return;
  }
  sched_point(op::synchronize_rcu, nullptr, 0, loc);
  uint64_t gp = rt::gp_start();
  if (!rt::gp_done(gp)) sched_point(op::gp_wait, nullptr, 0, loc, gp);
}

void call_rcu(rcu_head* head, void (*func)(rcu_head*), const site& loc) {
  if (g_sched) sched_point(op::call_rcu, nullptr, 0, loc);
  head->func = func;
  head->gp = rt::gp_start();
  rt::g_cbs.push_back({head, head->gp, rt::g_cb_seq++});
}

void rcu_barrier(const site& loc) {
  if (!g_sched) {
    rt::rcu_run_callbacks_direct(true);
    return;
  }
  sched_point(op::rcu_barrier, nullptr, 0, loc, rt::g_cb_seq);
}

// ---- locks --------------------------------------------------------------------------------------
void spinlock_t::lock(const site& loc) {
  if (g_sched)
    sched_point(op::lock, &v_, sizeof v_, loc);
  else if (v_ && !rt::unwinding())
    rt::direct_stuck("spin_lock of a lock held", loc);
  uint32_t old = v_;
  v_ = rt::owner_tag();
  if (g_sched) {
    rt::after_write(&v_, sizeof v_, old, v_);
    rt::lock_taken(&v_);
  }
  rt::hold_add(this, rt::hold::spin);
}

bool spinlock_t::try_lock(const site& loc) {
  if (g_sched) sched_point(op::trylock, &v_, sizeof v_, loc);
  if (v_) {
    if (g_sched) rt::after_read(&v_, sizeof v_, v_);
    return false;
  }
  v_ = rt::owner_tag();
  if (g_sched) {
    rt::after_write(&v_, sizeof v_, 0, v_);
    rt::lock_taken(&v_);
  }
  rt::hold_add(this, rt::hold::spin);
  return true;
}

void spinlock_t::unlock(const site& loc) {
  if (g_sched) sched_point(op::unlock, &v_, sizeof v_, loc);
  uint32_t old = v_;
  v_ = 0;
  if (g_sched) {
    rt::after_write(&v_, sizeof v_, old, 0);
    rt::lock_released(&v_);
  }
  rt::hold_drop(this, rt::hold::spin);
}

void rw_semaphore::down_read(const site& loc) {
  if (g_sched)
    sched_point(op::down_read, this, 0, loc);
  else if (writer_ && !rt::unwinding())
    rt::direct_stuck("down_read of a semaphore held for write", loc);
  readers_++;
  if (g_sched) rt::after_write(&readers_, 8, static_cast<uint64_t>(readers_ - 1), static_cast<uint64_t>(readers_));
  rt::hold_add(this, rt::hold::read);
}

void rw_semaphore::up_read(const site& loc) {
  if (g_sched) sched_point(op::up_read, this, 0, loc);
  readers_--;
  if (g_sched) rt::after_write(&readers_, 8, static_cast<uint64_t>(readers_ + 1), static_cast<uint64_t>(readers_));
  rt::hold_drop(this, rt::hold::read);
}

void rw_semaphore::down_write(const site& loc) {
  if (g_sched)
    sched_point(op::down_write, this, 0, loc);
  else if ((writer_ || readers_) && !rt::unwinding())
    rt::direct_stuck("down_write of a semaphore held", loc);
  writer_ = rt::owner_tag();
  if (g_sched) rt::after_write(&writer_, 8, 0, static_cast<uint64_t>(writer_));
  rt::hold_add(this, rt::hold::write);
}

void rw_semaphore::up_write(const site& loc) {
  if (g_sched) sched_point(op::up_write, this, 0, loc);
  uint64_t old = static_cast<uint64_t>(writer_);
  writer_ = 0;
  if (g_sched) rt::after_write(&writer_, 8, old, 0);
  rt::hold_drop(this, rt::hold::write);
}

bool rw_semaphore::down_read_trylock(const site& loc) {
  if (g_sched) sched_point(op::down_read_trylock, this, 0, loc);
  if (writer_) {
    if (g_sched) rt::after_read(&writer_, 8, static_cast<uint64_t>(writer_));
    return false;
  }
  readers_++;
  if (g_sched) rt::after_write(&readers_, 8, static_cast<uint64_t>(readers_ - 1), static_cast<uint64_t>(readers_));
  rt::hold_add(this, rt::hold::read);
  return true;
}

bool rw_semaphore::down_write_trylock(const site& loc) {
  if (g_sched) sched_point(op::down_write_trylock, this, 0, loc);
  if (writer_ || readers_) {
    if (g_sched) rt::after_read(writer_ ? &writer_ : &readers_, 8, static_cast<uint64_t>(writer_ ? writer_ : readers_));
    return false;
  }
  writer_ = rt::owner_tag();
  if (g_sched) rt::after_write(&writer_, 8, 0, static_cast<uint64_t>(writer_));
  rt::hold_add(this, rt::hold::write);
  return true;
}

}  // namespace sync
GUPFAST_NS_END
