// The stress harness's run (src/stress/stress.h): set up the machine, the oracle and the
// working set, start the threads, wait for the deadline or the operation budget, tear
// down with the end-of-run checks, and collect the report.
#include "stress/stress.h"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "mm/swap.h"
#include "mm/vmscan.h"
#include "stress/workload.h"

GUPFAST_NS_BEGIN
namespace stress {

namespace {

const char* const mutator_names[NR_MUTATORS] = {
    "munmap", "madvise", "mprotect", "remap", "reclaim", "migrate",
    "split",  "collapse", "fork",    "user-writes", "dma",
};

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

// The threads of a run, in a fixed order: GUP threads first (index = DMA slot), then one
// per enabled mutator that is a thread (not dma). Index i also seeds thread i.
struct thread_plan {
  bool gup;
  unsigned slot;  // GUP thread: its DMA slot
  mutator m;
  uint64_t quota = 0;  // its share of options::ops
};

// An operation budget is shared in proportion to what an operation costs, so that every
// thread runs for about as long: a GUP call or a read-locked mutator takes microseconds,
// a layout change, fork or collapse takes mmap_lock for write and touches a whole region.
unsigned ops_weight(const thread_plan& p) {
  if (p.gup) return 16;
  switch (p.m) {
    case mutator::munmap:
    case mutator::mprotect:
    case mutator::remap:
    case mutator::fork:
    case mutator::collapse: return 1;
    default: return 4;
  }
}

// Thread i gets floor(ops * w_i / W); the remainder goes one by one to the threads in
// order. Deterministic: the same options give the same quotas.
void share_ops(std::vector<thread_plan>& plan, uint64_t ops) {
  uint64_t total_weight = 0;
  for (const thread_plan& p : plan) total_weight += ops_weight(p);
  uint64_t given = 0;
  for (thread_plan& p : plan) {
    p.quota = uint64_t((unsigned __int128)ops * ops_weight(p) / total_weight);
    given += p.quota;
  }
  for (size_t i = 0; given < ops; i = (i + 1) % plan.size(), given++) plan[i].quota++;
}

std::vector<thread_plan> plan_threads(const options& o) {
  std::vector<thread_plan> plan;
  for (unsigned i = 0; i < o.threads; i++) plan.push_back({true, i, mutator::dma});
  for (unsigned m = 0; m < NR_MUTATORS; m++)
    if (o.mutators >> m & 1 && mutator(m) != mutator::dma) plan.push_back({false, 0, mutator(m)});
  return plan;
}

// The end-of-run checks that are not the oracle's own: every frame and swap slot came back
// once the last mm is gone. Reported to the oracle as refcount violations.
void leak_check(report& rep) {
  // A swap PTE zapped while reclaim held its folio locked leaves the folio in the swap
  // cache with no user (free_swap_and_cache only trylocks); if that reclaim then backed off,
  // the folio waits on the LRU for the next reclaim pass, as in the kernel. Run that pass
  // (memory pressure at the end) before calling anything left a leak.
  reclaim_stats drained;
  (void)reclaim_lru(lru_nr_folios() + 1, &drained);
  rep.orphans_reclaimed = drained.nr_reclaimed;
  rep.leaked_frames = machine_frames_in_use();
  rep.leaked_swap_slots = swap_slots_in_use();
  if (rep.leaked_frames) {
    check::violation v;
    v.kind = check::violation_kind::refcount;
    v.message = fmt::format("{} frames still in use after the last address space exited (leak)", rep.leaked_frames);
    check::oracle_report(std::move(v));
  }
  if (rep.leaked_swap_slots) {
    check::violation v;
    v.kind = check::violation_kind::refcount;
    v.message = fmt::format("{} swap slots still in use after the last address space exited (leak)", rep.leaked_swap_slots);
    check::oracle_report(std::move(v));
  }
}

}  // namespace

const char* to_string(mutator m) { return unsigned(m) < NR_MUTATORS ? mutator_names[unsigned(m)] : "?"; }

std::optional<uint32_t> parse_mutator_list(std::string_view list, std::string* bad) {
  if (list == "all") return ALL_MUTATORS;
  if (list == "none") return 0u;
  return parse_name_mask(list, NR_MUTATORS, [](unsigned i) { return std::string_view(mutator_names[i]); }, bad);
}

std::string mutator_mask_names(uint32_t mask) {
  std::string s = mask_names(mask, NR_MUTATORS, [](unsigned i) { return mutator_names[i]; });
  return s.empty() ? "none" : s;
}

report run(const options& o) {
  report rep;
  if (o.threads < 1 || o.threads > MAX_GUP_THREADS) {
    rep.error = fmt::format("{} GUP threads: must be 1 to {}", o.threads, MAX_GUP_THREADS);
    return rep;
  }
  if (int e = machine_create(o.cfg)) {
    rep.error = fmt::format("machine_create failed ({})", e);
    return rep;
  }
  rep.machine = machine_describe();
  rep.strategy = g_cfg.strategy;
  rep.tlb = g_cfg.tlb;
  rep.pte = g_cfg.pte;
  rep.unsafe = g_cfg.unsafe;

  workload w;
  w.opts = &o;
  w.dma = o.mutators >> unsigned(mutator::dma) & 1;

  check::oracle_options oo;
  oo.on_violation = [&](const check::violation& v) {
    if (o.stop_on_violation) w.stop.store(true, std::memory_order_relaxed);  // see workload::stop
    if (o.on_violation) o.on_violation(v);
  };
  if (int e = check::oracle_start(oo)) {
    machine_destroy();
    rep.error = fmt::format("oracle_start failed ({})", e);
    return rep;
  }

  {  // Set up as a CPU, then go offline: the main thread only waits while the threads run.
    cpu_scope cpu;
    w.mm = check::op_mm_alloc();
    std::string what;
    int e = w.mm ? setup_working_set(w, &what) : -ENOMEM;
    if (e) {
      rep.error = w.mm ? fmt::format("{} failed ({})", what, e) : "mm_alloc failed";
      if (w.mm) check::op_mm_put(w.mm);
      check::oracle_stop();
      machine_destroy();
      return rep;
    }
  }

  // The threads and their share of an operation budget.
  std::vector<thread_plan> plan = plan_threads(o);
  if (o.ops) share_ops(plan, o.ops);
  std::vector<thread_stats> stats(plan.size());
  if (o.amplify) sync::set_amplify(true, o.seed);
  auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < plan.size(); i++) {
    const thread_plan& p = plan[i];
    uint64_t quota = p.quota;
    if (o.ops && quota == 0) continue;  // a budget too small to give this thread any
    if (p.gup)
      threads.emplace_back(gup_thread, std::ref(w), p.slot, quota, o.seed, std::ref(stats[i]));
    else
      threads.emplace_back(mutator_thread, std::ref(w), p.m, unsigned(i), quota, o.seed, std::ref(stats[i]));
  }

