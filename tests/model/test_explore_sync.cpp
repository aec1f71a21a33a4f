// The explorer on small programs of the sync seam alone: each search finds what can happen
// (a torn message, a deadlock, a use after free without a grace period, an IPI that would run
// inside an irqs-off section) and, exhaustively within its bound, nothing that cannot.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "explore/search.h"
#include "sync/sync.h"

using namespace gupfast;
namespace ex = gupfast::explore;

namespace {

// ---- a two-word message, with and without a lock ------------------------------------------
struct message {
  sync::atomic<int> a{0}, b{0};
  sync::spinlock_t lock;
};
message* g_msg;

ex::program message_passing(bool locked) {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] { g_msg = new message; };
  p.thread = [locked](int tid) {
    message* m = g_msg;
    if (tid == 0) {
      if (locked) sync::spin_lock(&m->lock);
      m->a.store(1, sync::relaxed);
      m->b.store(1, sync::relaxed);
      if (locked) sync::spin_unlock(&m->lock);
    } else {
      if (locked) sync::spin_lock(&m->lock);
      int a = m->a.load(sync::relaxed);
      int b = m->b.load(sync::relaxed);
      if (locked) sync::spin_unlock(&m->lock);
      if (a != b) ex::fail("torn-message", "read a=" + std::to_string(a) + " b=" + std::to_string(b));
    }
  };
  p.teardown = [] {
    delete g_msg;
    g_msg = nullptr;
  };
  return p;
}

}  // namespace

TEST(Explore, MessageWithoutLockIsTorn) {
  ex::result r = ex::explore(message_passing(false), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "torn-message");
  EXPECT_EQ(r.found->preemptions, 1);
  EXPECT_EQ(r.bound_reached, 1);
  EXPECT_FALSE(r.found->replay.empty());
  ASSERT_FALSE(r.found->trace.empty());
  int preempted = 0;
  for (const ex::step& s : r.found->trace) preempted += s.preemption;
  EXPECT_EQ(preempted, 1);
}

TEST(Explore, MessageWithLockIsWhole) {
  ex::result r = ex::explore(message_passing(true), ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
  EXPECT_EQ(r.bound_reached, 2);
  EXPECT_GT(r.executions, 1u);
}

TEST(Explore, RandomAndPctFindTheTornMessage) {
  for (ex::mode m : {ex::mode::random, ex::mode::pct}) {
    ex::options o;
    o.mode = m;
    o.runs = 2000;
    o.seed = 7;
    ex::result r = ex::explore(message_passing(false), o);
    ASSERT_TRUE(r.found.has_value()) << "mode " << static_cast<int>(m);
    EXPECT_EQ(r.found->kind, "torn-message");
    EXPECT_LE(r.executions, o.runs);
    r = ex::explore(message_passing(true), o);
    EXPECT_FALSE(r.found.has_value());
    EXPECT_EQ(r.executions, o.runs);
    EXPECT_FALSE(r.exhaustive);
  }
}

// ---- deadlock ----------------------------------------------------------------------------------
TEST(Explore, AbbaIsADeadlock) {
  struct locks {
    sync::spinlock_t a, b;
  };
  static locks* g;
  ex::program p;
  p.nthreads = 2;
  p.setup = [] { g = new locks; };
  p.thread = [](int tid) {
    sync::spinlock_t* first = tid == 0 ? &g->a : &g->b;
    sync::spinlock_t* second = tid == 0 ? &g->b : &g->a;
    sync::spin_lock(first);
    sync::spin_lock(second);
    sync::spin_unlock(second);
    sync::spin_unlock(first);
  };
  p.teardown = [] { delete g; };
  ex::result r = ex::explore(p, ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "deadlock");
  EXPECT_NE(r.found->message.find("spin_lock"), std::string::npos) << r.found->message;
  EXPECT_NE(r.found->message.find("thread 0"), std::string::npos) << r.found->message;
  EXPECT_NE(r.found->message.find("thread 1"), std::string::npos) << r.found->message;
  EXPECT_EQ(r.found->preemptions, 1);
}

// ---- spinning ----------------------------------------------------------------------------------
namespace {
struct flag {
  sync::atomic<int> v{0};
};
flag* g_flag;
}  // namespace

// A spin wait whose partner sets the flag: switching away from the spinner is free, so even
// with no preemption at all every order completes.
TEST(Explore, SpinWaitCostsNoPreemption) {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] { g_flag = new flag; };
  p.thread = [](int tid) {
    if (tid == 0) {
      while (!g_flag->v.load(sync::acquire)) sync::cpu_relax();
    } else {
      g_flag->v.store(1, sync::release);
    }
  };
  p.teardown = [] { delete g_flag; };
  ex::options o;
  o.bound = 0;
  ex::result r = ex::explore(p, o);
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
  EXPECT_EQ(r.executions, 2u);  // thread 0 first (spins, then thread 1 runs), or thread 1 first
}

