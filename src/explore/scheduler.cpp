// The explorer's scheduler: one execution of a program, and the decision at every scheduling
// point (explore/scheduler.h has the overview).
//
// The fiber that reaches a scheduling point makes the decision itself: it asks the driver
// (the search) which task runs the next transition, records the step, and switches to that
// task's fiber if it is another one (fibers.cpp); the chosen task returns from its own point
// and performs its operation. An interrupt task runs on its CPU's fiber, nested in the
// thread's pending point. Nothing runs between the decision and the operation, so the
// operations of all tasks form one sequence (sequential consistency).
//
// Cost. A depth-first search runs each execution from the start and mostly repeats the
// previous one: it differs from the deepest decision it changes onward. The driver says how
// many first steps repeat (driver::replayed_steps); those are replayed from the schedule log
// without asking the driver, computing enabled sets or footprints, or recording the trace.
// Only the new steps pay for the search's bookkeeping. The trace a report shows is recorded
// only when asked for (tracing): a search that finds a violation runs that execution again
// with tracing on (search.cpp).
#include "explore/scheduler.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "explore/sched_state.h"
#include "memory/tso.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

exec_state g_x;
bool g_in_explorer = false;

namespace {

// ---- enabledness and footprints ----------------------------------------------------------------
bool op_ready(const task_rec& t, int task) {
  if (t.p.kind == op::relax) return relax_enabled(t, cpu_index(task));
  return sync::rt::op_enabled(t.p, cpu_index(task));
}

bool enabled(int task) {
  const fiber_rec& f = g_x.f[fiber_of(task)];
  if (!f.alive) return false;
  if (is_flush_task(task)) return !memory::tso::empty(fiber_of(task));
  if (is_irq_task(task)) return f.in_irq ? op_ready(g_x.t[task], task) : sync::rt::ipi_deliverable(f.cpu);
  if (task < MAX_THREADS && (f.in_irq || sync::rt::ipi_deliverable(f.cpu))) return false;  // interrupted
  return op_ready(g_x.t[task], task);
}

task_mask enabled_set() {
  task_mask m = 0;
  for (task_mask a = g_x.tasks; a; a &= a - 1) {
    int i = __builtin_ctz(a);
    if (enabled(i)) m |= task_mask{1} << i;
  }
  return m;
}

// Every thread has returned (the threads phase ends once, moreover, nothing can run: callbacks
// whose grace period is over and queued IPIs are part of the phase, where the search sees them).
bool all_threads_done() {
  for (int i = 0; i < g_x.nthreads; i++)
    if (!g_x.f[i].body_done) return false;
  return true;
}

void compute_footprint(int task, footprint& fp) {
  fp.clear();
  const fiber_rec& f = g_x.f[fiber_of(task)];
  if (!f.alive) return;
  if (is_flush_task(task)) {  // the buffer, and the memory its oldest store goes to
    int cpu = fiber_of(task);
    if (memory::tso::empty(cpu)) return;
    fp.add_own(memory::buffer_word(cpu), ACC_WRITE);
    fp.add_own(memory::tso::flush_word(cpu), ACC_WRITE);
    fp.add(memory::tso::front_addr(cpu), memory::tso::front_size(cpu), ACC_WRITE);
    return;
  }
  if (is_irq_task(task) && !f.in_irq) {
    // Taking a queued IPI. With none queued it has no next transition: sending one is what
    // makes it one, and the send is dependent with everything it could race with.
    if (f.cpu->csd_queue) {
      fp.add(&f.cpu->csd_queue, sizeof(void*), ACC_WRITE);
      fp.add(&f.cpu->irq_disabled, sizeof(int), ACC_READ);
    }
    return;
  }
  const task_rec& t = g_x.t[task];
  if (t.p.kind == op::relax)
    relax_footprint(t, fp);
  else
    sync::rt::op_footprint(t.p, cpu_index(task), fp);
  // With irqs on, a thread cannot run while its CPU has an IPI queued: it depends on the queue.
  if (task < MAX_THREADS && !f.cpu->irq_disabled) fp.add(&f.cpu->csd_queue, sizeof(void*), ACC_READ);
}

// The step's entry in the trace, while tracing.
void trace_step(int c, bool pre) {
  exec_state& x = g_x;
  const fiber_rec& f = x.f[fiber_of(c)];
  const task_rec& tr = x.t[c];
  raw_step r{};
  r.task = static_cast<uint8_t>(c);
  r.preempted = pre;
  r.note = x.t[fiber_of(c) == RCU_TASK ? RCU_TASK : fiber_of(c)].note;
  if (is_flush_task(c)) {
    r.kind = op::flush;
    r.addr = memory::tso::front_addr(fiber_of(c));
    r.size = static_cast<uint8_t>(memory::tso::front_size(fiber_of(c)));
    r.name = "store buffer";
  } else if (is_irq_task(c) && !f.in_irq) {
    r.kind = op::ipi_run;
    r.addr = f.cpu->csd_queue;
    r.name = f.cpu->csd_queue->sender;
  } else {
    r.kind = tr.p.kind;
    r.addr = tr.p.addr;
    r.size = tr.p.size;
    r.loc = tr.p.loc;
    r.name = tr.p.name;
    if (tr.p.kind == op::ipi_send || tr.p.kind == op::ipi_wait) r.value = tr.p.arg;
  }
  x.steps.push_back(r);
}

// A step the previous execution also took: the log says which task.
int replay_step() {
  exec_state& x = g_x;
  const log_entry e = x.log[x.out.steps];
  int c = e.task;
  if (!enabled(c))
    throw std::runtime_error("explore: the program does not behave the same when run again (step " +
                             std::to_string(x.out.steps) + "): its threads must depend only on the schedule");
  if (e.decision) {
    x.out.choices.push_back(static_cast<uint8_t>(c));
    x.depth++;
  }
  x.out.preemptions += e.preempted;
  if (x.tracing) trace_step(c, e.preempted);
  x.out.steps++;
  if (!is_flush_task(c)) {
    x.last = c;
    x.chosen = c;
  }
  return c;
}

// A flush task's transition, which the scheduler performs itself: the CPU's oldest buffered
// store reaches memory (a spinning task waiting for any write may go on).
void run_flush(int task) {
  exec_state& x = g_x;
  const void* addr;
  unsigned size;
  uint64_t v;
  memory::tso::flush(fiber_of(task), &addr, &size, &v);
  x.write_epoch++;
  if (x.tracing) x.steps.back().value = v;
}

// Run fn (world code) in direct mode on the explorer's stack as CPU 0; a violation or an
// exception ends it.
template <class F>
void direct_phase(F&& fn) {
  try {
    world_code();
    fn();
    world::set_allocating(false);
  } catch (const abort_execution&) {
    world::set_allocating(false);
    g_x.aborted = true;
  } catch (const std::exception& e) {
    world::set_allocating(false);
    record_violation("exception", std::string("setup/finish/teardown threw: ") + e.what());
  }
}

// Is there a snapshot of this program's world after a setup with this seed?
bool have_snapshot(const program& prog, uint64_t seed) {
  return g_x.snap.valid && g_x.snap_prog == &prog && g_x.snap.seed == seed;
}

}  // namespace

