// Spin loops under the explorer: what a loop iteration read and wrote, and when a fiber at
// cpu_relax() may run again (explore/scheduler.cpp has the overview).
//
// cpu_relax() is where spin loops would make a search infinite. The scheduler keeps, per
// fiber and per cpu_relax site (file:line), what it read and wrote since its last cpu_relax
// there: one iteration of that loop (an outer retry loop's iteration includes the inner wait
// loops it ran). At the next cpu_relax of that site:
//   - the iteration changed nothing: it is a pure retry, so the fiber is not runnable until
//     another fiber writes a value the iteration read, or takes and releases a spinlock the
//     iteration took (what it read under the lock with plain loads, as swapcache_prepare's
//     swap_map, may have changed); the next iteration would do exactly the same otherwise;
//   - it changed something (a fault installed the entry it retries on): it is a retry after
//     progress and may go on at once; after 8 such iterations in a row it waits for any write
//     by another fiber instead (a loop that only counts events);
//   - the site's first iteration may go on (nothing to compare it with);
// and switching away from a fiber at its cpu_relax is never a preemption.
#include <algorithm>
#include <cstring>

#include "explore/sched_state.h"
#include "memory/tso.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

GUPFAST_NS_BEGIN
namespace explore::detail {
namespace {

constexpr size_t MAX_SPIN_READS = 256, MAX_SPIN_WRITES = 128;
constexpr int MAX_PROGRESS_STREAK = 8;

// A spinning fiber's read set is compared against memory while it waits. Memory it read may be
// freed meanwhile by another fiber (which the fiber would notice when it ran): under ASan such
// memory counts as changed instead of being read.
// cpu: compare with what that CPU (-1: none) would load now; MEMORY: with memory itself.
constexpr int MEMORY = -2;
bool mem_differs(const void* addr, unsigned size, uint64_t v, int cpu = MEMORY) {
#if defined(__SANITIZE_ADDRESS__)
  if (__asan_region_is_poisoned(const_cast<void*>(addr), size)) return true;
#endif
  uint64_t cur = 0;
  if (cpu != MEMORY && memory::tso_active())
    cur = memory::visible(cpu, addr, size);  // what the CPU would load: its buffer over memory
  else
    std::memcpy(&cur, addr, size);
  uint64_t mask = size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
  return (cur & mask) != (v & mask);
}

bool overlaps(const void* a, unsigned as, const void* b, unsigned bs) {
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + bs && y < x + as;
}

// Context: fiber f just reached its cpu_relax (nothing else ran since its iteration).
const task_rec::mark* find_mark(const task_rec& f, const sync::site& loc) {
  for (auto& m : f.marks)
    if (m.file == loc.file_name() && m.line == loc.line()) return &m;
  return nullptr;
}

// Did the iteration leave memory changed? The first write of each address in it holds the
// value before the iteration.
bool iteration_wrote(const task_rec& f) {
  for (size_t i = f.it_w; i < f.writes.size(); i++) {
    const auto& w = f.writes[i];
    bool first = true;
    for (size_t j = f.it_w; j < i && first; j++)
      if (f.writes[j].addr == w.addr && f.writes[j].size == w.size) first = false;
    if (first && mem_differs(w.addr, w.size, w.old)) return true;
  }
  return false;
}

bool read_is_watched(const task_rec& f, const task_rec::rd& r) {
  for (size_t i = f.it_w; i < f.writes.size(); i++)
    if (overlaps(r.addr, r.size, f.writes[i].addr, f.writes[i].size)) return false;  // our own write: not a wait
  return true;
}

uint64_t releases_of(const void* lock) {
  for (const lock_version& l : g_x.lock_versions)
    if (l.lock == lock) return l.releases;
  return 0;
}

}  // namespace

void prepare_relax(task_rec& f) {
  const task_rec::mark* m = find_mark(f, f.p.loc);
  if (!m || f.overflow) {
    // The first iteration of this loop (or one we lost track of): nothing to compare with.
    f.it_r = static_cast<uint32_t>(f.reads.size());
    f.it_w = static_cast<uint32_t>(f.writes.size());
    f.it_l = static_cast<uint32_t>(f.locks.size());
    f.mode = relax_mode::progress;
    f.relax_epoch = g_x.write_epoch - f.own_writes;
    return;
  }
  f.it_r = m->r;
  f.it_w = m->w;
  f.it_l = m->l;
  bool progress = iteration_wrote(f);
  if (!progress && f.it_r == f.reads.size() && f.it_l == f.locks.size()) {
    f.mode = relax_mode::yield_any;  // read nothing we can watch: wait for any write
  } else if (!progress) {
    f.progress_streak = 0;
    f.mode = relax_mode::stutter;
  } else {
    f.mode = ++f.progress_streak > MAX_PROGRESS_STREAK ? relax_mode::yield_any : relax_mode::progress;
  }
  // Waiting for any write: any since the iteration began (it may have read stale values).
  f.relax_epoch = m->others;
}

// The cpu_relax was taken: a new iteration of its loop begins here. Entries older than every
// open iteration are dropped.
void begin_iteration(task_rec& f, const sync::site& loc) {
  if (f.overflow) {
    f.reads.clear();
    f.writes.clear();
    f.locks.clear();
    f.marks.clear();
    f.overflow = false;
  }
  auto r = static_cast<uint32_t>(f.reads.size()), w = static_cast<uint32_t>(f.writes.size());
  auto l = static_cast<uint32_t>(f.locks.size());
  uint64_t others = g_x.write_epoch - f.own_writes;
  if (auto* m = const_cast<task_rec::mark*>(find_mark(f, loc))) {
    *m = {m->file, m->line, r, w, l, others};
  } else {
    f.marks.push_back({loc.file_name(), loc.line(), r, w, l, others});
  }
  uint32_t min_r = r, min_w = w, min_l = l;
  for (auto& k : f.marks) {
    min_r = std::min(min_r, k.r);
    min_w = std::min(min_w, k.w);
    min_l = std::min(min_l, k.l);
  }
  f.reads.erase(f.reads.begin(), f.reads.begin() + min_r);
  f.writes.erase(f.writes.begin(), f.writes.begin() + min_w);
  f.locks.erase(f.locks.begin(), f.locks.begin() + min_l);
  for (auto& k : f.marks) {
    k.r -= min_r;
    k.w -= min_w;
    k.l -= min_l;
  }
  f.seg_w = w - min_w;
}

void relax_reads(const task_rec& f) {
  const void* addrs[MAX_SPIN_READS];
  uint8_t sizes[MAX_SPIN_READS];
  unsigned n = 0;
  for (size_t i = f.it_r; i < f.reads.size() && n < MAX_SPIN_READS; i++, n++) {
    addrs[n] = f.reads[i].addr;
    sizes[n] = f.reads[i].size;
  }
  memory::relax(addrs, sizes, n);
}

bool relax_enabled(const task_rec& f, int cpu) {
  switch (f.mode) {
    case relax_mode::progress:
      return true;
    case relax_mode::yield_any:
      return g_x.write_epoch - f.own_writes != f.relax_epoch;
    case relax_mode::stutter:
      for (size_t i = f.it_r; i < f.reads.size(); i++)
        if (read_is_watched(f, f.reads[i]) && mem_differs(f.reads[i].addr, f.reads[i].size, f.reads[i].v, cpu))
          return true;
      for (size_t i = f.it_l; i < f.locks.size(); i++)
        if (releases_of(f.locks[i].addr) != f.locks[i].version) return true;
      return false;
  }
  return true;
}

void relax_footprint(const task_rec& f, footprint& fp) {
  switch (f.mode) {
    case relax_mode::progress:
      return;
    case relax_mode::yield_any:
      fp.any_write = true;
      return;
    case relax_mode::stutter:
      for (size_t i = f.it_r; i < f.reads.size(); i++)
        if (read_is_watched(f, f.reads[i])) fp.add(f.reads[i].addr, f.reads[i].size, ACC_READ);
      for (size_t i = f.it_l; i < f.locks.size(); i++) fp.add(f.locks[i].addr, 4, ACC_READ);
      return;
  }
}

void reset_task(task_rec& t, const pending_op& first) {
  // The hooks below run inside world code: they must never allocate (explore/world.h).
  t.reads.reserve(MAX_SPIN_READS);
  t.writes.reserve(MAX_SPIN_WRITES);
  t.locks.reserve(MAX_SPIN_READS);
  t.p = first;
  t.version++;
  t.reads.clear();
  t.writes.clear();
  t.overflow = false;
  t.mode = relax_mode::stutter;
  t.progress_streak = 0;
  t.relax_epoch = 0;
  t.marks.clear();
  t.locks.clear();
  t.own_writes = 0;
  t.it_r = t.it_w = t.it_l = t.seg_w = 0;
  t.note = 0;
}

}  // namespace explore::detail

