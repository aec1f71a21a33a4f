// The machine fixture and the pin+unpin loop shared by the machine-based suites (fixture.h).
#include "fixture.h"

#include <time.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "suite.h"

namespace gupfast::bench {

bench_machine::bench_machine(benchmark::State& state, table_strategy s, unsigned long frames) : state_(state) {
  if (cpu_.id() < 0) {
    state.SkipWithError("the benchmark thread could not become a CPU");
    return;
  }
  machine_config cfg;
  cfg.strategy = s;  // tlb: the strategy's default (ipi for ipi, else broadcast)
  cfg.frames = frames;
  cfg.poison = false;
  if (int rc = machine_create(cfg); rc != 0) {
    state.SkipWithError(fmt::format("machine_create: {}", errno_name(-rc)).c_str());
    return;
  }
  created_ = true;
  mm_ = mm_alloc();
  if (!mm_) {
    state.SkipWithError("mm_alloc failed");
    return;
  }
  ok_ = true;
}

bench_machine::~bench_machine() {
  if (mm_) mmput(mm_);
  if (created_) machine_destroy();
}

bool bench_machine::populate(unsigned long addr, long npages, bool thp) {
  long r = vm_mmap(mm_, addr, npages * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | (thp ? MAP_HUGE_THP : 0));
  if (r != static_cast<long>(addr)) {
    state_.SkipWithError(fmt::format("vm_mmap({:#x}): {}", addr, r < 0 ? errno_name(static_cast<int>(-r)) : "moved").c_str());
    ok_ = false;
    return false;
  }
  for (long i = 0; i < npages; i++) {
    if (int e = mm_store(mm_, addr + i * PAGE_SIZE, 1); e != 0) {
      state_.SkipWithError(fmt::format("mm_store: {}", errno_name(-e)).c_str());
      ok_ = false;
      return false;
    }
  }
  return true;
}

counter_snapshot counter_snapshot::now() {
  counter_snapshot s;
  for (unsigned i = 0; i < NR_COUNTERS; i++) s.v[i] = counter_read(static_cast<counter_id>(i));
  return s;
}

void report_stop_counters(benchmark::State& state, const counter_snapshot& before, const counter_snapshot& after) {
  double calls = static_cast<double>(after.since(before, CNT_gup_fast_calls));
  if (calls == 0) return;
  double all = 0;
  for (unsigned id = CNT_stop_pte_changed; id <= CNT_stop_bad_pfn; id++) {
    uint64_t n = after.since(before, static_cast<counter_id>(id));
    all += static_cast<double>(n);
    if (n) state.counters[std::string(counter_names[id]) + "_per_call"] = static_cast<double>(n) / calls;
  }
  state.counters["stops_per_call"] = all / calls;
  state.counters["slow_pages_per_call"] = static_cast<double>(after.since(before, CNT_gup_slow_pages)) / calls;
}

void pin_unpin_loop(benchmark::State& state, mm_struct* mm, unsigned long start, long npages, pin_path path) {
  std::vector<page*> pages(static_cast<size_t>(npages));
  counter_snapshot before = counter_snapshot::now();
  for (auto _ : state) {
    long n;
    if (path == pin_path::fast) {
      n = pin_user_pages_fast(mm, start, npages, PIN_FLAGS, pages.data());
    } else {
      mm->mmap_lock.down_read();
      n = pin_user_pages(mm, start, npages, PIN_FLAGS, pages.data());
      mm->mmap_lock.up_read();
    }
    if (n != npages) {
      if (n > 0) unpin_user_pages(pages.data(), n);
      state.SkipWithError(fmt::format("short pin: {} of {} pages", n, npages).c_str());
      break;
    }
    unpin_user_pages(pages.data(), n);
  }
  counter_snapshot after = counter_snapshot::now();
  state.counters[PAGES_PER_ITER] = static_cast<double>(npages);
  if (path == pin_path::fast) report_stop_counters(state, before, after);
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  if (const char* n = strerrorname_np(err)) return n;
#endif
  return fmt::format("errno {}", err);
}

}  // namespace gupfast::bench
