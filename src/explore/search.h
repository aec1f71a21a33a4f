// The explorer: runs a small concurrent program (a setup, 1..4 racing threads, a final
// check) under every interleaving of its scheduling points that a search reaches, on the
// model backend of the sync seam (sync/model.h). docs/explore.md is the design note.
//
//   dfs     depth-first over the scheduling choices with a preemption bound, dynamic
//           partial-order reduction and sleep sets; iterative deepening 0, 1, ... bound
//           makes the first counterexample one with the fewest preemptions; `exhaustive`
//           says every execution within the bound was covered
//   random  a uniform choice at each scheduling point, `runs` executions
//   pct     probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): random thread
//           priorities and pct_depth - 1 priority change points
//   replay  options.replay = a violation's token: exactly that execution again
//
// Everything here is plain data (no backend type crosses it), so a backend-neutral wrapper
// (explore/run.h) can copy it.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "memory/memory_model.h"
#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace explore {

inline constexpr int MAX_THREADS = 4;

// The program under test. Setup, finish and teardown run on the explorer's own stack as CPU 0
// with nothing else running (no scheduling point is a choice there: "direct mode"); the
// threads are fibers, thread tid on CPU tid (thread 0 shares CPU 0 with setup and finish, as a
// process that forks its racing threads off its main one).
struct program {
  int nthreads = 2;                      // 1..MAX_THREADS racing threads
  std::function<void()> setup;           // per execution, before the threads: create a machine, map memory
  std::function<void(int tid)> thread;   // thread tid's body
  std::function<void()> finish;          // after every thread ended: final checks (may call fail())
  std::function<void()> teardown;        // always runs, also after a violation: destroy the machine
  // Run setup once per search and start every execution from the state it left (a snapshot:
  // explore/world.h); teardown then runs once, at the end. Only for programs whose setup,
  // threads and finish keep all their state in the world (GUPFAST_WORLD globals and what
  // they allocate): the litmus interpreter's do.
  bool snapshot = false;
};

enum class mode { dfs, random, pct };

struct options {
  enum mode mode = mode::dfs;
  int bound = 2;                 // dfs: preemption bound (< 0: none)
  // The memory model of the threads (memory/memory_model.h), and under weak the stale-read
  // bound: loads per execution that read a store other than the newest (dfs, < 0: none;
  // iterative deepening goes 0, 1, ... stale_bound, each with preemptions 0, 1, ... bound).
  memory::model memory = memory::model::sc;
  int stale_bound = 2;
  bool iterative = true;         // dfs: bound 0, 1, ... bound; stops at the first violation
  bool reduction = true;         // dfs: DPOR + sleep sets (false: every interleaving within the bound)
  uint64_t runs = 1000;          // random / pct: executions
  uint64_t seed = 1;             // random / pct choices, and sync::random_u64()
  int pct_depth = 3;             // pct: d (d - 1 priority change points)
  int split_depth = 3;           // dfs: decision points explored without reduction
  // dfs on many cores and machines (explore/parallel.h): `jobs` worker processes here; and
  // with shard_count > 1, this process is shard shard_index of shard_count, which share one
  // search coordinated by shard 0 at `coordinator` ("HOST:PORT": shard 0 listens on PORT, the
  // others connect to HOST). The same executions as one process explores, dealt out as they go.
  int jobs = 1;
  int shard_index = 0;
  int shard_count = 1;
  std::string coordinator;
  double connect_timeout_s = 300;  // shards: how long to wait for the coordinator / for every shard
  // Called now and then during a search (at most every 100 ms; never in a pipe's way: the CLI
  // prints it on a terminal only).
  std::function<void(const struct progress&)> on_progress;
  // Per execution: one that reaches it is cut there and counts as inconclusive (result::cut),
  // never as a violation; the search goes on with the next execution.
  uint64_t max_steps = 1000000;
  std::optional<std::string> replay;  // run exactly this execution (a violation's token)
  double time_limit_s = 0;       // 0: none; else stop (not exhaustive) after this long
  uint64_t max_executions = 0;   // dfs: 0: none; else stop (not exhaustive) after this many
};

// One scheduling step: a seam operation (or an IPI or RCU callback taken) of one fiber.
struct step {
  int tid = -1;              // thread; -1: setup / finish (the explorer's own CPU 0); -2: RCU callbacks
  int cpu = -1;
  std::string what;          // the kernel function that made the access, or the yield point's name
  std::string op;            // load, store, rmw, fence, yield, relax, lock, unlock, irq_off, ipi_send, ...
  uint64_t addr = 0;
  uint64_t value = 0;        // read or written
  std::string where;         // file:line of the access
  std::string note;          // the fiber's annotation at the time (annotate())
  int preemption = 0;        // 1: this step began with a preemption
  bool irq = false;          // run by the CPU's interrupt context (an IPI handler)
  int stale = 0;             // its load read the stale-th newest store (weak memory; 0: the newest)
};

struct violation {
  std::string kind;          // the oracle's kinds, or deadlock, livelock, exception
  std::string message;
  std::string replay;        // token for options::replay
  std::vector<step> trace;   // every step of the execution up to the violation
  int preemptions = 0;
  int stale_reads = 0;       // loads that read a store other than the newest (weak memory)
};

// What a long search reports as it goes (options::on_progress).
struct progress {
  uint64_t executions = 0;  // so far, this bound and the ones before
  uint64_t cut = 0;
  int bound = 0;            // the bound being searched
  int stale = 0;            // and the stale-read bound (weak memory)
  double seconds = 0;
  int workers = 1;          // busy workers (parallel searches)
};

// A shard's part of a parallel search (result::shares).
struct share {
  int shard = 0;
  int workers = 0;
  uint64_t units = 0;       // subtrees its workers explored
  uint64_t executions = 0;
};

struct result {
  uint64_t executions = 0;   // the whole search's (parallel and sharded searches too)
  // Parallel searches: what this process's workers did, and every shard's share (shard 0
  // knows them all; another shard, its own).
  uint64_t units = 0, own_executions = 0;
  int workers = 1;
  std::vector<share> shares;
  uint64_t cut = 0;          // executions cut at options::max_steps (inconclusive)
  bool exhaustive = false;   // dfs: the whole space within bound_reached was covered (and none was cut)
  int bound_reached = 0;     // dfs: the largest bound whose search finished or ran
  int stale_reached = 0;     // dfs under weak: the same for the stale-read bound
  double seconds = 0;
  std::optional<violation> found;
};

result explore(const program& prog, const options& opts);

// Called from anywhere inside an execution (a thread, finish, an oracle hook): records the
// violation and ends the execution. Outside explore() it throws std::logic_error.
[[noreturn]] void fail(std::string kind, std::string message);
// Set the running fiber's note (shown in its trace steps until changed). Notes are kept only
// while the execution records its trace: build one only if annotating() says so.
void annotate(std::string note);
bool annotating();
// True while explore() runs (setup, threads, finish, teardown).
bool in_explorer();

}  // namespace explore
GUPFAST_NS_END
