// The explorer's scheduler: one execution of a program, its fibers, and the decision at every
// scheduling point (explore/scheduler.h has the overview).
//
// Fibers are boost::context fibers on stacks allocated once (with a guard page) and reused by
// every execution. The fiber that reaches a scheduling point makes the decision itself: it
// asks the driver (the search) which task runs the next transition, records the step, and
// switches to that task's fiber if it is another one; the chosen task returns from its own
// point and performs its operation. An interrupt task runs on its CPU's fiber, nested in the
// thread's pending point. Nothing runs between the decision and the operation, so the
// operations of all tasks form one sequence (sequential consistency).
//
// cpu_relax() is where spin loops would make a search infinite. The scheduler keeps, per
// fiber and per cpu_relax site (file:line), what it read and wrote since its last cpu_relax
// there: one iteration of that loop (an outer retry loop's iteration includes the inner wait
// loops it ran). At the next cpu_relax of that site:
//   - the iteration changed nothing: it is a pure retry, so the fiber is not runnable until
//     another fiber writes a value the iteration read, or takes and releases a spinlock the
//     iteration took (what it read under the lock with plain loads, as swapcache_prepare's
//     swap_map, may have changed); the next iteration would do exactly the same otherwise;
//   - it changed something (a fault installed the entry it retries on): it is a retry after
//     progress and may go on at once; after 8 such iterations in a row it waits for any write
//     by another fiber instead (a loop that only counts events);
//   - the site's first iteration may go on (nothing to compare it with);
// and switching away from a fiber at its cpu_relax is never a preemption.
#include "explore/scheduler.h"

#include <sys/mman.h>

#include <boost/context/fiber.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>

#include "sync/model_rt.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