const footprint& pending_footprint(int task, uint64_t* version_out) {
  const fiber_rec& f = g_x.f[fiber_of(task)];
  fp_cache& c = g_x.fpc[task];
  const void* csdq = f.cpu ? f.cpu->csd_queue : nullptr;
  int irq = f.cpu ? f.cpu->irq_disabled : 0;
  // tso: a thread's footprint also depends on its CPU's buffer (store forwarding), which its
  // flushes change.
  uint64_t version = is_flush_task(task) ? memory::tso::front_gen(fiber_of(task)) : g_x.t[task].version;
  if (memory::tso_active() && !is_flush_task(task) && fiber_of(task) < memory::tso::NR_BUFFERS)
    version = version * 0x100000001b3ull + memory::tso::front_gen(fiber_of(task));
  if (!c.valid || c.version != version || c.csdq != csdq || c.irq != irq || c.in_irq != f.in_irq || !f.alive) {
    compute_footprint(task, c.fp);
    static uint64_t gens = 0;
    c.gen = ++gens;
    c.valid = f.alive;
    c.version = version;
    c.csdq = csdq;
    c.irq = irq;
    c.in_irq = f.in_irq;
  }
  if (version_out) *version_out = c.gen;
  return c.fp;
}

bool task_enabled(int task) { return enabled(task); }
bool task_alive(int task) { return g_x.f[fiber_of(task)].alive; }
task_mask program_tasks() { return g_x.tasks; }

