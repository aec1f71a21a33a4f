// Instrumented operations: what a process and a DMA device do to the machine, each reported
// to the oracle (check/oracle.h) so it can judge the run. The stress harness draws random
// mixes of these on real threads; the explorer's litmus interpreter runs them as written.
// Both use exactly these functions, so a race found by one is the same race in the other.
//
// Context: the calling thread is a CPU (cpu_scope); the oracle runs (oracle_start) unless
// said otherwise: without an oracle each operation simply does its work.
#pragma once
#include <cstdint>
#include <vector>

#include "gup/gup.h"

GUPFAST_NS_BEGIN
namespace check {

// Bytes 0 .. DMA_SLOTS * 8 of every page are DMA words, one per device slot; the process's
// own random writes (stress) go above them.
inline constexpr unsigned DMA_SLOTS = 64;

enum class gup_call : uint8_t { pin_fast, get_fast, pin, get };
const char* to_string(gup_call c);  // "pin_fast", ...

// The pages one thread holds from GUP (litmus: held by the thread until `unpin`).
struct held_pages {
  mm_struct* mm = nullptr;
  unsigned long start = 0;
  bool pin = true;
  std::vector<page*> pages;
  std::vector<uint64_t> epochs;  // each frame's incarnation when GUP returned it
  uint64_t since = 0;            // oracle tick at the start of the GUP call that took them
  bool dma_written = false;      // a device wrote them (op_release may mark them dirty)
  bool empty() const { return pages.empty(); }
};

// Call GUP (the fast entry points fall back to the slow path as the kernel's do; pin/get
// take mmap_lock for read around pin_user_pages/get_user_pages). The pages taken are
// appended to *out (out->mm/start are set if it was empty). Returns GUP's return value.
long op_gup(gup_call how, mm_struct* mm, unsigned long start, long npages, unsigned gup_flags, held_pages* out);
// Unpin (pin) or put_page (get) every held page; *h is emptied.
// Release what h holds. make_dirty: a pin whose pages a device wrote is released with
// unpin_user_pages_dirty_lock(make_dirty), as pin_user_pages.rst asks of drivers (the stress
// workload's); else unpin_user_page, as io_uring's unregister does (the litmus `unpin`),
// which is safe only because reclaim never unmaps a pinned page ([PIN-MB] / [SHARE-MB]).
// References (get) with make_dirty are marked dirty before the put, as a direct-IO read's
// bio_release_pages(bio, true) does (the litmus `unpin dirty`).
void op_release(held_pages* h, bool make_dirty = false);

// The device writes the 8-byte word `value` at byte 8 * slot of every held page (through
// the page, not the process's page tables), then expects the process to read it back at
// the page's address. frame-uaf if a page's frame was freed or recycled since GUP.
void op_dma_write(held_pages* h, unsigned slot, uint64_t value);

// The process's own accesses, through its TLB. A store is the process changing that word.
int op_user_read(mm_struct* mm, unsigned long addr, uint8_t* val);
int op_user_write(mm_struct* mm, unsigned long addr, uint8_t val);
// Read the 8-byte word at addr and let the oracle compare it with what a device wrote.
int op_read_word(mm_struct* mm, unsigned long addr, uint64_t* val);
// Read back every word a device wrote in mm (the end of a stress run or a litmus test).
int op_readback(mm_struct* mm);

// The process's own address-space changes; each tells the oracle the range changed.
long op_mmap(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags);
int op_munmap(mm_struct* mm, unsigned long addr, unsigned long len);
int op_mprotect(mm_struct* mm, unsigned long addr, unsigned long len, int prot);
// mbind(MPOL_PREFERRED, {nid}): where later faults allocate; the data stays.
int op_mbind(mm_struct* mm, unsigned long addr, unsigned long len, int nid);
int op_madvise(mm_struct* mm, unsigned long addr, unsigned long len, int advice);
// fork: the child is registered with the oracle. nullptr and *err on failure.
mm_struct* op_fork(mm_struct* mm, int* err);
// A new address space, registered with the oracle; op_mm_put unregisters and mmputs.
mm_struct* op_mm_alloc();
void op_mm_put(mm_struct* mm);

// Replacers (not the process's own changes): reclaim, migration, THP split, collapse.
// They return what the mm functions return (pages reclaimed / moved, 0 / -errno).
long op_reclaim(mm_struct* mm, unsigned long addr, unsigned long len);
// Memory pressure over the whole LRU (reclaim_lru). A swap-cache folio whose last swap PTE
// went while someone else held its lock stays cached, as in the kernel, until reclaim
// frees it: call this before counting leaks at the end of a run.
long op_drain();
long op_migrate(mm_struct* mm, unsigned long addr, unsigned long len);
int op_split(mm_struct* mm, unsigned long addr);
int op_collapse(mm_struct* mm, unsigned long addr);

}  // namespace check
GUPFAST_NS_END
