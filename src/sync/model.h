// Model backend of the sync seam: CPUs are fibers under the explorer's scheduler.
//
// What this backend is: the algorithm code runs on fibers (src/explore/scheduler.h), one per
// CPU, all on the one OS thread that called explore::explore(). Every operation of the seam
// is a scheduling point: before it runs, the scheduler may switch to another fiber, and the
// search (src/explore/search.h) decides which. Between two scheduling points a fiber runs
// alone, so the operations of all CPUs form one sequence. Under the default memory model
// (sc) that sequence is the memory order and fences are scheduling points only; under tso
// and weak (memory/memory_model.h, docs/memory-model.md) the seam asks the memory model what
// a load reads and where a store goes, and fences order.
//
//   atomics      plain loads and stores of the word, each one a scheduling point; the scheduler
//                records the value read or written (trace) and what a spin loop has read
//   fences       scheduling points; under tso / weak the memory model's barriers
//   yield points scheduling points with a name (the trace shows it)
//   cpu_relax    "wait until another CPU changes something this loop iteration read": the
//                fiber is not runnable until then, so a spin loop never makes a search infinite
//   irqs         a per-CPU flag; an IPI is delivered to a CPU only while its flag is clear
//   IPIs         smp_call_function_many queues a call on each target and blocks the sender
//                until every target ran it (at the target's next scheduling point with irqs
//                on, or at once if the target is blocked or idle with irqs on)
//   RCU          grace periods computed by the scheduler: synchronize_rcu blocks until every
//                CPU that was inside rcu_read_lock() when it started has left that section;
//                call_rcu callbacks run on a callback fiber once their grace period is over
//   locks        spinlock_t / rw_semaphore block the fiber (not runnable) while unavailable
//
// Outside an exploration (no scheduler running: a test's main thread, the explorer's own
// setup/finish/teardown), every operation acts at once on the calling thread ("direct mode",
// explore/scheduler.h): IPIs run the function on behalf of each target CPU, grace periods end
// at once. Only one OS thread may use this backend at a time.
//
// The API is native.h's, name for name, so the algorithm code compiles against either. The
// extra defaulted std::source_location parameters name the calling kernel function in traces.
#pragma once
#include "sync/config.h"

#include <atomic>  // std::memory_order only: no std::atomic object lives in this backend
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <type_traits>

#include "memory/memory_model.h"

