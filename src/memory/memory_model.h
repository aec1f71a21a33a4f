// Memory models of the explorer (docs/memory-model.md): what a load may read, when a store
// becomes visible, and what the kernel's barriers order.
//
//   sc     sequential consistency: every load reads the latest store (the explorer's order
//          of operations is the memory order). The default; the seam does not call in here.
//   tso    x86-TSO: each CPU's stores wait in a FIFO store buffer until a flush step the
//          search schedules (one flush task per CPU, as Nidhugg does); a CPU's loads read
//          its own buffered stores first; locked RMWs, smp_mb and lock operations drain it.
//   weak   a kernel-faithful weak model for arm64/POWER-like behaviour: a load may read any
//          store its CPU's view does not hide (a per-location store history with views, as
//          loom and CDSChecker implement C11), the kernel's primitives mapped conservatively
//          (memory/weak.cpp has the table). Which store a load reads is a choice of the
//          search, bounded like preemptions (stale reads).
//
// The model backend's seam operations (sync/model.h) call in here while the explorer's
// threads run under a model other than sc (active()), after the operation's scheduling
// point; setup, finish and teardown run in direct mode, where memory is just memory.
// Context: the explorer's one OS thread.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace memory {

enum class model : uint8_t { sc, tso, weak };
const char* to_string(model m);
std::optional<model> parse_model(std::string_view s);

// The running search's model, and whether it is in force now (the threads phase).
extern model g_model;
extern bool g_active;
inline bool active() { return g_active; }
inline bool tso_active() { return g_active && g_model == model::tso; }
inline bool weak_active() { return g_active && g_model == model::weak; }

// Kernel barriers, by what they are in the kernel (include/asm-generic/barrier.h,
// Documentation/atomic_t.txt). The fence's scheduling point carries it (pending_op::arg).
enum class fence : uint8_t {
  compiler,       // barrier(): orders nothing between CPUs
  full,           // smp_mb
  read,           // smp_rmb: loads before it, before loads after it
  write,          // smp_wmb: stores before it, before stores after it
  before_atomic,  // smp_mb__before_atomic: full, before a non-returning RMW
  after_atomic,   // smp_mb__after_atomic: full, after a non-returning RMW
};
inline bool is_full(fence f) { return f == fence::full || f == fence::before_atomic || f == fence::after_atomic; }

// ---- what the seam calls while active() (after the operation's scheduling point) ---------
uint64_t load(const void* p, unsigned size, std::memory_order o);
void store(void* p, unsigned size, uint64_t v, std::memory_order o);
// A read-modify-write: its read (always the latest store), then either its write with the
// RMW's order (rmw_write), or nothing for a cmpxchg that failed (rmw_fail: unordered, as the
// kernel's failed cmpxchg is).
uint64_t rmw_read(const void* p, unsigned size);
void rmw_write(void* p, unsigned size, uint64_t v, std::memory_order o);
void rmw_fail();
void barrier(fence f);
// Synchronisation through an object the seam implements itself (a spinlock, an rwsem, an
// IPI's call data, an RCU grace period): release what this CPU did to it, or acquire what
// was released to it.
void release_to(const void* obj);
void acquire_from(const void* obj);
// A lock taken (spin_lock, down_read, down_write): acquire_from the lock, and, as LKMM's
// po-unlock-lock-po (linux-kernel.cat: a cumulative fence between what po-precedes an unlock
// and what po-follows a lock that reads from it), order this CPU's earlier loads before its
// later ones and its view before its later stores (slightly stronger than LKMM).
void lock_acquire(const void* obj);
// A spin loop's iteration read these words and is about to wait (cpu_relax): its next loads
// of them read the latest stores (a CPU spinning on a value eventually sees it change).
void relax(const void* const* addrs, const uint8_t* sizes, unsigned n);
// The value at p was just loaded (the latest load of this CPU) and is used to compute the
// address [base, base + len): later loads of this CPU in that range are ordered after it
// (an address dependency, which the kernel relies on for page-table walks and which every
// architecture but Alpha keeps; LKMM's addr relation).
void address_dependency(const void* base, size_t len);
// What a load of p by this CPU (cpu, or -1: no CPU) would read now: a spinning CPU waits
// until this differs from what it read.
uint64_t visible(int cpu, const void* p, unsigned size);

// Accesses of the hardware and of user mode, which the models keep strong: the MMU's page
// walk of a user access and the process's own loads and stores read the latest stores and
// (tso) write through an empty store buffer (docs/memory-model.md says why). While one lives
// on this CPU.
class strong_scope {
 public:
  strong_scope();
  ~strong_scope();
  strong_scope(const strong_scope&) = delete;
  strong_scope& operator=(const strong_scope&) = delete;

 private:
  bool on_;
};

// ---- the explorer's side ----------------------------------------------------------------
// A new execution's threads phase begins (memory is as setup left it) / ends (tso: what is
// still buffered reaches memory).
void begin_threads(model m);
void end_threads();
// Words that name model state in footprints (the dependence relation): the total order of
// full fences (weak), a CPU's store buffer (tso).
const void* fence_word();
const void* buffer_word(int cpu);

}  // namespace memory
GUPFAST_NS_END