GUPFAST_NS_BEGIN
namespace explore::detail {
namespace {

using sync::rt::op;
using sync::rt::pending_op;
namespace bctx = boost::context;

constexpr int MAIN = NR_FIBERS;   // the explorer's own stack (a fiber index)
constexpr int PHASE_END = -1;    // decide(): every thread returned, nothing left to run
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t STACK_SIZE = 4u << 20;
#else
constexpr size_t STACK_SIZE = 1u << 20;
#endif
constexpr size_t MAX_SPIN_READS = 256, MAX_SPIN_WRITES = 128;
constexpr int MAX_PROGRESS_STREAK = 8;

// ---- stacks ----------------------------------------------------------------------------------
char* g_stack[NR_FIBERS];

char* stack_for(int f) {
  if (!g_stack[f]) {
    size_t guard = 4096;
    void* m = mmap(nullptr, STACK_SIZE + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
      perror("gupfast explore: mmap fiber stack");
      std::abort();
    }
    mprotect(m, guard, PROT_NONE);
    g_stack[f] = static_cast<char*>(m) + guard;
  }
  return g_stack[f];
}

// A boost StackAllocator over a stack that outlives the fiber.
struct reuse_stack {
  char* base;
  bctx::stack_context allocate() {
    bctx::stack_context sc;
    sc.size = STACK_SIZE;
    sc.sp = base + STACK_SIZE;
    return sc;
  }
  void deallocate(bctx::stack_context&) noexcept {}
};

// ---- one execution's state -------------------------------------------------------------------
struct raw_step {
  uint8_t task;
  op kind;
  uint8_t size;
  uint8_t preempted;
  uint32_t note;
  const void* addr;
  uint64_t value;
  sync::site loc;
  const char* name;
};

enum class relax_mode : uint8_t { stutter, progress, yield_any };

// A task: its pending transition, and what it read and wrote since its last cpu_relax (one
// loop iteration).
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
  // One mark per cpu_relax site (file:line) the fiber passed: where in reads/writes that
  // loop's current iteration began. Loops nest (a wait loop inside a retry loop), so an
  // iteration of the outer loop is everything since the outer cpu_relax, inner iterations
  // included; judging each loop by its own iteration is what lets a nest that changes
  // nothing wait (rather than count the alternation of sites as progress).
  // Spinlocks it took, with the lock's release count then (exec_state::lock_versions).
  struct lk {
    const void* addr;
    uint64_t version;
  };
  std::vector<lk> locks;
  uint64_t own_writes = 0;  // writes it made (exec_state::write_epoch counts everyone's)
  struct mark {
    const char* file;
    uint32_t line;
    uint32_t r, w, l;
    uint64_t others;  // other tasks' writes when the iteration began
  };
  std::vector<mark> marks;
  // The pending cpu_relax's iteration: reads[it_r..], writes[it_w..], locks[it_l..].
  uint32_t it_r = 0, it_w = 0, it_l = 0;
  uint32_t seg_w = 0;           // writes since the last cpu_relax (any site) begin here
};

struct fiber_rec {
  bool alive = false;      // created, not yet returned
  bool body_done = false;  // threads: the body returned (the fiber idles; its CPU takes IPIs)
  bool in_irq = false;     // its CPU's interrupt task is inside a handler, on this fiber
  sync::cpu_state* cpu = nullptr;
};

struct unwind_fiber {};

// pending_footprint() is asked for every task at every step (DPOR's race detection); a task's
// footprint changes only when its pending operation does, or its CPU's interrupt state.
struct fp_cache {
  bool valid = false;
  uint64_t version = 0;
  const void* csdq = nullptr;
  int irq = 0;
  bool in_irq = false;
  footprint fp;
};

struct exec_state {
  const program* prog = nullptr;
  driver* drv = nullptr;
  uint64_t max_steps = 0;
  int nthreads = 0;
  task_rec t[NR_TASKS];
  fiber_rec f[NR_FIBERS];
  bctx::fiber ctxs[NR_FIBERS + 1];
  int running = MAIN, from = MAIN;  // fibers
  int last = -1;                    // the task of the previous transition
  int chosen = -1;                  // the task the last decision chose
  bool threads_phase = false, unwinding = false, aborted = false;
  int depth = 0;
  uint64_t write_epoch = 0;
  std::unordered_map<const void*, uint64_t> lock_versions;  // spinlock -> releases so far
  uint32_t main_note = 0;
  std::vector<raw_step> steps;
  std::vector<std::string> notes;
  outcome out;
  fp_cache fpc[NR_TASKS];
};

exec_state g_x;
bool g_in_explorer = false;

sync::cpu_state* cpu_of(int f) {
  if (f == MAIN) return &sync::rt::g_cpus[0];
  if (f == RCU_TASK) return nullptr;
  return &sync::rt::g_cpus[f];
}

// The task running now: the running fiber's thread, its interrupt task inside a handler, or
// the callback task.
int cur_task() {
  int f = g_x.running;
  if (f < MAX_THREADS && g_x.f[f].in_irq) return irq_task(f);
  return f;
}

// The CPU a task's operations act on (-1: the callback task has none).
int cpu_index(int task) { return fiber_of(task) == RCU_TASK ? -1 : fiber_of(task); }

// ---- memory as the scheduler reads it ---------------------------------------------------------
// A spinning fiber's read set is compared against memory while it waits. Memory it read may be
// freed meanwhile by another fiber (which the fiber would notice when it ran): under ASan such
// memory counts as changed instead of being read.
bool mem_differs(const void* addr, unsigned size, uint64_t v) {
#if defined(__SANITIZE_ADDRESS__)
  if (__asan_region_is_poisoned(const_cast<void*>(addr), size)) return true;
#endif
  uint64_t cur = 0;
  std::memcpy(&cur, addr, size);
  uint64_t mask = size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
  return (cur & mask) != (v & mask);
}

bool overlaps(const void* a, unsigned as, const void* b, unsigned bs) {
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + bs && y < x + as;
}

// ---- cpu_relax ----------------------------------------------------------------------------------
// Context: fiber f just reached its cpu_relax (nothing else ran since its iteration).
const task_rec::mark* find_mark(const task_rec& f, const sync::site& loc) {
  for (auto& m : f.marks)
    if (m.file == loc.file_name() && m.line == loc.line()) return &m;
  return nullptr;
}

// Did the iteration leave memory changed? The first write of each address in it holds the
// value before the iteration.
bool iteration_wrote(const task_rec& f) {
  for (size_t i = f.it_w; i < f.writes.size(); i++) {
    const auto& w = f.writes[i];
    bool first = true;
    for (size_t j = f.it_w; j < i && first; j++)
      if (f.writes[j].addr == w.addr && f.writes[j].size == w.size) first = false;
    if (first && mem_differs(w.addr, w.size, w.old)) return true;
  }
  return false;
}

void prepare_relax(task_rec& f) {
  const task_rec::mark* m = find_mark(f, f.p.loc);
  if (!m || f.overflow) {
    // The first iteration of this loop (or one we lost track of): nothing to compare with.
    f.it_r = static_cast<uint32_t>(f.reads.size());
    f.it_w = static_cast<uint32_t>(f.writes.size());
    f.it_l = static_cast<uint32_t>(f.locks.size());
    f.mode = relax_mode::progress;
    f.relax_epoch = g_x.write_epoch - f.own_writes;
    return;
  }
  f.it_r = m->r;
  f.it_w = m->w;
  f.it_l = m->l;
  bool progress = iteration_wrote(f);
  if (!progress && f.it_r == f.reads.size() && f.it_l == f.locks.size()) {
    f.mode = relax_mode::yield_any;  // read nothing we can watch: wait for any write
  } else if (!progress) {
    f.progress_streak = 0;
    f.mode = relax_mode::stutter;
  } else {
    f.mode = ++f.progress_streak > MAX_PROGRESS_STREAK ? relax_mode::yield_any : relax_mode::progress;
  }
  // Waiting for any write: any since the iteration began (it may have read stale values).
  f.relax_epoch = m->others;
}

// The cpu_relax was taken: a new iteration of its loop begins here. Entries older than every
// open iteration are dropped.
void begin_iteration(task_rec& f, const sync::site& loc) {
  if (f.overflow) {
    f.reads.clear();
    f.writes.clear();
    f.locks.clear();
    f.marks.clear();
    f.overflow = false;
  }
  auto r = static_cast<uint32_t>(f.reads.size()), w = static_cast<uint32_t>(f.writes.size());
  auto l = static_cast<uint32_t>(f.locks.size());
  uint64_t others = g_x.write_epoch - f.own_writes;
  if (auto* m = const_cast<task_rec::mark*>(find_mark(f, loc))) {
    *m = {m->file, m->line, r, w, l, others};
  } else {
    f.marks.push_back({loc.file_name(), loc.line(), r, w, l, others});
  }
  uint32_t min_r = r, min_w = w, min_l = l;
  for (auto& k : f.marks) {
    min_r = std::min(min_r, k.r);
    min_w = std::min(min_w, k.w);
    min_l = std::min(min_l, k.l);
  }
  f.reads.erase(f.reads.begin(), f.reads.begin() + min_r);
  f.writes.erase(f.writes.begin(), f.writes.begin() + min_w);
  f.locks.erase(f.locks.begin(), f.locks.begin() + min_l);
  for (auto& k : f.marks) {
    k.r -= min_r;
    k.w -= min_w;
    k.l -= min_l;
  }
  f.seg_w = w - min_w;
}

bool read_is_watched(const task_rec& f, const task_rec::rd& r) {
  for (size_t i = f.it_w; i < f.writes.size(); i++)
    if (overlaps(r.addr, r.size, f.writes[i].addr, f.writes[i].size)) return false;  // our own write: not a wait
  return true;
}

bool relax_enabled(const task_rec& f) {
  switch (f.mode) {
    case relax_mode::progress:
      return true;
    case relax_mode::yield_any:
      return g_x.write_epoch - f.own_writes != f.relax_epoch;
    case relax_mode::stutter:
      for (size_t i = f.it_r; i < f.reads.size(); i++)
        if (read_is_watched(f, f.reads[i]) && mem_differs(f.reads[i].addr, f.reads[i].size, f.reads[i].v)) return true;
      for (size_t i = f.it_l; i < f.locks.size(); i++) {
        auto v = g_x.lock_versions.find(f.locks[i].addr);
        if (v != g_x.lock_versions.end() && v->second != f.locks[i].version) return true;
      }
      return false;
  }
  return true;
}

void relax_footprint(const task_rec& f, footprint& fp) {
  switch (f.mode) {
    case relax_mode::progress:
      return;
    case relax_mode::yield_any:
      fp.any_write = true;
      return;
    case relax_mode::stutter:
      for (size_t i = f.it_r; i < f.reads.size(); i++)
        if (read_is_watched(f, f.reads[i])) fp.add(f.reads[i].addr, f.reads[i].size, ACC_READ);
      for (size_t i = f.it_l; i < f.locks.size(); i++) fp.add(f.locks[i].addr, 4, ACC_READ);
      return;
  }
}

// ---- enabledness and footprints ----------------------------------------------------------------
bool op_ready(const task_rec& t, int task) {
  if (t.p.kind == op::relax) return relax_enabled(t);
  return sync::rt::op_enabled(t.p, cpu_index(task));
}

bool enabled(int task) {
  const fiber_rec& f = g_x.f[fiber_of(task)];
  if (!f.alive) return false;
  if (is_irq_task(task)) return f.in_irq ? op_ready(g_x.t[task], task) : sync::rt::ipi_deliverable(f.cpu);
  if (task < MAX_THREADS && (f.in_irq || sync::rt::ipi_deliverable(f.cpu))) return false;  // interrupted
  return op_ready(g_x.t[task], task);
}

task_mask enabled_set() {
  task_mask m = 0;
  for (int i = 0; i < NR_TASKS; i++)
    if (enabled(i)) m |= task_mask{1} << i;
  return m;
}

// Every thread has returned (the threads phase ends once, moreover, nothing can run: callbacks
// whose grace period is over and queued IPIs are part of the phase, where the search sees them).
bool all_threads_done() {
  for (int i = 0; i < g_x.nthreads; i++)
    if (!g_x.f[i].body_done) return false;
  return true;
}

// ---- trace ------------------------------------------------------------------------------------
std::string short_fn(const char* pretty) {
  static std::unordered_map<const char*, std::string> cache;
  if (!pretty) return "?";
  auto it = cache.find(pretty);
  if (it != cache.end()) return it->second;
  // "ret ns::{anonymous}::name(args) [with ...]" -> "name"
  std::string s(pretty);
  int angle = 0;
  size_t end = s.size();
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '<') angle++;
    else if (c == '>') angle--;
    else if (c == '(' && angle == 0) {
      end = i;
      break;
    }
  }
  std::string name = s.substr(0, end);
  angle = 0;
  size_t start = 0;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    if (c == '<') angle++;
    else if (c == '>') angle--;
    else if (angle == 0 && (c == ' ' || (c == ':' && i + 1 < name.size() && name[i + 1] == ':')))
      start = c == ' ' ? i + 1 : i + 2;
  }
  name = name.substr(start);
  if (name.empty()) name = s;
  return cache.emplace(pretty, name).first->second;
}

