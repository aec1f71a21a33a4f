// Internals of the stress harness (src/stress/stress.h): the working set every thread
// draws addresses from, the state the threads share, and the per-thread loops.
//
// The working set is a few 2 MiB regions of one address space, each kind chosen for the
// mutators that need it:
//   thp0, thp1  private, MAP_HUGE_THP: PMD-mapped THPs for split (and collapse after it)
//   hp          private, small pages first, then MADV_HUGEPAGE: khugepaged's collapse target
//   small       private, small pages: sub-range munmap/mprotect fragment its VMAs freely
//   shared      MAP_SHARED anonymous (shmem): page-cache folios, skipped by reclaim/migration
// Layout changes (munmap, remap, mprotect) of a THP or collapse region cover the whole
// region, so it stays one VM_HUGEPAGE VMA (this machine does not merge VMAs); on the others
// they cover a random sub-range.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "check/ops.h"
#include "stress/stress.h"

GUPFAST_NS_BEGIN
namespace stress {

struct region {
  const char* name;
  unsigned long start = 0;
  unsigned long pages = 0;
  int map_flags = 0;       // MAP_PRIVATE_ / MAP_SHARED_, | MAP_HUGE_THP
  bool hugepage = false;   // small pages first, then MADV_HUGEPAGE_ (collapse target)
  bool whole = false;      // layout changes cover the whole region (thp, hugepage)
  bool anon_private = false;  // reclaim and migration have something to do here
  // Serializes this harness's own layout changes of the region (munmap/remap/mprotect and
  // their undo), so each restores what it took away before another starts; the machine's
  // mmap_lock still orders them against everything else. Held only by mutator threads,
  // never across anything that waits for a GUP thread.
  std::mutex layout;
  unsigned long len() const { return pages * PAGE_SIZE; }
};

using rng_t = std::mt19937_64;

// What every thread of a run shares.
struct workload {
  const options* opts = nullptr;
  mm_struct* mm = nullptr;
  std::vector<std::unique_ptr<region>> regions;
  bool dma = false;  // the dma mutator is on: GUP threads write through their pins

  // Set by run() at the deadline, and by the violation callback when stop_on_violation.
  // Read relaxed at the top of every thread's loop: a stale false costs one more
  // operation, nothing else depends on it.
  std::atomic<bool> stop{false};

  // Layout mutators about to take mmap_lock for write (write_intent). The kernel's rwsem
  // queues new readers behind a waiting writer; the native backend's rw_semaphore (a
  // std::shared_mutex, reader-preferring in glibc) does not, and a stream of read-lock
  // takers (madvise, reclaim, migration, split: a few microseconds each, back to back)
  // starves munmap, mprotect, fork and collapse. So the read-side mutators step aside while
  // this is non-zero (step_aside). Incremented and decremented by the writers, read relaxed
  // by the readers: a stale value only costs a few yields or one more read-locked operation.
  std::atomic<int> writers_waiting{0};
  void step_aside();

  // Unexpected failures (operations that must succeed in a correct machine). Any thread
  // adds; run() reads after the join.
  std::atomic<uint64_t> unexpected{0};
  std::mutex error_lock;
  std::vector<std::string> error_lines;
  void unexpected_error(std::string line);

  // The process's own write of one byte above the DMA words of the page at addr.
  void touch(unsigned long addr, uint8_t v);
  // Map [addr, addr + len) of r again after a munmap (and mark a collapse region's VMA
  // VM_HUGEPAGE again); touch every page when `populate` (r's first pages come back
  // PTE-mapped for a collapse region either way).
  void map_back(region& r, unsigned long addr, unsigned long len, bool populate, rng_t& rng);
};

// A thread's counters. Written only by the owning thread (relaxed), read by run()'s
// progress loop while it runs (a slightly old value is fine) and after the join.
struct alignas(64) thread_stats {
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> gup_calls[NR_GUP_CALLS] = {};
  std::atomic<uint64_t> dma_writes{0};
  void add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
};

// Around a layout mutator's call that takes mmap_lock for write (see writers_waiting).
class write_intent {
 public:
  explicit write_intent(workload& w) : w_(w) { w_.writers_waiting.fetch_add(1, std::memory_order_relaxed); }
  ~write_intent() { w_.writers_waiting.fetch_sub(1, std::memory_order_relaxed); }
  write_intent(const write_intent&) = delete;
  write_intent& operator=(const write_intent&) = delete;

 private:
  workload& w_;
};

// Each thread's generator: same seed and index, same sequence.
rng_t thread_rng(uint64_t seed, unsigned index);
// Uniform in [0, n).
inline unsigned long pick(rng_t& rng, unsigned long n) { return n ? rng() % n : 0; }
// A range of 1 .. max_pages pages of r (the whole region if r.whole and `whole_ok`).
struct range {
  unsigned long addr, len;
};
range pick_range(rng_t& rng, const region& r, unsigned long max_pages, bool whole_ok);
// A short, random pause: 0 .. n yields of the OS scheduler.
void pause(rng_t& rng, unsigned n);

// Map and populate the working set. 0, or a negative errno (and *what says which step).
int setup_working_set(workload& w, std::string* what);

// The loops. `quota` operations, or until w.stop when quota is 0. Each is a CPU.
void gup_thread(workload& w, unsigned slot, uint64_t quota, uint64_t seed, thread_stats& st);
void mutator_thread(workload& w, mutator m, unsigned index, uint64_t quota, uint64_t seed, thread_stats& st);

}  // namespace stress
GUPFAST_NS_END
