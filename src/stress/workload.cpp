// The stress harness's working set and its GUP threads (src/stress/workload.h).
//
// A GUP thread, per operation: pick a call (pin_fast, get_fast, pin, get), 1..16 pages at a
// random place of a random region; hold the pages a moment; with the dma mutator on, and
// for pins only, let the device write a unique token into this thread's DMA word of every
// page; release; then read each of those words back through the process's page tables,
// where the oracle compares them with the device's writes (lost-write). FOLL_GET
// references get no device writes: DMA through a plain reference racing fork is the bug
// FOLL_PIN was made for, not a violation of the kernel's contract.
#include <thread>

#include <fmt/format.h>

#include "stress/workload.h"

GUPFAST_NS_BEGIN
namespace stress {

namespace {

// Regions are one PMD leaf each (2 MiB on x86-64), two leaves apart and leaf aligned, so a
// THP region can be PMD-mapped and no two regions share a VMA; the first is 128 leaves up
// (256 MiB on x86-64).
unsigned long working_set_base() { return 128 * PMD_SIZE; }
unsigned long region_stride() { return 2 * PMD_SIZE; }
unsigned long region_pages() { return PMD_SIZE / PAGE_SIZE; }
constexpr unsigned MAX_GUP_PAGES = 16;

}  // namespace

rng_t thread_rng(uint64_t seed, unsigned index) {
  // splitmix64 of (seed, index): nearby seeds and indices give unrelated streams.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return rng_t(z ^ (z >> 31));
}

range pick_range(rng_t& rng, const region& r, unsigned long max_pages, bool whole_ok) {
  // Draw the same numbers either way, so a thread's sequence does not depend on r.
  unsigned long n = 1 + pick(rng, max_pages);
  unsigned long first = pick(rng, r.pages - n + 1);
  if (r.whole && whole_ok) return {r.start, r.len()};
  return {r.start + first * PAGE_SIZE, n * PAGE_SIZE};
}

void pause(rng_t& rng, unsigned n) {
  for (unsigned long i = pick(rng, n + 1); i > 0; i--) std::this_thread::yield();
}

void workload::unexpected_error(std::string line) {
  unexpected.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lk(error_lock);
  if (error_lines.size() < 8) error_lines.push_back(std::move(line));
}

void workload::step_aside() {
  // Bounded: writers may follow each other for a while; a reader still gets its turn.
  for (int i = 0; i < 50 && writers_waiting.load(std::memory_order_relaxed) > 0; i++) std::this_thread::yield();
}

void workload::touch(unsigned long addr, uint8_t v) {
  // Above the DMA words: the process's own data never overlaps a device's.
  unsigned long off = check::DMA_SLOTS * 8 + (v * 13u) % (PAGE_SIZE - check::DMA_SLOTS * 8);
  (void)check::op_user_write(mm, (addr & ~(PAGE_SIZE - 1)) + off, v);
}

void workload::map_back(region& r, unsigned long addr, unsigned long len, bool populate, rng_t& rng) {
  long a;
  {
    write_intent wi(*this);
    a = check::op_mmap(mm, addr, len, PROT_READ_ | PROT_WRITE_, r.map_flags);
  }
  if (a != long(addr)) {
    unexpected_error(fmt::format("mmap({:#x}, {:#x}) of region {} returned {}", addr, len, r.name, a));
    return;
  }
  if (populate || r.hugepage)
    for (unsigned long p = addr; p < addr + len; p += PAGE_SIZE) touch(p, uint8_t(rng()));
  if (r.hugepage) {
    // After the first faults: they made a PTE table, so the range is PTE-mapped for
    // collapse rather than faulted as a THP. (MADV_HUGEPAGE takes mmap_lock for write.)
    write_intent wi(*this);
    int e = check::op_madvise(mm, addr, len, MADV_HUGEPAGE_);
    if (e) unexpected_error(fmt::format("madvise(MADV_HUGEPAGE) of region {} returned {}", r.name, e));
  }
}

int setup_working_set(workload& w, std::string* what) {
  struct spec {
    const char* name;
    int flags;
    bool hugepage;
  };
  const spec specs[] = {
      {"thp0", MAP_PRIVATE_ | MAP_HUGE_THP, false},
      {"thp1", MAP_PRIVATE_ | MAP_HUGE_THP, false},
      {"hp", MAP_PRIVATE_, true},
      {"small", MAP_PRIVATE_, false},
      {"shared", MAP_SHARED_, false},
  };
  rng_t rng = thread_rng(w.opts->seed, 1000);
  unsigned long start = working_set_base();
  for (const spec& s : specs) {
    auto r = std::make_unique<region>();
    r->name = s.name;
    r->start = start;
    r->pages = region_pages();
    r->map_flags = s.flags;
    r->hugepage = s.hugepage;
    r->whole = s.hugepage || (s.flags & MAP_HUGE_THP);
    r->anon_private = !(s.flags & MAP_SHARED_);
    start += region_stride();
    long a = check::op_mmap(w.mm, r->start, r->len(), PROT_READ_ | PROT_WRITE_, r->map_flags);
    if (a != long(r->start)) {
      *what = fmt::format("mmap of region {} at {:#x}", r->name, r->start);
      return a < 0 ? int(a) : -EINVAL;
    }
    // Populate: one store faults a whole THP in; elsewhere every page gets its own.
    for (unsigned long p = r->start; p < r->start + r->len(); p += PAGE_SIZE) {
      w.touch(p, uint8_t(rng()));
      if (s.flags & MAP_HUGE_THP) break;
    }
    if (r->hugepage) {
      if (int e = check::op_madvise(w.mm, r->start, r->len(), MADV_HUGEPAGE_)) {
        *what = fmt::format("madvise(MADV_HUGEPAGE) of region {}", r->name);
        return e;
      }
    }
    w.regions.push_back(std::move(r));
  }
  return 0;
}

void gup_thread(workload& w, unsigned slot, uint64_t quota, uint64_t seed, thread_stats& st) {
  cpu_scope cpu;
  if (cpu.id() < 0) {
    w.unexpected_error(fmt::format("GUP thread {}: no CPU ({})", slot, cpu.id()));
    return;
  }
  rng_t rng = thread_rng(seed, slot);
  check::held_pages held;
  uint64_t serial = 0;
  for (uint64_t done = 0; (quota == 0 || done < quota) && !w.stop.load(std::memory_order_relaxed); done++) {
    // Draw the whole operation first: the sequence depends on the seed only, never on
    // what the machine answered.
    auto how = static_cast<check::gup_call>(pick(rng, NR_GUP_CALLS));
    const region& r = *w.regions[pick(rng, w.regions.size())];
    long npages = long(1 + pick(rng, MAX_GUP_PAGES));
    unsigned long addr = r.start + pick(rng, r.pages - npages + 1) * PAGE_SIZE;
    bool write = w.dma || (rng() & 1);

    (void)check::op_gup(how, w.mm, addr, npages, write ? FOLL_WRITE : 0, &held);
    st.add(st.gup_calls[unsigned(how)]);
    pause(rng, 3);  // the "device" holds the pages a moment

    uint64_t token = 0;
    unsigned long got_start = held.start;
    size_t got = held.pages.size();
    if (w.dma && held.pin && got > 0) {
      // Unique per thread and operation, never 0 (a zeroed page reads 0).
      token = uint64_t(slot + 1) << 48 | ++serial;
      check::op_dma_write(&held, slot, token);
      st.add(st.dma_writes);
    }
    // A driver marks what its device wrote dirty when it unpins (pin_user_pages.rst): GUP-fast
    // does not dirty a FOLL_WRITE page, and a clean swap-cache page (swapped in by a read
    // fault, writable but clean) would otherwise be dropped by reclaim with the DMA data.
    check::op_release(&held, true);
    if (token) {
      for (size_t i = 0; i < got; i++) {
        uint64_t v = 0;
        // An error is legal (a mutator may have unmapped or protected the page since);
        // the oracle judges the value when there is one.
        (void)check::op_read_word(w.mm, got_start + i * PAGE_SIZE + slot * 8ul, &v);
      }
    }
    st.add(st.ops);
  }
}

}  // namespace stress
GUPFAST_NS_END
