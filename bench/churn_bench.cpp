// Strategies under churn: pin+unpin of REGION (1024 x 4 KiB) on one CPU while a mutator CPU
// changes the address space next to it at a fixed rate (MUTATOR_HZ operations a second):
//
//   churn/munmap/<s>    munmap the 2 MiB NEIGHBOUR (16 pages touched; its PTE table is freed
//                       through the strategy: the flush IPI, call_rcu, or the type-stable
//                       cache), then mmap it again and touch the 16 pages
//   churn/reclaim/<s>   reclaim_range the 16 SAME_TABLE pages (they go to swap; their PTEs
//                       change in a PTE table the pinner reads), then write them back in
//   churn/collapse/<s>  mmap NEIGHBOUR with small pages (16 touched), MADV_HUGEPAGE,
//                       collapse_pmd_range (its PTE table is freed through the strategy;
//                       rcu adds tlb_remove_table_sync_one's IPI), munmap
//
// Reported per strategy <s> (ipi, rcu, seqcount): the pinner's ns per page, its fast-path
// stops per call by reason (the stop_* counters of machine/counters.h), and the mutator's
// cost: wall time of the call that frees the table (munmap, collapse_pmd_range) per table
// freed, or of reclaim_range per operation. The IPI strategy makes the freer wait for the
// pinner's irqs-off walk; rcu defers the free to a grace period (the mutator does not wait
// for it, but the memory is held until then); seqcount frees at once and makes walkers
// that read the changed table retry.
#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "fixture.h"
#include "mm/khugepaged.h"
#include "mm/vmscan.h"
#include "suite.h"