  // Wait: the deadline, the budget (every thread finished its share) or a stop.
  // Set once every thread has returned; polled by this loop. The release/acquire pair
  // makes the threads' final counters visible here (their joins happened before).
  std::atomic<bool> finished{false};
  std::thread joiner([&] {
    for (auto& t : threads) t.join();
    finished.store(true, std::memory_order_release);  // pairs with the acquire below
  });
  auto next_progress = t0;
  while (!finished.load(std::memory_order_acquire)) {
    double t = since(t0);
    if (o.ops == 0 && t >= o.seconds) w.stop.store(true, std::memory_order_relaxed);  // see workload::stop
    if (o.on_progress && clock_type::now() >= next_progress) {
      progress p;
      p.elapsed = t;
      for (auto& s : stats) p.ops += s.ops.load(std::memory_order_relaxed);  // see thread_stats
      p.ops_target = o.ops;
      p.seconds_target = o.ops ? 0 : o.seconds;
      p.violations = check::oracle_violation_count();
      o.on_progress(p);
      next_progress += std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.progress_interval));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  joiner.join();
  rep.seconds = since(t0);
  if (o.amplify) sync::set_amplify(false, 0);
  rep.stopped_early = o.stop_on_violation && check::oracle_violation_count() > 0;

  {  // Tear down as a CPU: read back every device write, end-of-run checks, leaks.
    cpu_scope cpu;
    (void)check::op_readback(w.mm);
    check::oracle_finish();
    check::op_mm_put(w.mm);
    leak_check(rep);
  }

  for (size_t i = 0; i < plan.size(); i++) {
    const thread_stats& s = stats[i];
    if (plan[i].gup) {
      for (unsigned c = 0; c < NR_GUP_CALLS; c++) rep.gup_calls[c] += s.gup_calls[c].load(std::memory_order_relaxed);
      rep.mutator_ops[unsigned(mutator::dma)] += s.dma_writes.load(std::memory_order_relaxed);
    } else {
      rep.mutator_ops[unsigned(plan[i].m)] += s.ops.load(std::memory_order_relaxed);
    }
  }
  for (unsigned c = 0; c < NR_COUNTERS; c++) rep.counters[c] = counter_read(counter_id(c));
  rep.unexpected_errors = w.unexpected.load(std::memory_order_relaxed);
  rep.error_lines = w.error_lines;
  rep.violation_count = check::oracle_violation_count();
  for (int k = 0; k < check::NR_VIOLATION_KINDS; k++)
    rep.violations_by_kind[k] = check::oracle_violation_count(check::violation_kind(k));
  rep.violations = check::oracle_violations();
  check::oracle_stop();
  machine_destroy();
  return rep;
}

}  // namespace stress
GUPFAST_NS_END