std::string short_file(const char* file) {
  if (!file) return "?";
  std::string s(file);
  size_t p = s.rfind("/src/");
  if (p != std::string::npos) return s.substr(p + 5);
  p = s.rfind("/tests/");
  if (p != std::string::npos) return s.substr(p + 1);
  p = s.rfind('/');
  return p == std::string::npos ? s : s.substr(p + 1);
}

std::vector<step> materialize() {
  std::vector<step> out;
  out.reserve(g_x.steps.size());
  for (const raw_step& r : g_x.steps) {
    step s;
    s.tid = fiber_of(r.task) < MAX_THREADS ? fiber_of(r.task) : -2;
    s.cpu = cpu_index(r.task);
    s.irq = is_irq_task(r.task);
    if (r.kind == op::ipi_run || r.kind == op::ipi_ack)
      s.what = std::string("ipi from ") + short_fn(r.name);
    else if (r.name)
      s.what = r.name;
    else
      s.what = short_fn(r.loc.function_name());
    s.op = sync::rt::op_name(r.kind);
    s.addr = reinterpret_cast<uintptr_t>(r.addr);
    s.value = r.value;
    if (r.loc.line()) s.where = short_file(r.loc.file_name()) + ":" + std::to_string(r.loc.line());
    s.note = g_x.notes[r.note];
    s.preemption = r.preempted;
    out.push_back(std::move(s));
  }
  return out;
}