namespace gupfast::bench {

namespace {

constexpr int MUTATOR_HZ = 1000;
constexpr long MUTATOR_PAGES = 16;

enum class mutator_kind { munmap, reclaim, collapse };
constexpr const char* mutator_names[] = {"munmap", "reclaim", "collapse"};

using clk = std::chrono::steady_clock;

struct mutator_result {
  long ops = 0;
  long failures = 0;
  double op_ns = 0;    // whole operations
  double free_ns = 0;  // the call that frees the table (munmap, collapse) or reclaims
  double seconds = 0;
};

int touch(mm_struct* mm, unsigned long addr, long npages) {
  for (long i = 0; i < npages; i++)
    if (int e = mm_store(mm, addr + i * PAGE_SIZE, 2)) return e;
  return 0;
}

double ns_between(clk::time_point a, clk::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

// One mutator operation; adds the timed call to r.free_ns. False if it failed.
bool mutate_once(mm_struct* mm, mutator_kind kind, mutator_result* r) {
  switch (kind) {
    case mutator_kind::munmap: {
      auto t0 = clk::now();
      int e = vm_munmap(mm, NEIGHBOUR, PMD_SIZE);
      r->free_ns += ns_between(t0, clk::now());
      if (e) return false;
      if (vm_mmap(mm, NEIGHBOUR, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_) != long(NEIGHBOUR)) return false;
      return touch(mm, NEIGHBOUR, MUTATOR_PAGES) == 0;
    }
    case mutator_kind::reclaim: {
      auto t0 = clk::now();
      long n = reclaim_range(mm, SAME_TABLE, SAME_TABLE_PAGES * PAGE_SIZE, nullptr);
      r->free_ns += ns_between(t0, clk::now());
      return touch(mm, SAME_TABLE, SAME_TABLE_PAGES) == 0 && n == SAME_TABLE_PAGES;
    }
    case mutator_kind::collapse: {
      if (vm_mmap(mm, NEIGHBOUR, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_) != long(NEIGHBOUR)) return false;
      bool ok = touch(mm, NEIGHBOUR, MUTATOR_PAGES) == 0 && do_madvise(mm, NEIGHBOUR, PMD_SIZE, MADV_HUGEPAGE_) == 0;
      if (ok) {
        auto t0 = clk::now();
        ok = collapse_pmd_range(mm, NEIGHBOUR, nullptr) == 0;
        r->free_ns += ns_between(t0, clk::now());
      }
      return vm_munmap(mm, NEIGHBOUR, PMD_SIZE) == 0 && ok;
    }
  }
  return false;
}

// The mutator CPU: one operation every 1/MUTATOR_HZ s until stop (no catching up: a late
// operation moves the schedule).
void mutator_main(mm_struct* mm, mutator_kind kind, const std::atomic<bool>* stop, mutator_result* r) {
  cpu_scope cpu;
  const auto period = std::chrono::nanoseconds(1'000'000'000 / MUTATOR_HZ);
  const auto start = clk::now();
  auto next = start;
  while (!stop->load(std::memory_order_relaxed)) {
    auto t0 = clk::now();
    if (!mutate_once(mm, kind, r)) r->failures++;
    auto t1 = clk::now();
    r->op_ns += ns_between(t0, t1);
    r->ops++;
    next += period;
    if (next < t1) next = t1;
    std::this_thread::sleep_until(next);
  }
  r->seconds = std::chrono::duration<double>(clk::now() - start).count();
}

void bm_churn(benchmark::State& state, table_strategy s, mutator_kind kind) {
  bench_machine m(state, s);
  if (!m.ok()) return;
  mm_struct* mm = m.mm();
  if (!m.populate(REGION, NPAGES, false)) return;
  if (kind == mutator_kind::reclaim && !m.populate(SAME_TABLE, SAME_TABLE_PAGES, false)) return;
  if (kind == mutator_kind::munmap &&
      (vm_mmap(mm, NEIGHBOUR, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_) != long(NEIGHBOUR) ||
       touch(mm, NEIGHBOUR, MUTATOR_PAGES) != 0)) {
    state.SkipWithError("cannot map the munmap mutator's region");
    return;
  }

  counter_snapshot before = counter_snapshot::now();
  std::atomic<bool> stop{false};
  mutator_result r;
  std::thread mutator(mutator_main, mm, kind, &stop, &r);
  // How much of the run the pinner spent on a core: a flush IPI (strategy ipi) or
  // tlb_remove_table_sync_one (rcu, collapse) waits for it, longer when it is off one.
  const double c0 = thread_cpu_seconds();
  const auto t0 = clk::now();
  pin_unpin_loop(state, mm, REGION, NPAGES, pin_path::fast);
  const double on_core = (thread_cpu_seconds() - c0) / std::chrono::duration<double>(clk::now() - t0).count();
  stop.store(true, std::memory_order_relaxed);
  mutator.join();
  sync::rcu_barrier();  // rcu: the tables wait for their grace period; count them freed
  counter_snapshot after = counter_snapshot::now();

  uint64_t tables = after.since(before, CNT_tables_freed);
  state.counters["mutator_ops"] = static_cast<double>(r.ops);
  state.counters["mutator_failures"] = static_cast<double>(r.failures);
  state.counters["mutator_ops_per_s"] = r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0;
  state.counters["mutator_us_per_op"] = r.ops ? r.op_ns / 1e3 / static_cast<double>(r.ops) : 0;
  state.counters["tables_freed_per_op"] = r.ops ? static_cast<double>(tables) / static_cast<double>(r.ops) : 0;
  if (kind == mutator_kind::reclaim)
    state.counters["mutator_us_per_reclaim"] = r.ops ? r.free_ns / 1e3 / static_cast<double>(r.ops) : 0;
  else
    state.counters["mutator_us_per_table"] = tables ? r.free_ns / 1e3 / static_cast<double>(tables) : 0;
  state.counters["pinner_on_core_fraction"] = on_core;
  state.counters["tlb_ipis_per_op"] =
      r.ops ? static_cast<double>(after.since(before, CNT_tlb_ipis)) / static_cast<double>(r.ops) : 0;
}

}  // namespace

void register_churn_suite(std::vector<std::string>* ids, const suite_timing& t) {
  for (mutator_kind kind : {mutator_kind::munmap, mutator_kind::reclaim, mutator_kind::collapse})
    for (const strategy_case& c : STRATEGIES)
      register_one(
          ids, fmt::format("churn/{}/{}", mutator_names[static_cast<int>(kind)], c.name),
          [s = c.strategy, kind](benchmark::State& st) { bm_churn(st, s, kind); }, t.churn_min_time,
          t.repetitions);
}

}  // namespace gupfast::bench
