// The oracle: judges an execution of the machine against DESIGN.md section 7.
//
// It watches the machine through the checking hooks (pgtable/page_table_check.h) and the
// allocator's hooks (memmap_hooks), and is told by the instrumented operations (check/ops.h)
// what GUP returned, what a device wrote and what the process read. From that it keeps:
//   - a logical clock: every entry write takes a tick before its first store and one after
//     its last, so it "happens somewhere in [begin, end]";
//   - the translation history: for every registered mm and 4 KiB virtual page, which
//     (pfn, frame incarnation) was mapped during which clock window; tables are attached
//     and detached as upper-level entries change, so a change to a detached table maps
//     nothing;
//   - frame incarnations: each allocation of a frame starts a new epoch; a free ends it;
//   - references GUP holds (transient ones inside GUP, and pins handed to callers).
// Violations (kind names are public output): stale-pin, pinned-freed, table-uaf, frame-uaf,
// torn-entry, lost-write, refcount, cow-leak (a process's store reaches a private anonymous
// page that another process holds by GUP: COW broke the wrong way). Legal races are not violations: GUP racing with the
// process's own munmap/remap may return the page mapped when it started (it was mapped at
// some instant of the call); a transient reference on a recycled frame is not a pin.
//
// One oracle per machine. Under the native backend hooks run on many threads (an internal
// mutex serializes the oracle's own state, never across an entry write); under the model
// backend they run on the explorer's one thread, and a violation ends the execution.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mm/mm_types.h"

GUPFAST_NS_BEGIN
namespace check {

enum class violation_kind : uint8_t {
  stale_pin, pinned_freed, table_uaf, frame_uaf, torn_entry, lost_write, refcount, cow_leak
};
inline constexpr int NR_VIOLATION_KINDS = 8;
const char* to_string(violation_kind k);  // "stale-pin", ...
bool parse_violation_kind(const std::string& s, violation_kind* out);

struct violation {
  violation_kind kind;
  std::string message;              // one line: what and where
  unsigned long addr = 0;           // user address (0 if none)
  unsigned long pfn = ~0ul;         // frame (~0 if none)
  unsigned long folio_pfn = ~0ul;   // head of the folio involved
  unsigned long table_pfn = ~0ul;   // page-table page involved
  int cpu = -1;                     // the CPU that observed it
  std::vector<std::string> events;  // the last events that touched addr/pfn/table, oldest first
  std::string detail() const;       // message + where + events, multi-line
};

struct oracle_options {
  // Called for every violation (from the thread that found it). Default: collect only.
  std::function<void(const violation&)> on_violation;
  size_t max_kept = 64;  // violations kept for violations(); the count goes on
  // How messages print a user address (default: as it is). The explorer prints x86-64
  // coordinates under a small geometry (pgtable/geometry.h: addr_to_x86_64).
  unsigned long (*show_addr)(unsigned long) = nullptr;
};

// Start after machine_create() (installs the hooks; the allocator's hooks are the
// oracle's while it runs), stop before machine_destroy(). 0, or -EBUSY if one runs.
int oracle_start(const oracle_options& opts);
void oracle_stop();
bool oracle_active();

// The logical clock (seq_cst, with a full fence: a read after an operation returns a tick
// at or after every entry write that operation observed).
uint64_t oracle_now();
// An operation of this CPU begins (returns oracle_now()) / ends: history it may still need
// is kept while it runs.
uint64_t oracle_op_begin();
void oracle_op_end();

// Address spaces the oracle follows. register walks mm's tables as they are now; call it
// after mm_alloc() and after dup_mm() returns the child, before anyone uses it. unregister
// before the last mmput().
void oracle_register_mm(mm_struct* mm);
void oracle_unregister_mm(mm_struct* mm);

// ---- what the instrumented operations report ---------------------------------------------
// GUP returned pages[0..n) for [start, start + n * 4K) of mm between ticks t0 and t1, taking
// FOLL_PIN or FOLL_GET references. Checks stale-pin/torn-entry/pinned-freed and records the
// caller's references. Returns each page's frame incarnation in epochs (for dma_write).
void oracle_gup_returned(mm_struct* mm, unsigned long start, page* const* pages, long n, uint64_t t0,
                         uint64_t t1, bool pin, uint64_t* epochs);
// The caller is about to release the reference it holds on page (unpin or put_page); mm is
// the address space GUP took it in (nullptr: unknown, any holder's).
void oracle_gup_release(page* p, bool pin);
void oracle_gup_release(page* p, bool pin, mm_struct* mm);
// The current incarnation of a frame (0 if it is free).
uint64_t oracle_frame_epoch(unsigned long pfn);
// A device wrote through a page pinned at epoch: frame-uaf if the frame was freed or
// recycled since.
void oracle_dma_write(page* p, uint64_t epoch, unsigned long addr);
// The process changed what addr means (its own munmap, remap, madvise, mprotect, or a write
// of the word): expectations on [addr, addr + len) lapse.
void oracle_process_changed(mm_struct* mm, unsigned long addr, unsigned long len);
// The same for an operation that takes time (munmap, mmap, madvise): the range counts as
// changing from begin to end. Under the ipi strategy munmap's flush waits for irqs-off CPUs
// while its zap is already visible; a read meanwhile must not be judged.
void oracle_process_change_begin(mm_struct* mm, unsigned long addr, unsigned long len);
void oracle_process_change_end(mm_struct* mm, unsigned long addr, unsigned long len);
// A device wrote value into the 8-byte word at addr (through a pin GUP took in a call that
// began at tick `since`). The process should read it back after unpin unless it changed
// that page itself after `since` (then the device may have written to the old page).
void oracle_expect_word(mm_struct* mm, unsigned long addr, uint64_t value, uint64_t since);
// The process read the word at addr: lost-write if a device's write there is not what it
// reads (and the process did not change addr since).
void oracle_check_word(mm_struct* mm, unsigned long addr, uint64_t value);
// Words with a pending expectation in mm (for a final read-back).
std::vector<unsigned long> oracle_expected_words(mm_struct* mm);

// End of run: every pin was released, no GUP reference remains, and the allocator saw no
// double free (refcount). Call after all operations ended, before mmput of the last mm.
void oracle_finish();

// ---- results ------------------------------------------------------------------------------
uint64_t oracle_violation_count();
uint64_t oracle_violation_count(violation_kind k);
std::vector<violation> oracle_violations();  // the first max_kept

// Report a violation found outside the hooks (e.g. by a harness's own check).
void oracle_report(violation v);

}  // namespace check
GUPFAST_NS_END