void record_violation(std::string kind, std::string message) {
  g_x.aborted = true;
  if (g_x.out.v) return;  // the first one wins (teardown may find more)
  explore::violation v;
  v.kind = std::move(kind);
  v.message = std::move(message);
  v.trace = materialize();
  v.preemptions = g_x.out.preemptions;
  g_x.out.v = std::move(v);
  g_x.out.kind = outcome::violation;
}

[[noreturn]] void abort_now() {
  g_x.aborted = true;
  sync::rt::g_sched = false;  // from here on (unwinding) every operation acts directly
  throw abort_execution{};
}

std::string task_name(int i) {
  if (i == RCU_TASK) return "rcu callbacks";
  if (is_irq_task(i)) return "cpu " + std::to_string(fiber_of(i)) + " interrupt";
  return "thread " + std::to_string(i);
}

[[noreturn]] void stuck() {
  bool spinning = false;
  std::string msg;
  for (int i = 0; i < NR_TASKS; i++) {
    const fiber_rec& f = g_x.f[fiber_of(i)];
    const task_rec& t = g_x.t[i];
    if (!f.alive) continue;
    if (i < MAX_THREADS && f.body_done) continue;
    if (i == RCU_TASK && t.p.kind == op::rcu_callback) continue;  // idle, no callback due
    if (is_irq_task(i) && !f.in_irq) continue;
    if (t.p.kind == op::relax) spinning = true;
    if (!msg.empty()) msg += "; ";
    msg += task_name(i) + " waits: " + sync::rt::describe_wait(t.p, cpu_index(i));
    if (t.p.loc.line())
      msg += " in " + short_fn(t.p.loc.function_name()) + " (" + short_file(t.p.loc.file_name()) + ":" +
             std::to_string(t.p.loc.line()) + ")";
  }
  record_violation(spinning ? "livelock" : "deadlock", "no CPU can run: " + msg);
  abort_now();
}