namespace {

// One step's decision (a flush task's included).
int decide_one() {
  exec_state& x = g_x;
  if (x.out.steps < x.replay_until) return replay_step();
  task_mask en = enabled_set();
  if (!en) {
    x.drv->final_state();
    if (all_threads_done()) return PHASE_END;
    stuck();
  }
  if (x.out.steps >= x.max_steps) {  // the step budget: inconclusive, never a verdict
    x.out.kind = outcome::cut;
    abort_now();
  }
  decision d;
  d.enabled = en;
  d.last = x.last;
  d.last_enabled = x.last >= 0 && (en >> x.last & 1);
  d.step = x.out.steps;
  d.depth = x.depth;
  int c;
  int depth = -1;
  if ((en & (en - 1)) == 0) {
    c = __builtin_ctz(en);
  } else {
    c = x.drv->choose(d);
    if (c < 0) {
      x.out.kind = outcome::pruned;
      abort_now();
    }
    if (c >= NR_TASKS || !(en >> c & 1)) {
      std::fprintf(stderr, "gupfast explore: the search chose task %d, which cannot run\n", c);
      std::abort();
    }
    x.out.choices.push_back(static_cast<uint8_t>(c));
    depth = x.depth++;
  }
  bool pre = c != x.last && d.last_enabled && !is_flush_task(c);
  if (pre) x.out.preemptions++;
  transition t;
  t.step = x.out.steps;
  t.task = c;
  t.last = x.last;
  t.preempted = pre;
  t.depth = depth;
  t.fp = &pending_footprint(c);
  x.drv->executed(t);
  x.log.push_back({static_cast<uint8_t>(c), depth >= 0, pre, x.vpos});
  if (x.tracing) trace_step(c, pre);
  x.out.steps++;
  if (!is_flush_task(c)) {
    x.last = c;
    x.chosen = c;
  }
  return c;
}

}  // namespace

// The decision at a scheduling point (or at the start of the threads phase). Returns the task
// that executes the next transition, or PHASE_END when every thread has returned and nothing is
// left to run. Flushes chosen on the way are performed here.
int decide() {
  for (;;) {
    int c = decide_one();
    if (c < 0 || !is_flush_task(c)) return c;
    run_flush(c);
  }
}

// The memory model asks which store a load reads (sync/model.h).
unsigned choose_value(uint32_t mask) {
  exec_state& x = g_x;
  if ((mask & (mask - 1)) == 0) return static_cast<unsigned>(__builtin_ctz(mask));
  unsigned k;
  uint64_t s = x.out.steps - 1;  // the transition making the load
  if (s < x.replay_until) {
    k = x.vlog[x.vpos++];
  } else {
    value_decision d;
    d.candidates = mask;
    d.step = s;
    d.depth = x.depth;
    k = x.drv->choose_value(d);
    if (k >= 32 || !(mask >> k & 1)) {
      std::fprintf(stderr, "gupfast explore: the search chose store %u, which the load cannot read\n", k);
      std::abort();
    }
    x.vlog.push_back(static_cast<uint8_t>(k));
    x.vpos++;
  }
  x.out.choices.push_back(static_cast<uint8_t>(k));
  x.depth++;
  if (k) x.out.stale++;
  if (x.tracing && !x.steps.empty()) x.steps.back().stale = static_cast<uint8_t>(k);
  return k;
}

