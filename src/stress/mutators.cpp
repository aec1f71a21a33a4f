// The stress harness's mutators (src/stress/stress.h): one function per mutator, one
// operation per call, on random addresses of the working set (src/stress/workload.h).
//
// Every call draws all its random numbers before it touches the machine, so a thread's
// sequence of operations depends on the seed only. Failures that a correct machine may
// return (a hole left by another mutator, a busy folio, nothing to split) are ignored;
// failures it must not return (refilling a hole this harness made) are reported as
// unexpected errors.
#include <thread>

#include <fmt/format.h>

#include "stress/workload.h"

GUPFAST_NS_BEGIN
namespace stress {

namespace {

constexpr unsigned long MAX_LAYOUT_PAGES = 16;   // munmap, remap, mprotect, madvise
constexpr unsigned long MAX_REPLACE_PAGES = 64;  // reclaim, migration
constexpr unsigned FORK_CHILD_WRITES = 4;

region& pick_region(workload& w, rng_t& rng) { return *w.regions[pick(rng, w.regions.size())]; }

// A region for reclaim and migration (private anonymous), or split and collapse (THP-able).
template <class Pred>
region& pick_region_where(workload& w, rng_t& rng, Pred pred) {
  std::vector<region*> ok;
  for (auto& r : w.regions)
    if (pred(*r)) ok.push_back(r.get());
  return *ok[pick(rng, ok.size())];
}
bool thp_able(const region& r) { return r.whole; }

void expect_ok(workload& w, long ret, const char* what, const region& r, range g) {
  if (ret != 0) w.unexpected_error(fmt::format("{}({:#x}, {:#x}) of region {} returned {}", what, g.addr, g.len, r.name, ret));
}

// munmap a range of a region and map it back; `hole`: leave the hole a moment first (GUP
// and faults there get -EFAULT); `write`: write every page of the new mapping.
void unmap_and_map_back(workload& w, rng_t& rng, bool hole, bool write) {
  region& r = pick_region(w, rng);
  range g = pick_range(rng, r, MAX_LAYOUT_PAGES, true);
  std::unique_lock lk(r.layout, std::defer_lock);
  sync::cpu_lock(lk);  // a CPU: keeps taking IPIs while it waits
  {
    write_intent wi(w);
    expect_ok(w, check::op_munmap(w.mm, g.addr, g.len), "munmap", r, g);
  }
  if (hole) pause(rng, 4);
  w.map_back(r, g.addr, g.len, write, rng);
}

// munmap, a hole for a moment, mapped back untouched: the next access faults fresh zeroed
// pages (or a fresh THP) in.
void mutate_munmap(workload& w, rng_t& rng) { unmap_and_map_back(w, rng, true, false); }

// MADV_DONTNEED: zap a range; anonymous pages read zero again, shmem pages stay cached.
// A hole (a munmap in progress) is -ENOMEM, legal.
void mutate_madvise(workload& w, rng_t& rng) {
  region& r = pick_region(w, rng);
  range g = pick_range(rng, r, MAX_LAYOUT_PAGES, false);
  (void)check::op_madvise(w.mm, g.addr, g.len, MADV_DONTNEED_);
}

// mprotect to PROT_NONE or PROT_READ, a moment, and back to read-write: fast-path stops
// on protnone or permission, write faults and pins fail meanwhile.
void mutate_mprotect(workload& w, rng_t& rng) {
  region& r = pick_region(w, rng);
  range g = pick_range(rng, r, MAX_LAYOUT_PAGES, true);
  int prot = rng() & 1 ? PROT_NONE_ : PROT_READ_;
  std::unique_lock lk(r.layout, std::defer_lock);
  sync::cpu_lock(lk);  // a CPU: keeps taking IPIs while it waits
  {
    write_intent wi(w);
    expect_ok(w, check::op_mprotect(w.mm, g.addr, g.len, prot), "mprotect", r, g);
  }
  pause(rng, 4);
  write_intent wi(w);
  expect_ok(w, check::op_mprotect(w.mm, g.addr, g.len, PROT_READ_ | PROT_WRITE_), "mprotect(rw)", r, g);
}

// munmap + mmap of the same range, then write every page: the same addresses now map new
// frames, and the old ones are free to be reused (the classic stale-pin window).
void mutate_remap(workload& w, rng_t& rng) { unmap_and_map_back(w, rng, false, true); }

// reclaim_range (MADV_PAGEOUT): anonymous folios go to swap unless pinned or referenced.
void mutate_reclaim(workload& w, rng_t& rng) {
  region& r = pick_region_where(w, rng, [](const region& x) { return x.anon_private; });
  range g = pick_range(rng, r, MAX_REPLACE_PAGES, false);
  (void)check::op_reclaim(w.mm, g.addr, g.len);
}

// migrate_range: anonymous folios move to new frames unless pinned or busy.
void mutate_migrate(workload& w, rng_t& rng) {
  region& r = pick_region_where(w, rng, [](const region& x) { return x.anon_private; });
  range g = pick_range(rng, r, MAX_REPLACE_PAGES, false);
  (void)check::op_migrate(w.mm, g.addr, g.len);
}

// split_folio_at: a THP (PMD- or PTE-mapped) becomes 512 small folios. -EINVAL where
// there is none, -EAGAIN when pinned or busy: legal. Most calls find nothing to split
// until collapse or a remap made a THP again; those yield the CPU a little (a fixed count,
// drawn from no generator: the operations stay the seed's).
void mutate_split(workload& w, rng_t& rng) {
  region& r = pick_region_where(w, rng, thp_able);
  unsigned long addr = r.start + pick(rng, r.pages) * PAGE_SIZE;
  if (check::op_split(w.mm, addr) != 0)
    for (int i = 0; i < 4; i++) std::this_thread::yield();
}

// collapse_pmd_range: the PTE-mapped 2 MiB region becomes one PMD-mapped THP. Backs off
// on pins and extra references; already PMD-mapped is success. Then a pause: mostly the
// regions are PMD-mapped already and the call is a cheap no-op under mmap_lock for write,
// which back to back would keep the read-side mutators stepping aside.
void mutate_collapse(workload& w, rng_t& rng) {
  region& r = pick_region_where(w, rng, thp_able);
  {
    write_intent wi(w);
    (void)check::op_collapse(w.mm, r.start);
  }
  pause(rng, 16);
}

// fork: copy_page_range write-protects every private page (write_protect_seq odd while it
// runs) and copies pinned ones; the child writes a few bytes (COW in the child), exits.
void mutate_fork(workload& w, rng_t& rng) {
  unsigned nwrites = unsigned(pick(rng, FORK_CHILD_WRITES + 1));
  unsigned long addrs[FORK_CHILD_WRITES];
  for (unsigned long& a : addrs) {
    const region& r = pick_region(w, rng);
    a = r.start + pick(rng, r.pages) * PAGE_SIZE;
  }
  uint8_t v = uint8_t(rng());
  int err = 0;
  mm_struct* child;
  {
    write_intent wi(w);
    child = check::op_fork(w.mm, &err);
  }
  if (!child) {
    w.unexpected_error(fmt::format("fork returned {}", err));
    return;
  }
  for (unsigned i = 0; i < nwrites; i++) {
    // Above the DMA words, as the parent's own writes.
    (void)check::op_user_write(child, addrs[i] + check::DMA_SLOTS * 8 + i, v);
  }
  check::op_mm_put(child);
}

// The process's own store of one byte above the DMA words of a random page: faults,
// COW after fork, swap-in after reclaim, waits on migration entries.
void mutate_user_writes(workload& w, rng_t& rng) {
  const region& r = pick_region(w, rng);
  unsigned long addr = r.start + pick(rng, r.pages) * PAGE_SIZE;
  w.touch(addr, uint8_t(rng()));
}

using mutate_fn = void (*)(workload&, rng_t&);
mutate_fn mutate_fns[NR_MUTATORS] = {
    mutate_munmap, mutate_madvise, mutate_mprotect, mutate_remap,   mutate_reclaim,     mutate_migrate,
    mutate_split,  mutate_collapse, mutate_fork,    mutate_user_writes, nullptr /* dma: the GUP threads */,
};

}  // namespace

void mutator_thread(workload& w, mutator m, unsigned index, uint64_t quota, uint64_t seed, thread_stats& st) {
  cpu_scope cpu;
  if (cpu.id() < 0) {
    w.unexpected_error(fmt::format("{} thread: no CPU ({})", to_string(m), cpu.id()));
    return;
  }
  rng_t rng = thread_rng(seed, index);
  mutate_fn fn = mutate_fns[unsigned(m)];
  bool reader = m == mutator::madvise || m == mutator::reclaim || m == mutator::migrate || m == mutator::split ||
                m == mutator::user_writes;
  for (uint64_t done = 0; (quota == 0 || done < quota) && !w.stop.load(std::memory_order_relaxed); done++) {
    if (reader) w.step_aside();  // see workload::writers_waiting
    fn(w, rng);
    st.add(st.ops);
  }
}

}  // namespace stress
GUPFAST_NS_END
