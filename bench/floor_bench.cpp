// The floor: what pin+unpin of 1024 pages costs with no page-table walk at all, only the
// reference-count atomics, on a memmap-like array of 64-byte structs (one per 4 KiB page,
// the size of our struct page and the kernel's).
//
//   pin/4k/floor          per page: one add (the pin) in a first pass, one sub (the unpin) in
//                         a second pass, as pin_user_pages then unpin_user_pages: 2 atomic
//                         read-modify-writes per page
//   pin/thp/floor         the same per 2 MiB folio: 2 atomics per 512 pages
//   breakdown/4k/atomics  what GUP's protocol itself does per small folio, still without a
//                         walk: add-unless-zero (a CAS loop), add GUP_PIN_COUNTING_BIAS - 1,
//                         smp_mb, set PG_referenced (an atomic OR), and the unpin's sub:
//                         4 atomic read-modify-writes and a full fence per page, as
//                         try_grab_folio_fast + folio_set_referenced + gup_put_folio
//   breakdown/4k/atomics-no-fence
//                         the same without the separate fence: the kernel's x86 sequence,
//                         where smp_mb__after_atomic() after the locked add is only a
//                         compiler barrier (our sync seam's smp_mb() is a real fence)
//   breakdown/4k/atomics-3
//                         the same without the OR as well (PG_referenced tested first and
//                         found set, as on every pin after the first): 3 read-modify-writes
//
// These use std::atomic directly (seq_cst read-modify-writes are `lock`-prefixed
// instructions on x86, the same as the kernel's atomic_add/atomic_sub_and_test).
#include <atomic>
#include <cstdint>
#include <memory>

#include "fixture.h"
#include "memmap/page_ref.h"
#include "suite.h"

namespace gupfast::bench {

namespace {

// 64 bytes, like struct page: refcount, flags and padding.
struct alignas(64) fake_page {
  std::atomic<int> refcount{1};
  std::atomic<unsigned long> flags{0};
  char pad[48];
};
static_assert(sizeof(fake_page) == 64);

// One array per benchmark call, as fresh as the machine the other rows build.
std::unique_ptr<fake_page[]> make_memmap(long n) { return std::make_unique<fake_page[]>(static_cast<size_t>(n)); }

// pin_user_pages then unpin_user_pages, reduced to their atomics: `step` pages per folio.
void bm_floor(benchmark::State& state, long step) {
  auto map = make_memmap(NPAGES);
  const int refs = static_cast<int>(step) * GUP_PIN_COUNTING_BIAS;
  for (auto _ : state) {
    for (long i = 0; i < NPAGES; i += step) map[i].refcount.fetch_add(refs);
    for (long i = 0; i < NPAGES; i += step) map[i].refcount.fetch_sub(refs);
  }
  benchmark::DoNotOptimize(map.get());
  state.counters[PAGES_PER_ITER] = static_cast<double>(NPAGES);
  state.counters["atomics_per_page"] = 2.0 / static_cast<double>(step);
}

void bm_protocol_atomics(benchmark::State& state, bool fence, bool set_referenced) {
  auto map = make_memmap(NPAGES);
  for (auto _ : state) {
    for (long i = 0; i < NPAGES; i++) {
      fake_page& p = map[i];
      int old = p.refcount.load(std::memory_order_relaxed);
      do {  // folio_ref_try_add: add unless zero
        if (old == 0) break;
      } while (!p.refcount.compare_exchange_weak(old, old + 1));
      p.refcount.fetch_add(GUP_PIN_COUNTING_BIAS - 1, std::memory_order_relaxed);
      if (fence)
        std::atomic_thread_fence(std::memory_order_seq_cst);  // [PIN-MB]
      else
        std::atomic_signal_fence(std::memory_order_seq_cst);  // smp_mb__after_atomic on x86
      if (set_referenced)
        p.flags.fetch_or(1ul << PG_referenced, std::memory_order_relaxed);
      else if (!(p.flags.load(std::memory_order_relaxed) & (1ul << PG_referenced)))
        p.flags.fetch_or(1ul << PG_referenced, std::memory_order_relaxed);
    }
    for (long i = 0; i < NPAGES; i++) map[i].refcount.fetch_sub(GUP_PIN_COUNTING_BIAS, std::memory_order_acq_rel);
  }
  benchmark::DoNotOptimize(map.get());
  state.counters[PAGES_PER_ITER] = static_cast<double>(NPAGES);
  state.counters["atomics_per_page"] = set_referenced ? 4.0 : 3.0;
}

}  // namespace

void register_floor_suite(std::vector<std::string>* ids, const suite_timing& t) {
  register_one(ids, "pin/4k/floor", [](benchmark::State& s) { bm_floor(s, 1); }, t.min_time, t.repetitions);
  register_one(ids, "pin/thp/floor", [](benchmark::State& s) { bm_floor(s, HPAGE_PMD_NR); }, t.min_time, t.repetitions);
  register_one(
      ids, "breakdown/4k/atomics", [](benchmark::State& s) { bm_protocol_atomics(s, true, true); }, t.min_time,
      t.repetitions);
  register_one(
      ids, "breakdown/4k/atomics-no-fence", [](benchmark::State& s) { bm_protocol_atomics(s, false, true); },
      t.min_time, t.repetitions);
  register_one(
      ids, "breakdown/4k/atomics-3", [](benchmark::State& s) { bm_protocol_atomics(s, false, false); }, t.min_time,
      t.repetitions);
}

}  // namespace gupfast::bench