// ---- what the seam reports after an access (sync/model.h) -------------------------------------
namespace sync::rt {

void after_read(const void* addr, unsigned size, uint64_t v) {
  using namespace explore::detail;
  exec_state& x = g_x;
  if (x.tracing && !x.steps.empty()) x.steps.back().value = v;
  task_rec& f = x.t[cur_task()];
  if (f.reads.size() < MAX_SPIN_READS)
    f.reads.push_back({addr, static_cast<uint8_t>(size), v});
  else
    f.overflow = true;
}

void after_write(const void* addr, unsigned size, uint64_t old, uint64_t v) {
  using namespace explore::detail;
  if (old == v) return after_read(addr, size, v);
  exec_state& x = g_x;
  if (x.tracing && !x.steps.empty()) x.steps.back().value = v;
  x.write_epoch++;
  task_rec& f = x.t[cur_task()];
  f.own_writes++;
  for (size_t i = f.seg_w; i < f.writes.size(); i++)
    if (f.writes[i].addr == addr && f.writes[i].size == size) return;
  if (f.writes.size() < MAX_SPIN_WRITES)
    f.writes.push_back({addr, static_cast<uint8_t>(size), old});
  else
    f.overflow = true;
}

void after_range_write() {
  using namespace explore::detail;
  exec_state& x = g_x;
  x.write_epoch++;
  task_rec& f = x.t[cur_task()];
  f.own_writes++;
  f.overflow = true;
}

void lock_taken(const void* addr) {
  using namespace explore::detail;
  task_rec& f = g_x.t[cur_task()];
  if (f.locks.size() < MAX_SPIN_READS)
    f.locks.push_back({addr, releases_of(addr)});
  else
    f.overflow = true;
}

void lock_released(const void* addr) {
  using namespace explore::detail;
  exec_state& x = g_x;
  uint64_t v = 0;
  bool found = false;
  for (lock_version& l : x.lock_versions)
    if (l.lock == addr) {
      v = ++l.releases;
      found = true;
      break;
    }
  if (!found) {
    explore::world::world_alloc_off off;
    x.lock_versions.push_back({addr, 1});
    v = 1;
  }
  // Our own release is not a change we wait for: only another task's take-and-release is.
  for (auto& l : x.t[cur_task()].locks)
    if (l.addr == addr) l.version = v;
}

}  // namespace sync::rt
GUPFAST_NS_END