outcome run_execution(const program& prog, driver& drv, uint64_t seed, uint64_t max_steps, bool tracing,
                      memory::model mem) {
  exec_state& x = g_x;
  x.prog = &prog;
  x.drv = &drv;
  x.max_steps = max_steps;
  x.nthreads = prog.nthreads;
  x.tasks = task_mask{1} << RCU_TASK;
  for (int i = 0; i < prog.nthreads; i++) {
    x.tasks |= task_mask{1} << i | task_mask{1} << irq_task(i);
    if (mem == memory::model::tso) x.tasks |= task_mask{1} << flush_task(i);
  }
  if (mem != x.mem) x.log.clear();  // the log is one model's
  x.mem = mem;
  x.running = x.from = MAIN;
  x.last = -1;
  x.threads_phase = x.unwinding = x.aborted = false;
  x.depth = 0;
  x.write_epoch = 0;
  x.lock_versions.clear();
  x.replay_until = std::min<uint64_t>(drv.replayed_steps(), x.log.size());
  x.vlog.resize(x.replay_until < x.log.size() ? x.log[x.replay_until].vpos : x.vlog.size());
  x.vpos = 0;
  x.log.resize(x.replay_until);
  x.tracing = tracing;
  x.main_note = 0;
  x.steps.clear();
  x.notes.clear();
  x.notes.emplace_back();
  x.out = outcome{};
  x.chosen = -1;
  for (auto& c : x.fpc) c.valid = false;
  for (auto& f : x.f) {
    f.alive = false;
    f.body_done = false;
    f.in_irq = false;
  }
  if (prog.snapshot && g_x.snap.valid && !have_snapshot(prog, seed)) end_search(*g_x.snap_prog);
  bool from_snapshot = prog.snapshot && have_snapshot(prog, seed);
  if (prog.snapshot && !from_snapshot) world::reset();  // a new world: before anything is set in it
  g_in_explorer = true;
  sync::rt::model_begin(prog.nthreads, seed);

  if (from_snapshot) {
    world::restore(x.snap);
  } else {
    direct_phase([&] {
      if (prog.setup) prog.setup();
      sync::rt::rcu_run_callbacks_direct(false);
    });
    if (prog.snapshot && !x.aborted) {
      world::take(&x.snap, seed);
      x.snap_prog = &prog;
    }
  }
  if (!x.aborted) {
    for (int i = 0; i < prog.nthreads; i++) create_fiber(i, pending_op{op::start});
    create_fiber(RCU_TASK, pending_op{op::rcu_callback});
    x.threads_phase = true;
    sync::rt::g_sched = true;
    memory::begin_threads(mem);
    try {
      int c = decide();
      if (c != PHASE_END) switch_to(fiber_of(c));
    } catch (const abort_execution&) {
    } catch (const std::exception& e) {  // the replayed schedule does not fit (replay_step)
      record_violation("exception", e.what());
    }
    memory::end_threads();
    sync::rt::g_sched = false;
    x.threads_phase = false;
    sync::rt::g_cpu = cpu_of(MAIN);
    if (!x.aborted) {
      direct_phase([&] {
        sync::rt::rcu_run_callbacks_direct(false);
        if (prog.finish) prog.finish();
      });
    }
    unwind_fibers();
    for (int i = 0; i < NR_TASKS; i++) sync::rt::model_task_dead(i, cpu_index(i));
  }
  sync::rt::g_cpu = cpu_of(MAIN);
  if (!have_snapshot(prog, seed)) {  // else the snapshot is the next execution's start
    direct_phase([&] {
      if (prog.teardown) prog.teardown();
    });
    if (prog.snapshot) world::stop_watching();
  }
  sync::rt::model_end();
  g_in_explorer = false;
  return std::move(x.out);
}

void end_search(const program& prog) {
  exec_state& x = g_x;
  if (!x.snap.valid || x.snap_prog != &prog) return;
  const program* saved = x.prog;
  x.prog = &prog;
  g_in_explorer = true;
  sync::rt::model_begin(prog.nthreads, x.snap.seed);
  world::restore(x.snap);
  sync::rt::g_cpu = cpu_of(MAIN);
  direct_phase([&] {
    if (prog.teardown) prog.teardown();
  });
  sync::rt::model_end();
  g_in_explorer = false;
  world::stop_watching();
  x.snap = world::snapshot{};
  x.snap_prog = nullptr;
  x.prog = saved;
}

}  // namespace explore::detail