GUPFAST_NS_BEGIN
namespace sync {

using mo = std::memory_order;
inline constexpr mo relaxed = std::memory_order_relaxed;
inline constexpr mo acquire = std::memory_order_acquire;
inline constexpr mo release = std::memory_order_release;
inline constexpr mo acq_rel = std::memory_order_acq_rel;
inline constexpr mo seq_cst = std::memory_order_seq_cst;

constexpr mo cas_failure_order(mo o) {
  return o == acq_rel ? acquire : (o == release ? relaxed : o);
}

using site = std::source_location;
struct cpu_state;

// ---- the scheduler's hooks (src/explore/scheduler.cpp) --------------------------------------
namespace rt {

// What a scheduling point is about to do (the trace's "op").
enum class op : uint8_t {
  load, store, rmw, load_range, store_range, fence, yield, relax,
  lock, trylock, unlock,
  down_read, up_read, down_write, up_write, down_read_trylock, down_write_trylock,
  irq_off, irq_on,
  ipi_send, ipi_wait, ipi_run, ipi_ack,
  rcu_read_lock, rcu_read_unlock, synchronize_rcu, gp_wait, call_rcu, rcu_callback, rcu_barrier,
  start, idle,
  drain,  // tso: wait until this CPU's store buffer is empty (a strong scope begins)
  flush,  // tso: a CPU's flush task writes its oldest buffered store to memory
  NR_OPS
};
const char* op_name(op k);

// True while fibers run under the scheduler: every seam operation is then a scheduling point.
extern bool g_sched;
// The running fiber's CPU (direct mode: the CPU the caller registered with cpu_online()).
extern cpu_state* g_cpu;

// A scheduling point before a memory access of `size` bytes at `addr` (or none: addr null);
// arg: a memory access's std::memory_order, a fence's memory::fence.
void point(op k, const void* addr, unsigned size, const site& loc, uint64_t arg = 0);
// After it: the value read, or the value written over `old` (old == v: an RMW that changed
// nothing, which counts as a read).
void after_read(const void* addr, unsigned size, uint64_t v);
void after_write(const void* addr, unsigned size, uint64_t old, uint64_t v);
// After a bulk store (store_words): too many words to watch, so the spinning task's current
// loop iteration counts as progress.
void after_range_write();
// A spinlock taken / released (the scheduler's wait for a spinning fiber watches the locks
// its iteration took: memory read under a lock is plain, not seen as reads).
void lock_taken(const void* addr);
void lock_released(const void* addr);
// The memory model's choice of which store a load reads (memory/weak.cpp): mask has bit k
// set for each candidate, k = 0 the newest store. Returns the k chosen.
unsigned decide_value(uint32_t mask);

template <class T>
inline uint64_t bits(T v) {
  static_assert(sizeof(T) <= 8, "the model's atomics are at most one 64-bit word");
  if constexpr (std::is_pointer_v<T>)
    return reinterpret_cast<uintptr_t>(v);
  else if constexpr (std::is_enum_v<T>)
    return static_cast<uint64_t>(static_cast<std::underlying_type_t<T>>(v));
  else
    return static_cast<uint64_t>(v);
}
template <class T>
inline T from_bits(uint64_t u) {
  T v;
  __builtin_memcpy(&v, &u, sizeof(T));  // little-endian: the low bytes
  return v;
}
inline uint64_t order_arg(mo o) { return static_cast<uint64_t>(o); }

// The accesses. Under a memory model other than sc (memory::active()), the model decides
// what a load reads and where a store goes (memory/memory_model.h); else memory is memory.
template <class T>
inline T load(const T* p, mo o, const site& loc) {
  if (!g_sched) return *p;
  point(op::load, p, sizeof(T), loc, order_arg(o));
  T v = memory::g_active ? from_bits<T>(memory::load(p, sizeof(T), o)) : *p;
  after_read(p, sizeof(T), bits(v));
  return v;
}
template <class T>
inline void store(T* p, T v, mo o, const site& loc) {
  if (!g_sched) {
    *p = v;
    return;
  }
  point(op::store, p, sizeof(T), loc, order_arg(o));
  T old = *p;
  if (memory::g_active)
    memory::store(p, sizeof(T), bits(v), o);
  else
    *p = v;
  after_write(p, sizeof(T), bits(old), bits(v));
}
// fn(old) -> new; returns old. o: the RMW's order (seq_cst: fully ordered, the kernel's
// value-returning atomics; relaxed: atomic_add, set_bit, ...).
template <class T, class F>
inline T rmw(T* p, F fn, mo o, const site& loc) {
  if (!g_sched) {
    T old = *p;
    *p = fn(old);
    return old;
  }
  point(op::rmw, p, sizeof(T), loc, order_arg(o));
  T old = memory::g_active ? from_bits<T>(memory::rmw_read(p, sizeof(T))) : *p;
  T v = fn(old);
  T was = *p;
  if (memory::g_active)
    memory::rmw_write(p, sizeof(T), bits(v), o);
  else
    *p = v;
  after_write(p, sizeof(T), bits(was), bits(v));
  return old;
}
// A failed cmpxchg is unordered (Documentation/atomic_t.txt), a successful one has order o.
template <class T>
inline bool cmpxchg(T* p, T& expected, T desired, mo o, const site& loc) {
  if (!g_sched) {
    T old = *p;
    bool ok = old == expected;
    if (ok)
      *p = desired;
    else
      expected = old;
    return ok;
  }
  point(op::rmw, p, sizeof(T), loc, order_arg(o));
  T old = memory::g_active ? from_bits<T>(memory::rmw_read(p, sizeof(T))) : *p;
  bool ok = old == expected;
  if (ok) {
    T was = *p;
    if (memory::g_active)
      memory::rmw_write(p, sizeof(T), bits(desired), o);
    else
      *p = desired;
    after_write(p, sizeof(T), bits(was), bits(desired));
  } else {
    expected = old;
    if (memory::g_active) memory::rmw_fail();
    after_read(p, sizeof(T), bits(old));
  }
  return ok;
}
inline void fence_point(memory::fence f, const site& loc) {
  if (!g_sched) return;
  point(op::fence, nullptr, 0, loc, static_cast<uint64_t>(f));
  if (memory::g_active) memory::barrier(f);
}

}  // namespace rt

// ---- atomics ------------------------------------------------------------------------------
// A shared word: the value itself (same size and layout as T). Every access is a scheduling
// point; orders take effect under tso / weak (under sc they need none).
template <class T>
class atomic {
 public:
  constexpr atomic() noexcept : v_{} {}
  constexpr explicit atomic(T v) noexcept : v_(v) {}
  atomic(const atomic&) = delete;
  atomic& operator=(const atomic&) = delete;