// ---- switching --------------------------------------------------------------------------------
// ASan must be told about every stack switch (its fake stacks and stack bounds are per stack):
// Boost.Context's fcontext flavour, which Debian's library is, does not do it, so we do. The
// explorer's own stack's bounds are learnt at the first switch into a fiber.
#if defined(__SANITIZE_ADDRESS__)
const void* g_main_stack_bottom = nullptr;
size_t g_main_stack_size = 0;

void asan_start_switch(void** fake_save, int to) {
  if (to == MAIN)
    __sanitizer_start_switch_fiber(fake_save, g_main_stack_bottom, g_main_stack_size);
  else
    __sanitizer_start_switch_fiber(fake_save, stack_for(to), STACK_SIZE);
}
void asan_finish_switch(void* fake_save) {
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake_save, &bottom, &size);
  if (g_x.from == MAIN && !g_main_stack_bottom) {
    g_main_stack_bottom = bottom;
    g_main_stack_size = size;
  }
}
#else
inline void asan_start_switch(void**, int) {}
inline void asan_finish_switch(void*) {}
#endif

void switch_to(int to) {
  int me = g_x.running;
  g_x.from = me;
  g_x.running = to;
  sync::rt::g_cpu = cpu_of(to);
  void* fake = nullptr;
  asan_start_switch(&fake, to);
  bctx::fiber c = std::move(g_x.ctxs[to]).resume();
  asan_finish_switch(fake);
  g_x.ctxs[g_x.from] = std::move(c);
  g_x.running = me;
  sync::rt::g_cpu = cpu_of(me);
}