// ---- the scheduling points (declared in sync/model.h and sync/model_rt.h) ---------------------
namespace sync::rt {

bool g_sched = false;
cpu_state* g_cpu = nullptr;

void point_ex(const pending_op& p) {
  using namespace explore::detail;
  exec_state& x = g_x;
  int me = cur_task();
  int fb = fiber_of(me);
  task_rec& t = x.t[me];
  for (;;) {
    {
      explore::world::world_alloc_off off;  // the explorer's own work (restores the world's after)
      t.p = p;
      t.version++;
      if (p.kind == op::relax) prepare_relax(t);
      int next = decide();
      int nf = next == PHASE_END ? MAIN : fiber_of(next);
      if (nf != fb) switch_to(nf);
    }
    if (x.unwinding) {
      if (p.kind == op::idle || p.kind == op::rcu_callback) return;  // the fiber's body returns
      throw unwind_fiber{};
    }
    if (x.chosen != me) {  // our CPU's interrupt task was chosen: take the IPI, then wait again
      ipi_run_one(x.f[fb].cpu);
      continue;
    }
    break;
  }
  if (p.kind == op::relax) {
    explore::world::world_alloc_off off;
    if (memory::active()) relax_reads(t);  // the next iteration reads the latest stores
    begin_iteration(t, p.loc);             // a new iteration begins
  }
}

unsigned decide_value(uint32_t mask) {
  explore::world::world_alloc_off off;
  return explore::detail::choose_value(mask);
}

void point(op k, const void* addr, unsigned size, const site& loc, uint64_t arg) {
  pending_op p;
  p.kind = k;
  p.addr = addr;
  p.size = static_cast<uint8_t>(size);
  p.loc = loc;
  p.arg = arg;
  point_ex(p);
}

int current_task() {
  using namespace explore::detail;
  return g_x.running == MAIN ? -1 : cur_task();
}

bool unwinding() { return explore::detail::g_x.unwinding; }

void irq_enter() {
  using namespace explore::detail;
  g_x.f[g_x.running].in_irq = true;
}

void irq_exit() {
  using namespace explore::detail;
  g_x.f[g_x.running].in_irq = false;
}

void direct_stuck(const char* what, const site& loc) {
  using namespace explore::detail;
  explore::world::world_alloc_off off;
  std::string msg = std::string(what) + " can never proceed (nothing else runs) in " + short_fn(loc.function_name()) +
                    " (" + short_file(loc.file_name()) + ":" + std::to_string(loc.line()) + ")";
  if (!g_in_explorer) {
    std::fprintf(stderr, "gupfast (model backend): %s\n", msg.c_str());
    std::abort();
  }
  record_violation("deadlock", msg);
  abort_now();
}

}  // namespace sync::rt

// ---- the public calls that act on the running execution ---------------------------------------
namespace explore {

void fail(std::string kind, std::string message) {
  using namespace detail;
  world::world_alloc_off off;
  if (!g_in_explorer) throw std::logic_error("explore::fail outside explore(): " + kind + ": " + message);
  if (std::uncaught_exceptions() > 0) {
    // A destructor reported a violation while an execution was being unwound: nothing can
    // carry it out of here.
    std::fprintf(stderr, "gupfast explore: violation %s while unwinding: %s\n", kind.c_str(), message.c_str());
    std::abort();
  }
  // Copies made here are the explorer's (the arguments may be the world's memory).
  record_violation(std::string(kind.data(), kind.size()), std::string(message.data(), message.size()));
  abort_now();
}

bool annotating() { return detail::g_in_explorer && detail::g_x.tracing; }

void annotate(std::string note) {
  using namespace detail;
  if (!annotating()) return;
  world::world_alloc_off off;
  exec_state& x = g_x;
  x.notes.emplace_back(note.data(), note.size());  // a copy of the explorer's
  uint32_t id = static_cast<uint32_t>(x.notes.size() - 1);
  if (x.running == MAIN)
    x.main_note = id;
  else
    x.t[cur_task()].note = id;
}

bool in_explorer() { return detail::g_in_explorer; }

}  // namespace explore
GUPFAST_NS_END