  T load(mo o, const site& loc = site::current()) const { return rt::load(&v_, o, loc); }
  void store(T v, mo o, const site& loc = site::current()) { rt::store(&v_, v, o, loc); }
  T exchange(T v, mo o, const site& loc = site::current()) {
    return rt::rmw(&v_, [v](T) { return v; }, o, loc);
  }
  bool compare_exchange(T& expected, T desired, mo o, const site& loc = site::current()) {
    return rt::cmpxchg(&v_, expected, desired, o, loc);
  }
  T fetch_add(T d, mo o, const site& loc = site::current()) {
    return rt::rmw(&v_, [d](T x) { return static_cast<T>(x + d); }, o, loc);
  }
  T fetch_sub(T d, mo o, const site& loc = site::current()) {
    return rt::rmw(&v_, [d](T x) { return static_cast<T>(x - d); }, o, loc);
  }
  T fetch_or(T d, mo o, const site& loc = site::current()) {
    return rt::rmw(&v_, [d](T x) { return static_cast<T>(x | d); }, o, loc);
  }
  T fetch_and(T d, mo o, const site& loc = site::current()) {
    return rt::rmw(&v_, [d](T x) { return static_cast<T>(x & d); }, o, loc);
  }

 private:
  T v_;
};

// A statistics counter written by its own CPU only and read by nobody the algorithm depends
// on (this_cpu_inc of a vm event): plain memory, never a scheduling point.
class stat_counter {
 public:
  uint64_t read() const { return v_; }
  void add(uint64_t n) { v_ += n; }
  void add_shared(uint64_t n) { v_ += n; }
  void reset() { v_ = 0; }