// The decision at a scheduling point (or at the start of the threads phase). Returns the task
// that executes the next transition, or PHASE_END when every thread has returned and nothing is
// left to run.
int decide() {
  exec_state& x = g_x;
  task_mask en = enabled_set();
  if (!en) {
    x.drv->final_state();
    if (all_threads_done()) return PHASE_END;
    stuck();
  }
  if (x.out.steps >= x.max_steps) {
    record_violation("livelock", "no progress: the execution exceeded max_steps=" + std::to_string(x.max_steps) +
                                     " scheduling points");
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
  bool pre = c != x.last && d.last_enabled;
  if (pre) x.out.preemptions++;
  transition t;
  t.step = x.out.steps;
  t.task = c;
  t.last = x.last;
  t.preempted = pre;
  t.depth = depth;
  t.fp = pending_footprint(c);
  x.drv->executed(t);
  x.out.steps++;
  const fiber_rec& f = x.f[fiber_of(c)];
  const task_rec& tr = x.t[c];
  raw_step r{};
  r.task = static_cast<uint8_t>(c);
  r.preempted = pre;
  r.note = x.t[fiber_of(c) == RCU_TASK ? RCU_TASK : fiber_of(c)].note;
  if (is_irq_task(c) && !f.in_irq) {
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
  x.last = c;
  x.chosen = c;
  return c;
}

// ---- fibers -------------------------------------------------------------------------------------
void thread_body(int i) {
  // First resumed for its start transition, or for its interrupt task to take an IPI that came
  // before it started.
  if (g_x.chosen == irq_task(i)) {
    sync::rt::ipi_run_one(g_x.f[i].cpu);
    sync::rt::point_ex(pending_op{op::start});
  }
  g_x.prog->thread(i);
  g_x.f[i].body_done = true;
  for (;;) sync::rt::point_ex(pending_op{op::idle});
}

void rcu_body() {
  // First resumed for its rcu_callback transition: a callback's grace period is over.
  for (;;) {
    sync::rt::rcu_run_one_callback();
    sync::rt::point_ex(pending_op{op::rcu_callback});
  }
}

bctx::fiber fiber_main(int i, bctx::fiber&& from) {
  exec_state& x = g_x;
  asan_finish_switch(nullptr);
  x.ctxs[x.from] = std::move(from);
  x.running = i;
  sync::rt::g_cpu = cpu_of(i);
  try {
    if (!x.unwinding) {
      if (i == RCU_TASK)
        rcu_body();
      else
        thread_body(i);
    }
  } catch (const unwind_fiber&) {
  } catch (const abort_execution&) {
  } catch (const std::exception& e) {
    record_violation("exception", task_name(cur_task()) + " threw: " + e.what());
    x.aborted = true;
    sync::rt::g_sched = false;
  }
  x.f[i].alive = false;
  x.f[i].in_irq = false;
  x.from = i;
  x.running = MAIN;
  sync::rt::g_cpu = cpu_of(MAIN);
  asan_start_switch(nullptr, MAIN);  // this fiber's stack is done with (it is reused later)
  return std::move(x.ctxs[MAIN]);
}

void reset_task(task_rec& t, const pending_op& first) {
  t.p = first;
  t.version++;
  t.reads.clear();
  t.writes.clear();
  t.overflow = false;
  t.mode = relax_mode::stutter;
  t.progress_streak = 0;
  t.relax_epoch = 0;
  t.marks.clear();
  t.locks.clear();
  t.own_writes = 0;
  t.it_r = t.it_w = t.it_l = t.seg_w = 0;
  t.note = 0;
}

void create_fiber(int i, const pending_op& first) {
  fiber_rec& f = g_x.f[i];
  f.alive = true;
  f.body_done = false;
  f.in_irq = false;
  f.cpu = cpu_of(i);
  reset_task(g_x.t[i], first);
  if (i < MAX_THREADS) reset_task(g_x.t[irq_task(i)], pending_op{op::ipi_run});
  g_x.ctxs[i] = bctx::fiber(std::allocator_arg, reuse_stack{stack_for(i)},
                            [i](bctx::fiber&& from) { return fiber_main(i, std::move(from)); });
}

// Run fn in direct mode on the explorer's stack as CPU 0; a violation or an exception ends it.
template <class F>
void direct_phase(F&& fn) {
  try {
    fn();
  } catch (const abort_execution&) {
    g_x.aborted = true;
  } catch (const std::exception& e) {
    record_violation("exception", std::string("setup/finish/teardown threw: ") + e.what());
  }
}

}  // namespace

// ---- footprints -------------------------------------------------------------------------------
void footprint::add(const void* addr, unsigned size, uint8_t mode) {
  auto a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t word = a & ~uintptr_t{7};
  unsigned first = a & 7, last = first + (size ? size : 1) - 1;
  uint8_t halves = static_cast<uint8_t>((first < 4 ? 1 : 2) | (last < 4 ? 1 : 2));
  if (last >= 8) halves = 3;  // never for aligned accesses
  for (int i = 0; i < n; i++)
    if (this->a[i].word == word && this->a[i].mode == mode) {
      this->a[i].halves |= halves;
      return;
    }
  if (n == MAX) {
    any_write = true;  // too many to list: be conservative
    this->a[MAX - 1] = access{word, 3, ACC_WRITE};
    return;
  }
  this->a[n++] = access{word, halves, mode};
}

bool dependent(const footprint& x, const footprint& y) {
  auto writes = [](const footprint& f) {
    for (int i = 0; i < f.n; i++)
      if (f.a[i].mode != ACC_READ) return true;
    return false;
  };
  if ((x.any_write && writes(y)) || (y.any_write && writes(x))) return true;
  for (int i = 0; i < x.n; i++)
    for (int j = 0; j < y.n; j++) {
      const access &a = x.a[i], &b = y.a[j];
      if (a.word != b.word || !(a.halves & b.halves)) continue;
      if (a.mode == ACC_READ && b.mode == ACC_READ) continue;
      if (a.mode == ACC_ADD && b.mode == ACC_ADD) continue;
      return true;
    }
  return false;
}

namespace {
footprint compute_footprint(int task) {
  footprint fp;
  const fiber_rec& f = g_x.f[fiber_of(task)];
  if (!f.alive) return fp;
  if (is_irq_task(task) && !f.in_irq) {
    // Taking a queued IPI. With none queued it has no next transition: sending one is what
    // makes it one, and the send is dependent with everything it could race with.
    if (f.cpu->csd_queue) {
      fp.add(&f.cpu->csd_queue, sizeof(void*), ACC_WRITE);
      fp.add(&f.cpu->irq_disabled, sizeof(int), ACC_READ);
    }
    return fp;
  }
  const task_rec& t = g_x.t[task];
  if (t.p.kind == op::relax)
    relax_footprint(t, fp);
  else
    sync::rt::op_footprint(t.p, cpu_index(task), fp);
  // With irqs on, a thread cannot run while its CPU has an IPI queued: it depends on the queue.
  if (task < MAX_THREADS && !f.cpu->irq_disabled) fp.add(&f.cpu->csd_queue, sizeof(void*), ACC_READ);
  return fp;
}
}  // namespace

footprint pending_footprint(int task) {
  const fiber_rec& f = g_x.f[fiber_of(task)];
  fp_cache& c = g_x.fpc[task];
  const void* csdq = f.cpu ? f.cpu->csd_queue : nullptr;
  int irq = f.cpu ? f.cpu->irq_disabled : 0;
  uint64_t version = g_x.t[task].version;
  if (!c.valid || c.version != version || c.csdq != csdq || c.irq != irq || c.in_irq != f.in_irq || !f.alive) {
    c.fp = compute_footprint(task);
    c.valid = f.alive;
    c.version = version;
    c.csdq = csdq;
    c.irq = irq;
    c.in_irq = f.in_irq;
  }
  return c.fp;
}

bool task_enabled(int task) { return enabled(task); }
bool task_alive(int task) { return g_x.f[fiber_of(task)].alive; }

outcome run_execution(const program& prog, driver& drv, uint64_t seed, uint64_t max_steps) {
  exec_state& x = g_x;
  x.prog = &prog;
  x.drv = &drv;
  x.max_steps = max_steps;
  x.nthreads = prog.nthreads;
  x.running = x.from = MAIN;
  x.last = -1;
  x.threads_phase = x.unwinding = x.aborted = false;
  x.depth = 0;
  x.write_epoch = 0;
  x.lock_versions.clear();
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
  g_in_explorer = true;
  sync::rt::model_begin(prog.nthreads, seed);

  direct_phase([&] {
    if (prog.setup) prog.setup();
    sync::rt::rcu_run_callbacks_direct(false);
  });
  if (!x.aborted) {
    for (int i = 0; i < prog.nthreads; i++) create_fiber(i, pending_op{op::start});
    create_fiber(RCU_TASK, pending_op{op::rcu_callback});
    x.threads_phase = true;
    sync::rt::g_sched = true;
    try {
      int c = decide();
      if (c != PHASE_END) switch_to(fiber_of(c));
    } catch (const abort_execution&) {
    }
    sync::rt::g_sched = false;
    x.threads_phase = false;
    sync::rt::g_cpu = cpu_of(MAIN);
    if (!x.aborted) {
      direct_phase([&] {
        sync::rt::rcu_run_callbacks_direct(false);
        if (prog.finish) prog.finish();
      });
    }
    // Unwind every fiber still suspended at a point (they idle, or the execution stopped).
    x.unwinding = true;
    for (int i = 0; i < NR_FIBERS; i++)
      if (x.f[i].alive) switch_to(i);
    x.unwinding = false;
    for (int i = 0; i < NR_TASKS; i++) sync::rt::model_task_dead(i, cpu_index(i));
  }
  sync::rt::g_cpu = cpu_of(MAIN);
  direct_phase([&] {
    if (prog.teardown) prog.teardown();
  });
  sync::rt::model_end();
  g_in_explorer = false;
  return std::move(x.out);
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
    t.p = p;
    t.version++;
    if (p.kind == op::relax) prepare_relax(t);
    int next = decide();
    int nf = next == PHASE_END ? MAIN : fiber_of(next);
    if (nf != fb) switch_to(nf);
    if (x.unwinding) throw unwind_fiber{};
    if (x.chosen != me) {  // our CPU's interrupt task was chosen: take the IPI, then wait again
      ipi_run_one(x.f[fb].cpu);
      continue;
    }
    break;
  }
  if (p.kind == op::relax) begin_iteration(t, p.loc);  // a new iteration begins
}

