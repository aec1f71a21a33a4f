// The stress harness behind `gupfast stress`: random mixes of the instrumented operations
// (check/ops.h) on real threads, every one of them judged by the oracle (check/oracle.h).
//
// One run: create a machine, start the oracle, map a working set in one address space, then
// run N GUP threads (pin/get, fast and slow, hold, device writes through pins, release,
// read back) against one thread per enabled mutator (munmap, MADV_DONTNEED, mprotect,
// remap, reclaim, migration, THP split, khugepaged collapse, fork, the process's own
// writes), until a deadline or an operation budget. Then stop, read back every word a
// device wrote, check that every reference and frame came back, and report.
//
// Same seed, same per-thread sequences of operations (each thread draws from its own
// generator seeded from the seed and its index); the interleavings are the OS scheduler's
// and differ from run to run. Every thread is a CPU (cpu_scope).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/oracle.h"
#include "machine/machine.h"

GUPFAST_NS_BEGIN
namespace stress {

// What runs against the GUP threads. Each is a thread of its own, except dma, which makes
// the GUP threads write through their pins (FOLL_WRITE) and read the words back.
enum class mutator : uint8_t {
  munmap,       // munmap a range, leave the hole a moment, mmap it back
  madvise,      // MADV_DONTNEED a range
  mprotect,     // PROT_NONE or PROT_READ on a range, then back to read-write
  remap,        // munmap + mmap of the same range, then write every page (new frames)
  reclaim,      // reclaim_range: swap out (MADV_PAGEOUT)
  migrate,      // migrate_range: move to new frames
  split,        // split_folio_at on a THP
  collapse,     // collapse_pmd_range on a PTE-mapped 2 MiB range (khugepaged)
  fork,         // fork, the child writes a few bytes, the child exits
  user_writes,  // the process's own stores, above the DMA words
  dma,          // device writes through the GUP threads' pins
};
inline constexpr unsigned NR_MUTATORS = 11;
inline constexpr uint32_t ALL_MUTATORS = (1u << NR_MUTATORS) - 1;
const char* to_string(mutator m);  // "munmap", ..., "user-writes", "dma"
// "munmap,fork", "all" or "none" into a mask; nullopt (and *bad = the name) if a name is
// unknown.
std::optional<uint32_t> parse_mutator_list(std::string_view list, std::string* bad);
std::string mutator_mask_names(uint32_t mask);  // "munmap,fork" / "none"

// The GUP threads' calls, in check::gup_call order.
inline constexpr unsigned NR_GUP_CALLS = 4;

// A look at a running stress run (on_progress).
struct progress {
  double elapsed = 0;        // seconds since the threads started
  uint64_t ops = 0;          // operations finished, all threads
  uint64_t ops_target = 0;   // options::ops, or 0 for a deadline
  double seconds_target = 0; // options::seconds, or 0 for an operation budget
  uint64_t violations = 0;
};

struct options {
  machine_config cfg;
  unsigned threads = 2;               // GUP threads, 1 .. MAX_GUP_THREADS
  uint32_t mutators = ALL_MUTATORS;   // mask of 1 << mutator
  double seconds = 0;                 // run until this deadline ...
  uint64_t ops = 0;                   // ... or for this many operations in all (split among threads)
  uint64_t seed = 1;
  bool amplify = false;               // yield points become short random delays
  bool stop_on_violation = false;     // stop every thread at the first violation
  // Each violation as the oracle finds it, on the thread that found it.
  std::function<void(const check::violation&)> on_violation;
  // About every progress_interval seconds while the threads run, on the calling thread.
  std::function<void(const progress&)> on_progress;
  double progress_interval = 0.5;
};
// One DMA slot per GUP thread (check::DMA_SLOTS), and a CPU for each thread (sync::NR_CPUS).
inline constexpr unsigned MAX_GUP_THREADS = 48;

struct report {
  std::string error;        // non-empty: the run could not be set up (nothing was judged)
  std::string machine;      // machine_describe()
  table_strategy strategy = table_strategy::rcu;
  tlb_mode tlb = tlb_mode::broadcast;
  pte_mode pte = pte_mode::native;
  uint32_t unsafe = 0;
  double seconds = 0;       // wall time the threads ran
  bool stopped_early = false;  // stopped at the first violation
  uint64_t gup_calls[NR_GUP_CALLS] = {};
  uint64_t mutator_ops[NR_MUTATORS] = {};  // operations per mutator (dma: device writes)
  uint64_t counters[NR_COUNTERS] = {};     // the machine's event counters at the end
  // Operations that failed where they must not (e.g. the mmap that refills a munmap's
  // hole): a harness or machine problem, not an oracle verdict. The first few, one line each.
  uint64_t unexpected_errors = 0;
  std::vector<std::string> error_lines;
  // Swap-cache folios no one used any more, freed by a final reclaim pass (not leaks: the
  // kernel's next reclaim frees them too).
  unsigned long orphans_reclaimed = 0;
  unsigned long leaked_frames = 0;       // frames in use after the last mm went away
  unsigned long leaked_swap_slots = 0;
  uint64_t violation_count = 0;
  uint64_t violations_by_kind[check::NR_VIOLATION_KINDS] = {};
  std::vector<check::violation> violations;  // the first ones, in the order found
};

// Run one stress run. Context: no machine exists; the calling thread is not a CPU.
report run(const options& opts);

}  // namespace stress
GUPFAST_NS_END
