// What the machine-based suites share: a machine with one populated address space, the
// address layout, the pin+unpin loop, and snapshots of the event counters.
//
// Layout (all in the first GiB of user space, so in one PMD table):
//   REGION       1024 x 4 KiB pages from 0x40040000: 64 pages into a PTE table, so the
//                range reads three PTE tables (0x40000000, 0x40200000, 0x40400000)
//   SAME_TABLE   16 pages at 0x40000000: the 64 pages before REGION, in REGION's first PTE
//                table but never pinned (a mutator there shares a table with the pinner)
//   NEIGHBOUR    the 2 MiB at 0x40600000: its own PTE table in REGION's PMD table (a
//                mutator there frees and allocates tables next to the pinner's)
//   THP_REGION   1024 pages = two 2 MiB THP folios at 0x40000000
#pragma once
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>

#include "gup/gup.h"
#include "machine/machine.h"

namespace gupfast::bench {

inline constexpr long NPAGES = 1024;
inline constexpr unsigned long REGION = 0x40040000ul;
inline constexpr unsigned long SAME_TABLE = 0x40000000ul;
inline constexpr long SAME_TABLE_PAGES = 16;
inline constexpr unsigned long NEIGHBOUR = 0x40600000ul;
inline constexpr unsigned long THP_REGION = 0x40000000ul;
// The pins a DMA user takes: writable, long-term (io_uring's own flags).
inline constexpr unsigned PIN_FLAGS = FOLL_WRITE | FOLL_LONGTERM;

// The page-table lifetime strategies compared (docs/strategies.md); seqcount at its
// default scope (per table).
struct strategy_case {
  const char* name;
  table_strategy strategy;
};
inline constexpr std::array<strategy_case, 3> STRATEGIES = {{
    {"ipi", table_strategy::ipi},
    {"rcu", table_strategy::rcu},
    {"seqcount", table_strategy::seqcount},
}};

// A machine (the process's only one) with one address space. The constructing thread is a
// CPU while the object lives. Check ok() before use: a failure has already been reported
// to `state` with SkipWithError.
class bench_machine {
 public:
  bench_machine(benchmark::State& state, table_strategy s, unsigned long frames = 1ul << 20);
  ~bench_machine();
  bench_machine(const bench_machine&) = delete;
  bench_machine& operator=(const bench_machine&) = delete;

  bool ok() const { return ok_; }
  mm_struct* mm() const { return mm_; }
  // mmap npages at addr (MAP_HUGE_THP when thp) and fault every page in with a store.
  // False (and SkipWithError) on failure.
  bool populate(unsigned long addr, long npages, bool thp);

 private:
  benchmark::State& state_;
  cpu_scope cpu_;
  bool ok_ = false;
  bool created_ = false;
  mm_struct* mm_ = nullptr;
};

// Snapshot of every event counter (summed over CPUs).
struct counter_snapshot {
  uint64_t v[NR_COUNTERS];
  static counter_snapshot now();
  uint64_t since(const counter_snapshot& before, counter_id id) const { return v[id] - before.v[id]; }
};

// How one pin call is made: the fast path (pin_user_pages_fast) or the slow path
// (pin_user_pages under mmap_lock).
enum class pin_path { fast, slow };

// The timed loop: pin npages from start and unpin them, once per iteration. Sets
// PAGES_PER_ITER and, for the fast path, report_stop_counters()'s counters. A short pin is
// reported as an error.
void pin_unpin_loop(benchmark::State& state, mm_struct* mm, unsigned long start, long npages, pin_path path);

// Per gup_fast call: "<counter>_per_call" for every stop_* counter that moved,
// stops_per_call (all of them) and slow_pages_per_call.
void report_stop_counters(benchmark::State& state, const counter_snapshot& before, const counter_snapshot& after);

// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), in seconds.
double thread_cpu_seconds();

// "EPERM" for EPERM, and so on.
std::string errno_name(int err);

}  // namespace gupfast::bench
