// Memory: what the model costs per frame and in resident memory.
//
//   memory/struct_page  sizeof(struct page): the metadata per 4 KiB frame (the kernel's is 64
//                       bytes on x86-64 too, 1.6% of memory)
//   memory/rss          resident memory (VmRSS, /proc/self/status) of a 16 GiB machine
//                       (machine_config.frames = 4M) after machine_create, and after one
//                       address space faulted in 1 GiB of anonymous memory with mm_store;
//                       both as growth over the process before the machine existed. The
//                       memmap and the frames are mmap'ed lazily (MAP_NORESERVE), so only
//                       what is touched is resident
// Each runs exactly once: the figures are sizes, not times.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "fixture.h"
#include "suite.h"

namespace gupfast::bench {

namespace {

constexpr unsigned long RSS_FRAMES = 4ul << 20;  // 16 GiB
constexpr unsigned long TOUCH_BYTES = 1ul << 30;
constexpr unsigned long TOUCH_AT = 0x100000000ul;

// VmRSS in KiB, or -1.
long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  long kib;
  while (std::getline(in, line))
    if (std::sscanf(line.c_str(), "VmRSS: %ld kB", &kib) == 1) return kib;
  return -1;
}

void bm_struct_page(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(sizeof(page));
  state.counters["bytes"] = static_cast<double>(sizeof(page));
  state.counters["percent_of_frame"] = 100.0 * static_cast<double>(sizeof(page)) / static_cast<double>(PAGE_SIZE);
}

void bm_rss(benchmark::State& state) {
  for (auto _ : state) {
    long before = rss_kib();
    bench_machine m(state, table_strategy::rcu, RSS_FRAMES);
    if (!m.ok()) return;
    long created = rss_kib();
    auto t0 = std::chrono::steady_clock::now();
    if (!m.populate(TOUCH_AT, static_cast<long>(TOUCH_BYTES / PAGE_SIZE), false)) return;
    double touch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long touched = rss_kib();
    if (before < 0 || created < 0 || touched < 0) {
      state.SkipWithError("no VmRSS in /proc/self/status");
      return;
    }
    state.counters["frames"] = static_cast<double>(RSS_FRAMES);
    state.counters["touched_mib"] = static_cast<double>(TOUCH_BYTES >> 20);
    state.counters["rss_mib_machine"] = static_cast<double>(created - before) / 1024.0;
    state.counters["rss_mib_touched"] = static_cast<double>(touched - before) / 1024.0;
    state.counters["memmap_mib_if_resident"] = static_cast<double>(RSS_FRAMES * sizeof(page)) / (1 << 20);
    state.counters["touch_ns_per_page"] = touch_s * 1e9 / static_cast<double>(TOUCH_BYTES / PAGE_SIZE);
  }
}

}  // namespace

void register_memory_suite(std::vector<std::string>* ids, const suite_timing&) {
  register_one(ids, "memory/struct_page", bm_struct_page, 0, 1);
  register_one(ids, "memory/rss", bm_rss, 0, 1);
}

}  // namespace gupfast::bench