void point(op k, const void* addr, unsigned size, const site& loc) {
  pending_op p;
  p.kind = k;
  p.addr = addr;
  p.size = static_cast<uint8_t>(size);
  p.loc = loc;
  point_ex(p);
}

void after_read(const void* addr, unsigned size, uint64_t v) {
  using namespace explore::detail;
  exec_state& x = g_x;
  if (!x.steps.empty()) x.steps.back().value = v;
  task_rec& f = x.t[cur_task()];
  if (f.reads.size() < MAX_SPIN_READS)
    f.reads.push_back({addr, static_cast<uint8_t>(size), v});
  else
    f.overflow = true;
}

void after_write(const void* addr, unsigned size, uint64_t old, uint64_t v) {
  using namespace explore::detail;
  if (old == v) return after_read(addr, size, v);
  exec_state& x = g_x;
  if (!x.steps.empty()) x.steps.back().value = v;
  x.write_epoch++;
  task_rec& f = x.t[cur_task()];
  f.own_writes++;
  for (size_t i = f.seg_w; i < f.writes.size(); i++)
    if (f.writes[i].addr == addr && f.writes[i].size == size) return;
  if (f.writes.size() < MAX_SPIN_WRITES)
    f.writes.push_back({addr, static_cast<uint8_t>(size), old});
  else
    f.overflow = true;
}