TEST(Explore, SpinWaitForNobodyIsALivelock) {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] { g_flag = new flag; };
  p.thread = [](int tid) {
    if (tid == 0)
      while (!g_flag->v.load(sync::acquire)) sync::cpu_relax();
  };
  p.teardown = [] { delete g_flag; };
  ex::result r = ex::explore(p, ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "livelock");
  EXPECT_NE(r.found->message.find("cpu_relax"), std::string::npos) << r.found->message;
  EXPECT_LT(r.found->trace.size(), 20u);  // it stopped at once, not after max_steps
}

// A long execution is not a livelock: at max_steps it is cut, counted as inconclusive, and
// the search goes on (here there is nothing else to explore).
TEST(Explore, LoopWithoutCpuRelaxIsCutAtMaxStepsNotAVerdict) {
  ex::program p;
  p.nthreads = 1;
  p.setup = [] { g_flag = new flag; };
  p.thread = [](int) {
    while (!g_flag->v.load(sync::acquire)) {
    }
  };
  p.teardown = [] { delete g_flag; };
  ex::options o;
  o.max_steps = 500;
  ex::result r = ex::explore(p, o);
  EXPECT_FALSE(r.found.has_value()) << r.found->kind;
  EXPECT_EQ(r.cut, 1u);
  EXPECT_EQ(r.executions, 1u);
  EXPECT_FALSE(r.exhaustive);
}

// Cut executions do not stop a search: every other execution is still explored and judged.
TEST(Explore, CutExecutionsDoNotHideOthersViolations) {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] { g_flag = new flag; };
  p.thread = [](int tid) {
    if (tid == 0) {
      // Spins without cpu_relax until thread 1 sets the flag: long unless 1 runs first.
      for (int i = 0; i < 300 && !g_flag->v.load(sync::acquire); i++) {
      }
      if (g_flag->v.load(sync::acquire)) ex::fail("refcount", "thread 0 saw the flag");
    } else {
      g_flag->v.store(1, sync::release);
    }
  };
  p.teardown = [] { delete g_flag; };
  ex::options o;
  o.max_steps = 100;
  ex::result r = ex::explore(p, o);
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "refcount");
  EXPECT_GE(r.cut, 1u);
}

// ---- RCU -----------------------------------------------------------------------------------------
namespace {
struct object {
  sync::atomic<int> freed{0};
  sync::rcu_head rcu;
};
struct rcu_world {
  sync::atomic<object*> ptr{nullptr};
  object objs[2];
};
rcu_world* g_rcu;

enum class free_how { after_synchronize_rcu, call_rcu, at_once };

void free_cb(sync::rcu_head* h) {
  object* o = reinterpret_cast<object*>(reinterpret_cast<char*>(h) - offsetof(object, rcu));
  o->freed.store(1, sync::relaxed);
}

// Thread 0 reads the object under rcu_read_lock and uses it; thread 1 replaces it and frees
// the old one ("freed" stands for the memory being reused).
ex::program rcu_program(free_how how) {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] {
    g_rcu = new rcu_world;
    g_rcu->ptr.store(&g_rcu->objs[0], sync::relaxed);
  };
  p.thread = [how](int tid) {
    rcu_world* w = g_rcu;
    if (tid == 0) {
      sync::rcu_read_lock();
      object* o = w->ptr.load(sync::acquire);
      sync::yield_point("reader:holding");
      if (o->freed.load(sync::relaxed)) ex::fail("use-after-free", "the reader's object was freed inside its section");
      sync::rcu_read_unlock();
    } else {
      object* old = w->ptr.exchange(&w->objs[1], sync::acq_rel);
      switch (how) {
        case free_how::after_synchronize_rcu:
          sync::synchronize_rcu();
          old->freed.store(1, sync::relaxed);
          break;
        case free_how::call_rcu:
          sync::call_rcu(&old->rcu, free_cb);
          break;
        case free_how::at_once:
          old->freed.store(1, sync::relaxed);
          break;
      }
    }
  };
  p.finish = [how] {
    if (how != free_how::at_once && !g_rcu->objs[0].freed.load(sync::relaxed))
      ex::fail("leak", "the old object was never freed");
  };
  p.teardown = [] {
    sync::rcu_barrier();
    delete g_rcu;
  };
  return p;
}
}  // namespace