 private:
  uint64_t v_ = 0;
};

// Atomic access to raw memory (page-table entries, frame bytes). A PAE entry's two 32-bit
// halves are two separate accesses, so a reader between them is a reachable interleaving.
template <class T>
inline T load(const T* p, mo o, const site& loc = site::current()) {
  return rt::load(p, o, loc);
}
template <class T>
inline void store(T* p, T v, mo o, const site& loc = site::current()) {
  rt::store(p, v, o, loc);
}
template <class T>
inline bool cmpxchg(T* p, T& expected, T desired, mo o, const site& loc = site::current()) {
  return rt::cmpxchg(p, expected, desired, o, loc);
}
template <class T>
inline T xchg(T* p, T v, mo o, const site& loc = site::current()) {
  return rt::rmw(p, [v](T) { return v; }, o, loc);
}
template <class T>
inline T fetch_and(T* p, T v, mo o, const site& loc = site::current()) {
  return rt::rmw(p, [v](T x) { return static_cast<T>(x & v); }, o, loc);
}
// smp_load_acquire / smp_store_release / smp_store_mb (WRITE_ONCE then smp_mb).
template <class T>
inline T smp_load_acquire(const T* p, const site& loc = site::current()) {
  return rt::load(p, acquire, loc);
}
template <class T>
inline void smp_store_release(T* p, T v, const site& loc = site::current()) {
  rt::store(p, v, release, loc);
}
template <class T>
inline void smp_store_mb(T* p, T v, const site& loc = site::current()) {
  rt::store(p, v, seq_cst, loc);
}
// What the hardware does, not the kernel: the MMU's page walk and TLB of a user access and
// the access itself. The memory models keep it strong while one lives (memory/memory_model.h,
// strong_scope; docs/memory-model.md says why).
using hardware_access = memory::strong_scope;

// The value just loaded is a pointer to [base, base + len), read through next: those loads
// are ordered after it (an address dependency; memory/memory_model.h). No scheduling point.
inline void address_dependency(const void* base, size_t len) {
  if (memory::g_active) memory::address_dependency(base, len);
}

// Bulk plain copies of 8-byte words (a page copied while a device may write it, a swap
// device reading a page): one scheduling point for the whole range, whose footprint is every
// word of it (docs/explore.md, "Copies": why one transition reaches every outcome of the
// word-by-word copy against the model's single-word writers).
void point_range(rt::op k, const void* addr, size_t bytes, const site& loc);
inline void load_words(uint64_t* dst, const uint64_t* src, size_t n, const site& loc = site::current()) {
  if (rt::g_sched) point_range(rt::op::load_range, src, n * 8, loc);
  for (size_t i = 0; i < n; i++) dst[i] = src[i];
}
inline void store_words(uint64_t* dst, const uint64_t* src, size_t n, const site& loc = site::current()) {
  if (rt::g_sched) point_range(rt::op::store_range, dst, n * 8, loc);
  for (size_t i = 0; i < n; i++) dst[i] = src[i];
  if (rt::g_sched) rt::after_range_write();
}

// Fences, as the kernel names them: scheduling points, and under a memory model what
// memory/memory_model.h says each orders (under sc every order they enforce already holds).
inline void smp_mb(const site& loc = site::current()) { rt::fence_point(memory::fence::full, loc); }
inline void smp_rmb(const site& loc = site::current()) { rt::fence_point(memory::fence::read, loc); }
inline void smp_wmb(const site& loc = site::current()) { rt::fence_point(memory::fence::write, loc); }
inline void smp_mb__before_atomic(const site& loc = site::current()) {
  rt::fence_point(memory::fence::before_atomic, loc);
}
inline void smp_mb__after_atomic(const site& loc = site::current()) {
  rt::fence_point(memory::fence::after_atomic, loc);
}
inline void barrier(const site& loc = site::current()) { rt::fence_point(memory::fence::compiler, loc); }

// ---- yield points -----------------------------------------------------------------------
// A named scheduling point. A hook installed with set_yield_hook() runs first, as native.
using yield_hook_t = void (*)(const char* name, void* ctx);
void yield_point_slow(const char* name);
extern bool g_yield_hooked;
inline void yield_point(const char* name) {
  if (g_yield_hooked || rt::g_sched) yield_point_slow(name);
}
// Amplification is the native backend's stress aid; here it only reseeds random_u64().
void set_amplify(bool on, uint64_t seed) noexcept;
void set_yield_hook(yield_hook_t hook, void* ctx) noexcept;

// A retry loop's body: this fiber is not runnable until another CPU writes something this
// iteration read (loom's yield_now / spin-loop detection). See scheduler.cpp.
void cpu_relax(const site& loc = site::current());

// ---- CPUs -----------------------------------------------------------------------------
// The explorer runs at most explore::MAX_THREADS CPUs; per-CPU arrays (TLBs, counters, the
// oracle's) are part of every snapshot, so they are sized for a few, not for 64.
inline constexpr int NR_CPUS = 8;

class cpumask {
 public:
  void set_cpu(int cpu, const site& loc = site::current()) { bits_.fetch_or(uint64_t{1} << cpu, relaxed, loc); }
  void clear_cpu(int cpu, const site& loc = site::current()) {
    bits_.fetch_and(~(uint64_t{1} << cpu), relaxed, loc);
  }
  bool test_cpu(int cpu, const site& loc = site::current()) const { return bits_.load(relaxed, loc) >> cpu & 1; }
  uint64_t bits(mo o = relaxed, const site& loc = site::current()) const { return bits_.load(o, loc); }
  void set_bits(uint64_t b, const site& loc = site::current()) { bits_.store(b, relaxed, loc); }