void lock_taken(const void* addr) {
  using namespace explore::detail;
  exec_state& x = g_x;
  task_rec& f = x.t[cur_task()];
  auto v = x.lock_versions.find(addr);
  if (f.locks.size() < MAX_SPIN_READS)
    f.locks.push_back({addr, v == x.lock_versions.end() ? 0 : v->second});
  else
    f.overflow = true;
}

void lock_released(const void* addr) {
  using namespace explore::detail;
  exec_state& x = g_x;
  uint64_t v = ++x.lock_versions[addr];
  // Our own release is not a change we wait for: only another task's take-and-release is.
  for (auto& l : x.t[cur_task()].locks)
    if (l.addr == addr) l.version = v;
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
  if (!g_in_explorer) throw std::logic_error("explore::fail outside explore(): " + kind + ": " + message);
  if (std::uncaught_exceptions() > 0) {
    // A destructor reported a violation while an execution was being unwound: nothing can
    // carry it out of here.
    std::fprintf(stderr, "gupfast explore: violation %s while unwinding: %s\n", kind.c_str(), message.c_str());
    std::abort();
  }
  record_violation(std::move(kind), std::move(message));
  abort_now();
}

void annotate(std::string note) {
  using namespace detail;
  if (!g_in_explorer) return;
  exec_state& x = g_x;
  x.notes.push_back(std::move(note));
  uint32_t id = static_cast<uint32_t>(x.notes.size() - 1);
  if (x.running == MAIN)
    x.main_note = id;
  else
    x.t[cur_task()].note = id;
}

bool in_explorer() { return detail::g_in_explorer; }

}  // namespace explore
GUPFAST_NS_END