TEST(Explore, SynchronizeRcuWaitsForTheReader) {
  ex::result r = ex::explore(rcu_program(free_how::after_synchronize_rcu), ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
}

TEST(Explore, CallRcuRunsAfterTheReader) {
  ex::result r = ex::explore(rcu_program(free_how::call_rcu), ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
}

TEST(Explore, FreeWithoutGracePeriodIsFound) {
  ex::result r = ex::explore(rcu_program(free_how::at_once), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "use-after-free");
  EXPECT_EQ(r.found->preemptions, 1);
}

// ---- IPIs and irqs off -----------------------------------------------------------------------
namespace {
struct table {
  sync::atomic<int> freed{0};
};
struct ipi_world {
  sync::atomic<table*> ptr{nullptr};
  table tables[2];
  sync::atomic<int> handled[2];  // IPIs each CPU took
};
ipi_world* g_ipi;

void flush_func(void*) {
  int cpu = sync::smp_processor_id();
  if (sync::irqs_disabled() == false) ex::fail("model", "an IPI handler runs with irqs on");
  g_ipi->handled[cpu].fetch_add(1, sync::relaxed);
}

// Thread 0 walks with irqs off (GUP-fast's shape): it reads the table pointer and uses the
// table. Thread 1 unlinks the table, sends the flush IPI to every CPU and waits for it (the
// ipi strategy), then frees. The IPI cannot reach thread 0 inside its section, so the free
// waits for the walk.
ex::program ipi_program(bool walker_irqs_off, bool flusher_sends_ipi) {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] {
    g_ipi = new ipi_world;
    g_ipi->ptr.store(&g_ipi->tables[0], sync::relaxed);
  };
  p.thread = [=](int tid) {
    ipi_world* w = g_ipi;
    if (tid == 0) {
      unsigned long flags = walker_irqs_off ? sync::local_irq_save() : 0;
      int before = w->handled[0].load(sync::relaxed);
      table* t = w->ptr.load(sync::acquire);
      sync::yield_point("walker:holding");
      if (t->freed.load(sync::relaxed)) ex::fail("table-uaf", "the walker's table was freed under it");
      if (walker_irqs_off && w->handled[0].load(sync::relaxed) != before)
        ex::fail("model", "an IPI was taken inside an irqs-off section");
      if (walker_irqs_off) sync::local_irq_restore(flags);
    } else {
      table* old = w->ptr.exchange(&w->tables[1], sync::acq_rel);
      if (flusher_sends_ipi) sync::smp_call_function_many(sync::cpu_online_mask(), flush_func, nullptr, true);
      old->freed.store(1, sync::relaxed);
    }
  };
  p.finish = [flusher_sends_ipi] {
    if (flusher_sends_ipi && (g_ipi->handled[0].load(sync::relaxed) != 1 || g_ipi->handled[1].load(sync::relaxed) != 1))
      ex::fail("model", "each CPU must have taken the flush once");
  };
  p.teardown = [] { delete g_ipi; };
  return p;
}
}  // namespace

TEST(Explore, FlushIpiWaitsForTheIrqsOffWalker) {
  ex::options o;
  o.bound = 3;
  ex::result r = ex::explore(ipi_program(true, true), o);
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
}

TEST(Explore, WalkerWithIrqsOnIsNotProtected) {
  ex::result r = ex::explore(ipi_program(false, true), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "table-uaf");
  bool took = false;  // the walker's CPU took the IPI between its load and its use
  for (const ex::step& s : r.found->trace) took |= s.tid == 0 && s.irq;
  EXPECT_TRUE(took);
}

TEST(Explore, FreeWithoutFlushIsNotProtected) {
  ex::result r = ex::explore(ipi_program(true, false), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "table-uaf");
}

// An IPI to a thread that has not started or has already returned is taken by its CPU.
TEST(Explore, IpiToIdleCpusCompletes) {
  ex::program p = ipi_program(true, true);
  p.nthreads = 2;
  p.thread = [](int tid) {
    if (tid == 1) sync::smp_call_function_many(sync::cpu_online_mask(), flush_func, nullptr, true);
  };
  p.finish = [] {
    if (g_ipi->handled[0].load(sync::relaxed) != 1 || g_ipi->handled[1].load(sync::relaxed) != 1)
      ex::fail("model", "each CPU must have taken the IPI once");
  };
  ex::result r = ex::explore(p, ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
  EXPECT_GE(r.executions, 2u);
}

// ---- rw_semaphore --------------------------------------------------------------------------------
TEST(Explore, RwsemWriterExcludesReaders) {
  struct sem_world {
    sync::rw_semaphore sem;
    sync::atomic<int> readers{0}, writers{0};
  };
  static sem_world* g;
  ex::program p;
  p.nthreads = 3;
  p.setup = [] { g = new sem_world; };
  p.thread = [](int tid) {
    if (tid < 2) {
      g->sem.down_read();
      g->readers.fetch_add(1, sync::relaxed);
      if (g->writers.load(sync::relaxed)) ex::fail("rwsem", "a reader inside with a writer");
      g->readers.fetch_sub(1, sync::relaxed);
      g->sem.up_read();
    } else {
      g->sem.down_write();
      g->writers.fetch_add(1, sync::relaxed);
      if (g->readers.load(sync::relaxed)) ex::fail("rwsem", "a writer inside with a reader");
      g->writers.fetch_sub(1, sync::relaxed);
      g->sem.up_write();
    }
  };
  p.teardown = [] { delete g; };
  ex::result r = ex::explore(p, ex::options{});
  EXPECT_FALSE(r.found.has_value()) << r.found->kind << ": " << r.found->message;
  EXPECT_TRUE(r.exhaustive);
}

// ---- search properties -----------------------------------------------------------------------------
namespace {
struct dekker {
  sync::atomic<int> a{0}, b{0};
  int seen[2] = {};  // each written by its own thread, read by finish
};
dekker* g_dk;

// Each thread raises its flag, reads the other's, lowers its own: both reading 1 needs the
// threads to interleave twice (two preemptions).
ex::program two_preemption_bug() {
  ex::program p;
  p.nthreads = 2;
  p.setup = [] { g_dk = new dekker; };
  p.thread = [](int tid) {
    sync::atomic<int>& mine = tid == 0 ? g_dk->a : g_dk->b;
    sync::atomic<int>& other = tid == 0 ? g_dk->b : g_dk->a;
    ex::annotate(tid == 0 ? "A" : "B");
    mine.store(1, sync::relaxed);
    int seen = other.load(sync::relaxed);
    mine.store(0, sync::relaxed);
    g_dk->seen[tid] = seen;
  };
  p.finish = [] {
    if (g_dk->seen[0] && g_dk->seen[1]) ex::fail("both", "both threads saw the other's flag");
  };
  p.teardown = [] { delete g_dk; };
  return p;
}
}  // namespace

TEST(Explore, IterativeDeepeningFindsTheFewestPreemptions) {
  ex::options o;
  o.bound = 3;
  ex::result r = ex::explore(two_preemption_bug(), o);
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "both");
  EXPECT_EQ(r.found->preemptions, 2);
  EXPECT_EQ(r.bound_reached, 2);
  // Nothing within one preemption.
  o.bound = 1;
  r = ex::explore(two_preemption_bug(), o);
  EXPECT_FALSE(r.found.has_value());
  EXPECT_TRUE(r.exhaustive);
}

TEST(Explore, ReplayTokenGivesTheSameExecution) {
  ex::result r = ex::explore(two_preemption_bug(), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  const ex::violation& v = *r.found;
  EXPECT_EQ(v.replay.substr(0, 3), "g1-");
  ex::options o;
  o.replay = v.replay;
  ex::result again = ex::explore(two_preemption_bug(), o);
  ASSERT_TRUE(again.found.has_value());
  EXPECT_EQ(again.executions, 1u);
  EXPECT_EQ(again.found->kind, v.kind);
  EXPECT_EQ(again.found->message, v.message);
  EXPECT_EQ(again.found->replay, v.replay);
  EXPECT_EQ(again.found->preemptions, v.preemptions);
  ASSERT_EQ(again.found->trace.size(), v.trace.size());
  for (size_t i = 0; i < v.trace.size(); i++) {
    const ex::step &a = again.found->trace[i], &b = v.trace[i];
    EXPECT_EQ(a.tid, b.tid) << i;
    EXPECT_EQ(a.what, b.what) << i;
    EXPECT_EQ(a.op, b.op) << i;
    EXPECT_EQ(a.value, b.value) << i;
    EXPECT_EQ(a.where, b.where) << i;
    EXPECT_EQ(a.note, b.note) << i;
    EXPECT_EQ(a.preemption, b.preemption) << i;
  }
  // The notes name each thread's steps.
  for (const ex::step& s : v.trace)
    if (s.op == "store" || s.op == "load") EXPECT_EQ(s.note, s.tid == 0 ? "A" : "B");
}

TEST(Explore, BadReplayTokensAreRefused) {
  ex::options o;
  o.replay = "g1-garbage!";
  EXPECT_THROW(ex::explore(two_preemption_bug(), o), std::invalid_argument);
  o.replay = "nope";
  EXPECT_THROW(ex::explore(two_preemption_bug(), o), std::invalid_argument);
  ex::result r = ex::explore(two_preemption_bug(), ex::options{});
  ASSERT_TRUE(r.found.has_value());
  std::string t = r.found->replay;
  t[t.size() / 2] = t[t.size() / 2] == 'A' ? 'B' : 'A';  // a typo
  o.replay = t;
  EXPECT_THROW(ex::explore(two_preemption_bug(), o), std::invalid_argument);
}

// Workers that share one search (explore/parallel.h) explore exactly what one process does:
// the same executions, exhaustively; a violation with the same fewest preemptions.
TEST(Explore, WorkersShareOneSearchExactly) {
  for (bool reduction : {true, false}) {
    ex::options o;
    o.bound = 2;
    o.reduction = reduction;
    ex::result whole = ex::explore(message_passing(true), o);
    ASSERT_TRUE(whole.exhaustive);
    for (int jobs : {2, 3}) {
      o.jobs = jobs;
      ex::result part = ex::explore(message_passing(true), o);
      EXPECT_TRUE(part.exhaustive);
      EXPECT_FALSE(part.found.has_value());
      EXPECT_EQ(part.executions, whole.executions) << jobs << " workers, reduction " << reduction;
      EXPECT_EQ(part.workers, jobs);
      uint64_t units = 0;
      for (const ex::share& s : part.shares) units += s.units;
      EXPECT_GE(units, 1u);
    }
  }
  ex::options o;
  ex::result alone = ex::explore(two_preemption_bug(), o);
  o.jobs = 4;
  ex::result together = ex::explore(two_preemption_bug(), o);
  ASSERT_TRUE(alone.found.has_value());
  ASSERT_TRUE(together.found.has_value());
  EXPECT_EQ(together.found->kind, alone.found->kind);
  EXPECT_EQ(together.found->preemptions, alone.found->preemptions);
  EXPECT_FALSE(together.found->trace.empty());  // traced again by the coordinator
}

TEST(Explore, ApiContract) {
  EXPECT_FALSE(ex::in_explorer());
  EXPECT_THROW(ex::fail("x", "y"), std::logic_error);
  ex::program p;
  p.nthreads = 0;
  p.thread = [](int) {};
  EXPECT_THROW(ex::explore(p, ex::options{}), std::invalid_argument);
  p.nthreads = 1;
  bool inside = false;
  p.setup = [&] { inside = ex::in_explorer(); };
  ex::options o;
  o.shard_count = 2;
  o.shard_index = 2;
  EXPECT_THROW(ex::explore(p, o), std::invalid_argument);
  ex::result r = ex::explore(p, ex::options{});
  EXPECT_TRUE(inside);
  EXPECT_TRUE(r.exhaustive);
  EXPECT_EQ(r.executions, 1u);
  // An exception in a thread is reported, and teardown still runs.
  bool torn_down = false;
  p.thread = [](int) { throw std::runtime_error("boom"); };
  p.teardown = [&] { torn_down = true; };
  r = ex::explore(p, ex::options{});
  ASSERT_TRUE(r.found.has_value());
  EXPECT_EQ(r.found->kind, "exception");
  EXPECT_NE(r.found->message.find("boom"), std::string::npos);
  EXPECT_TRUE(torn_down);
}