 private:
  atomic<uint64_t> bits_{0};
};

using smp_call_func_t = void (*)(void* info);

// One queued cross-CPU call. Lives on the sender's stack while it waits.
struct call_single_data {
  smp_call_func_t func = nullptr;
  void* info = nullptr;
  int done = 0;
  call_single_data* next = nullptr;
  const char* sender = nullptr;  // the sending kernel function (trace)
};

// Per-CPU state. Model state, not shared memory: only the scheduler reads it across CPUs,
// and every change is made inside a scheduling point that declares it.
struct cpu_state {
  int id = -1;
  int online = 0;
  int irq_disabled = 0;
  call_single_data* csd_queue = nullptr;  // FIFO: oldest first
  int rcu_nesting = 0;                    // rcu_read_lock depth
  uint64_t rcu_qs = 0;                    // outermost rcu_read_unlock()s so far
  int fiber = -1;                         // the scheduler's fiber running this CPU, -1: none
  uint64_t ipis_taken = 0;
  uint64_t ipis_deferred = 0;             // calls that found irqs off when they were queued
};

inline cpu_state* this_cpu() noexcept { return rt::g_cpu; }
inline int smp_processor_id() noexcept { return rt::g_cpu ? rt::g_cpu->id : -1; }
cpu_state* cpu_by_id(int id) noexcept;
// Direct mode: register the caller as a CPU (id, or -EBUSY / -ENOSPC), as native. Under the
// scheduler every fiber already is one: -EBUSY.
int cpu_online() noexcept;
void cpu_offline() noexcept;
uint64_t cpu_online_mask() noexcept;

// ---- irqs ---------------------------------------------------------------------------------
unsigned long local_irq_save(const site& loc = site::current());
void local_irq_enable(const site& loc = site::current());
inline void local_irq_disable(const site& loc = site::current()) { (void)local_irq_save(loc); }
inline void local_irq_restore(unsigned long flags, const site& loc = site::current()) {
  if (!flags) local_irq_enable(loc);
}
inline bool irqs_disabled() noexcept { return rt::g_cpu && rt::g_cpu->irq_disabled; }

// ---- IPIs ---------------------------------------------------------------------------------
// Run func(info) on every CPU in mask (the caller's own runs it directly) and wait for all.
// Context: irqs on (a sender waiting with irqs off can deadlock, and the explorer says so).
void smp_call_function_many(uint64_t mask, smp_call_func_t func, void* info, bool wait,
                            const site& loc = site::current());

// ---- RCU ---------------------------------------------------------------------------------
struct rcu_head {
  rcu_head* next = nullptr;
  void (*func)(rcu_head*) = nullptr;
  uint64_t gp = 0;  // the grace period it waits for (scheduler.cpp)
};
void rcu_read_lock(const site& loc = site::current());
void rcu_read_unlock(const site& loc = site::current());
void call_rcu(rcu_head* head, void (*func)(rcu_head*), const site& loc = site::current());
void synchronize_rcu(const site& loc = site::current());
void rcu_barrier(const site& loc = site::current());

// ---- locks --------------------------------------------------------------------------------
// One 32-bit word (struct page holds a PTL and must stay within 64 bytes): 0 free, else the
// owning fiber + 1. A CPU that finds it held is not runnable until it is released.
class spinlock_t {
 public:
  void lock(const site& loc = site::current());
  bool try_lock(const site& loc = site::current());
  void unlock(const site& loc = site::current());
  bool is_locked(const site& loc = site::current()) const { return rt::load(&v_, relaxed, loc) != 0; }

 private:
  uint32_t v_ = 0;
};
inline void spin_lock(spinlock_t* l, const site& loc = site::current()) { l->lock(loc); }
inline void spin_unlock(spinlock_t* l, const site& loc = site::current()) { l->unlock(loc); }
inline bool spin_trylock(spinlock_t* l, const site& loc = site::current()) { return l->try_lock(loc); }

// A sleeping reader-writer lock (mmap_lock). Two words, so that readers commute with each
// other in the explorer's dependence relation: the reader count and the writer.
class rw_semaphore {
 public:
  void down_read(const site& loc = site::current());
  void up_read(const site& loc = site::current());
  void down_write(const site& loc = site::current());
  void up_write(const site& loc = site::current());
  bool down_read_trylock(const site& loc = site::current());
  bool down_write_trylock(const site& loc = site::current());
  bool is_write_locked(const site& loc = site::current()) const { return rt::load(&writer_, relaxed, loc) != 0; }

 private:
  friend struct rwsem_access;
  alignas(8) int64_t readers_ = 0;
  int64_t writer_ = 0;  // the owning fiber + 1, or 0
};

// Seeded per execution (set_amplify's seed, or the explorer's), so replays repeat it.
uint64_t random_u64() noexcept;

}  // namespace sync
GUPFAST_NS_END
