// Model backend: RCU (sync/model.h). Grace periods are computed by the scheduler: a grace
// period is the set of CPUs inside a read-side section when it started, with how many
// sections each had left by then; it is over when each has left one more. synchronize_rcu
// blocks until its grace period is over (gp_wait); call_rcu callbacks run on the callback
// task once theirs is.
//
// Under a memory model (memory/memory_model.h) RCU's guarantee is what orders: a reader
// whose section the grace period waits for happens before what follows the grace period
// (its rcu_read_unlock releases to its CPU's object; the end of the grace period acquires
// from every CPU's), and a reader the grace period does not wait for, because its section
// began after the grace period did, sees what preceded synchronize_rcu / call_rcu (which
// release to the grace-period object that rcu_read_lock acquires from). synchronize_rcu and
// the callbacks are also full fences. Under tso rcu_read_unlock, synchronize_rcu, call_rcu
// and rcu_barrier wait for an empty store buffer (sync/model.cpp, drains()).
#include <string>

#include "memory/memory_model.h"
#include "sync/model_state.h"

GUPFAST_NS_BEGIN
namespace sync {
namespace rt {
namespace {

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
GUPFAST_WORLD int g_cbq_word;               // names the callback queue in footprints
GUPFAST_WORLD int g_nocpu_rcu_nesting = 0;  // direct mode, a thread that is not a CPU
GUPFAST_WORLD int g_gp_object;              // what updaters release to, readers acquire from

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

// A grace period ended for the running task: what the readers did happens before.
void gp_acquire() {
  if (!memory::active()) return;
  for (int i = 0; i < NR_CPUS; i++)
    if (g_cpus[i].online) memory::acquire_from(&g_cpus[i].rcu_nesting);
  memory::barrier(memory::fence::full);
}

void gp_release() {
  if (!memory::active()) return;
  memory::barrier(memory::fence::full);
  memory::release_to(&g_gp_object);
}

}  // namespace

bool rcu_enabled(const pending_op& p) {
  switch (p.kind) {
    case op::gp_wait:
      return gp_done(p.arg);
    case op::rcu_barrier:
      for (const callback& cb : g_cbs)
        if (cb.seq < p.arg) return false;
      return true;
    case op::rcu_callback:
      return rcu_callback_ready();
    default:
      return true;
  }
}

void rcu_footprint(const pending_op& p, int cpu, footprint& fp) {
  switch (p.kind) {
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
    default:
      break;
  }
}

std::string rcu_describe(const pending_op& p) {
  if (p.kind == op::rcu_barrier) return "rcu_barrier (callbacks still queued)";
  std::string s = "grace period; in rcu_read_lock: CPU";
  const grace_period& gp = g_gps[p.arg];
  for (uint64_t m = gp.cpus; m; m &= m - 1) {
    int c = __builtin_ctzll(m);
    if (g_cpus[c].rcu_qs == gp.qs[c]) s += " " + std::to_string(c);
  }
  return s;
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
      memory::acquire_from(h);
      gp_acquire();
      h->func(h);
      memory::release_to(&g_cbq_word);
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

void rcu_begin() {
  g_gps.clear();
  g_cbs.clear();
  g_cb_seq = 0;
}

void rcu_end() {
  std::vector<grace_period>().swap(g_gps);
  std::vector<callback>().swap(g_cbs);
}

void rcu_task_dead(cpu_state& c) {
  if (c.rcu_nesting) {
    c.rcu_nesting = 0;
    c.rcu_qs++;
  }
}

}  // namespace rt

using rt::g_cpu;
using rt::g_sched;
using rt::op;

void rcu_read_lock(const site& loc) {
  cpu_state* c = g_cpu;
  if (!c) {
    rt::g_nocpu_rcu_nesting++;
    return;
  }
  if (g_sched) {
    rt::sched_point(op::rcu_read_lock, &c->rcu_nesting, sizeof(int), loc);
    if (c->rcu_nesting == 0) memory::acquire_from(&rt::g_gp_object);
  }
  c->rcu_nesting++;
}

void rcu_read_unlock(const site& loc) {
  cpu_state* c = g_cpu;
  if (!c) {
    rt::g_nocpu_rcu_nesting--;
    return;
  }
  if (g_sched) {
    rt::sched_point(op::rcu_read_unlock, &c->rcu_nesting, sizeof(int), loc);
    if (c->rcu_nesting == 1) memory::release_to(&c->rcu_nesting);
  }
  if (--c->rcu_nesting == 0) c->rcu_qs++;
}

void synchronize_rcu(const site& loc) {
  if (!g_sched) {
    // Direct mode: nothing else runs, so no other reader can be inside a section.
    if (g_cpu && g_cpu->rcu_nesting && !rt::unwinding()) rt::direct_stuck("synchronize_rcu inside rcu_read_lock", loc);
    rt::rcu_run_callbacks_direct(false);
    return;
  }
  rt::sched_point(op::synchronize_rcu, nullptr, 0, loc);
  rt::gp_release();
  uint64_t gp = rt::gp_start();
  if (!rt::gp_done(gp)) rt::sched_point(op::gp_wait, nullptr, 0, loc, gp);
  rt::gp_acquire();
}

void call_rcu(rcu_head* head, void (*func)(rcu_head*), const site& loc) {
  if (g_sched) {
    rt::sched_point(op::call_rcu, nullptr, 0, loc);
    rt::gp_release();
    memory::release_to(head);
  }
  head->func = func;
  head->gp = rt::gp_start();
  rt::g_cbs.push_back({head, head->gp, rt::g_cb_seq++});
}

void rcu_barrier(const site& loc) {
  if (!g_sched) {
    rt::rcu_run_callbacks_direct(true);
    return;
  }
  rt::sched_point(op::rcu_barrier, nullptr, 0, loc, rt::g_cb_seq);
  memory::acquire_from(&rt::g_cbq_word);
}

}  // namespace sync
GUPFAST_NS_END
