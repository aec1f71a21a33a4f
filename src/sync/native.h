// Native backend of the sync seam: real threads, std::atomic, signals as IPIs, liburcu.
//
// What this backend is: the algorithm code runs on real OS threads, each registered as a
// "CPU". Memory orders are C++'s (so the x86-TSO hardware here runs them); "irq off" is a
// per-CPU soft mask (powerpc's lazy irq masking): the IPI is a real-time signal whose handler
// defers the work while the target has irqs off, and local_irq_enable() runs what was
// deferred. No syscall on the masking side. RCU is liburcu's memb flavor (see rcu notes in
// docs/strategies.md: membarrier-based, reader is a TLS counter and compiler barriers, the
// asymmetric shape of the kernel's own irq-off/IPI pairing).
#pragma once
#include "sync/config.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>

#define _LGPL_SOURCE 1
#include <urcu/urcu-memb.h>
#undef _LGPL_SOURCE
#if GUPFAST_TSAN
#include <sanitizer/tsan_interface.h>
#endif

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

// The order an access really uses. In TSan builds (GUPFAST_TSAN) every access of the seam is
// seq_cst. TSan does not model standalone fences (atomic_thread_fence: smp_mb, smp_rmb,
// smp_wmb, smp_mb__{before,after}_atomic), so the protocol's fence-paired handshakes over
// relaxed accesses look unsynchronized to it, and it reports the plain accesses they order
// (a frame zeroed or poisoned after a flush, a table freed after a grace period) as races.
// Making each access seq_cst gives TSan a happens-before edge for every reads-from between
// atomics, which is what the fences provide for these pairs:
//   [PIN-MB] / [PIN-CHECK]          a grab's pin, then its PTE recheck / a clear, then the pin check
//   [REF-TRY-ADD] / [REF-FREEZE]    add-unless-zero against a freeze
//   [TLB-ACCESS] / [TLB-GEN]        a CPU's access_seq against a flusher's tlb_gen
//   [PT-SEQ] / [PT-SEQ-WRITE], [WP-SEQ] / [WP-SEQ-WRITE]   seqcount readers against writers
//   [PAE-READ] / [PAE-SET] / [PAE-CLEAR] (with [PAE-RMB], [PAE-WMB])   two-halves PAE entries
//   [UNSHARE-RMB] / [SHARE-AFTER], [SHARE-MB]              AnonExclusive against GUP-fast
//   [COLLAPSE-SYNC], [LAZYFREE-REFCHECK]                    collapse's and MADV_FREE's pairs
// The cost is TSan's power to see a missing acquire/release between atomics; it never had it
// for fences, and the explorer's weak model is the tool for orderings (docs/memory-model.md).
// TSan keeps judging what it is good at: plain memory touched without synchronization.
constexpr mo real_order(mo o) {
#if GUPFAST_TSAN
  (void)o;
  return seq_cst;
#else
  return o;
#endif
}

// A shared word. Every access names its memory order: READ_ONCE/WRITE_ONCE are relaxed,
// the kernel's barriers are explicit fences or acquire/release.
template <class T>
class atomic {
 public:
  constexpr atomic() noexcept : v_{} {}
  constexpr explicit atomic(T v) noexcept : v_(v) {}
  atomic(const atomic&) = delete;
  atomic& operator=(const atomic&) = delete;

  T load(mo o) const noexcept { return v_.load(real_order(o)); }
  void store(T v, mo o) noexcept { v_.store(v, real_order(o)); }
  T exchange(T v, mo o) noexcept { return v_.exchange(v, real_order(o)); }
  bool compare_exchange(T& expected, T desired, mo o) noexcept {
    return v_.compare_exchange_strong(expected, desired, real_order(o), cas_failure_order(real_order(o)));
  }
  T fetch_add(T d, mo o) noexcept { return v_.fetch_add(d, real_order(o)); }
  T fetch_sub(T d, mo o) noexcept { return v_.fetch_sub(d, real_order(o)); }
  T fetch_or(T d, mo o) noexcept { return v_.fetch_or(d, real_order(o)); }
  T fetch_and(T d, mo o) noexcept { return v_.fetch_and(d, real_order(o)); }

 private:
  std::atomic<T> v_;
};

// A statistics counter written by its own CPU only (this_cpu_inc of a vm event): a relaxed
// load and store, no locked instruction; read (summed) by anyone.
class stat_counter {
 public:
  uint64_t read() const noexcept { return v_.load(relaxed); }
  void add(uint64_t n) noexcept { v_.store(v_.load(relaxed) + n, relaxed); }
  void add_shared(uint64_t n) noexcept { v_.fetch_add(n, relaxed); }  // several writers
  void reset() noexcept { v_.store(0, relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Atomic access to raw memory: page-table entries and frame bytes live in frames, not in
// sync::atomic fields. A PAE entry is two 32-bit halves of one 64-bit word; both widths
// are used on the same memory, as the kernel does.
template <class T>
inline T load(const T* p, mo o) noexcept {
  return std::atomic_ref<T>(*const_cast<T*>(p)).load(real_order(o));
}
template <class T>
inline void store(T* p, T v, mo o) noexcept {
  std::atomic_ref<T>(*p).store(v, real_order(o));
}
template <class T>
inline bool cmpxchg(T* p, T& expected, T desired, mo o) noexcept {
  return std::atomic_ref<T>(*p).compare_exchange_strong(expected, desired, real_order(o),
                                                        cas_failure_order(real_order(o)));
}
template <class T>
inline T xchg(T* p, T v, mo o) noexcept {
  return std::atomic_ref<T>(*p).exchange(v, real_order(o));
}
template <class T>
inline T fetch_and(T* p, T v, mo o) noexcept {
  return std::atomic_ref<T>(*p).fetch_and(v, real_order(o));
}

// Bulk copies of 8-byte words that another CPU or a device may access meanwhile: each word
// one relaxed access (the model backend makes the copy one scheduling point).
inline void load_words(uint64_t* dst, const uint64_t* src, size_t n) noexcept {
  for (size_t i = 0; i < n; i++) dst[i] = load(src + i, relaxed);
}
inline void store_words(uint64_t* dst, const uint64_t* src, size_t n) noexcept {
  for (size_t i = 0; i < n; i++) store(dst + i, src[i], relaxed);
}

// smp_load_acquire / smp_store_release / smp_store_mb (x86: xchg), as the kernel names them.
template <class T>
inline T smp_load_acquire(const T* p) noexcept {
  return load(p, acquire);
}
template <class T>
inline void smp_store_release(T* p, T v) noexcept {
  store(p, v, release);
}
template <class T>
inline void smp_store_mb(T* p, T v) noexcept {
  store(p, v, seq_cst);
}
// A user access done by the hardware (the model backend keeps it strongly ordered under its
// weak memory models); nothing to do on real hardware.
struct hardware_access {
  hardware_access() noexcept {}
};
// An address dependency orders the loads through a loaded pointer on every architecture we
// build for (the model backend makes it explicit: memory/memory_model.h).
inline void address_dependency(const void*, size_t) noexcept {}

// Fences, named as the kernel names them.
inline void smp_mb() noexcept { std::atomic_thread_fence(seq_cst); }
inline void smp_rmb() noexcept { std::atomic_thread_fence(acquire); }
inline void smp_wmb() noexcept { std::atomic_thread_fence(release); }
inline void barrier() noexcept { std::atomic_signal_fence(seq_cst); }
// Around a non-returning RMW (atomic_add, set_bit: relaxed here). On x86 every RMW is a
// locked instruction, a full barrier already, and these are compiler barriers, as in
// arch/x86/include/asm/barrier.h; elsewhere a full fence.
#if defined(__x86_64__) || defined(__i386__)
inline void smp_mb__before_atomic() noexcept { std::atomic_signal_fence(seq_cst); }
inline void smp_mb__after_atomic() noexcept { std::atomic_signal_fence(seq_cst); }
#else
inline void smp_mb__before_atomic() noexcept { std::atomic_thread_fence(seq_cst); }
inline void smp_mb__after_atomic() noexcept { std::atomic_thread_fence(seq_cst); }
#endif

// ---- yield points -------------------------------------------------------------------
// Named points where a race window is interesting. Off: one relaxed load and a branch.
// Amplified (stress --amplify): a short random delay, as liburcu's DEBUG_YIELD.
// Hooked (tests): a function called with the point's name on the thread that reached it,
// which may run another operation right there (deterministic injection of a racing
// writer; the injected operation must be one that could run at that point, e.g. not a
// flush that the walker's irqs-off section would hold off).
extern std::atomic<bool> g_yield_slow;
void yield_point_slow(const char* name) noexcept;
inline void yield_point(const char* name) noexcept {
  if (g_yield_slow.load(relaxed)) [[unlikely]]
    yield_point_slow(name);
}
void set_amplify(bool on, uint64_t seed) noexcept;
using yield_hook_t = void (*)(const char* name, void* ctx);
// Install (or with nullptr remove) the hook; it runs on every thread that reaches a point.
void set_yield_hook(yield_hook_t hook, void* ctx) noexcept;

// A retry loop's body: tell the CPU we spin, let the scheduler (or a yield) run the thread
// we wait for. Every spin loop in algorithm code calls this.
void cpu_relax() noexcept;

// ---- CPUs ---------------------------------------------------------------------------
inline constexpr int NR_CPUS = 64;

// A set of CPUs, as the kernel's cpumask (e.g. mm_cpumask). One word: NR_CPUS <= 64.
class cpumask {
 public:
  void set_cpu(int cpu) noexcept { bits_.fetch_or(uint64_t{1} << cpu, relaxed); }
  void clear_cpu(int cpu) noexcept { bits_.fetch_and(~(uint64_t{1} << cpu), relaxed); }
  bool test_cpu(int cpu) const noexcept { return bits_.load(relaxed) >> cpu & 1; }
  uint64_t bits(mo o = relaxed) const noexcept { return bits_.load(o); }
  void set_bits(uint64_t b) noexcept { bits_.store(b, relaxed); }

 private:
  atomic<uint64_t> bits_{0};
};

using smp_call_func_t = void (*)(void* info);

// One queued cross-CPU call (the kernel's call_single_data). Lives on the sender's stack
// while it waits.
struct call_single_data {
  smp_call_func_t func = nullptr;
  void* info = nullptr;
  atomic<int> done{0};
  call_single_data* next = nullptr;
};

struct cpu_state {
  int id = -1;
  atomic<int> online{0};
  // The soft irq mask. Written only by the owning thread (and its own signal handler);
  // ordered against that handler with compiler barriers, as powerpc's paca->irq_soft_mask.
  atomic<int> irq_disabled{0};
  // Calls sent to this CPU and not yet run (Treiber stack, many senders, one consumer).
  atomic<call_single_data*> csd_queue{nullptr};
  int tid = 0;
  atomic<uint64_t> ipis_taken{0};
  atomic<uint64_t> ipis_deferred{0};
};

// The calling thread's CPU, or nullptr if the thread has not called cpu_online().
extern thread_local cpu_state* tls_cpu;
inline cpu_state* this_cpu() noexcept { return tls_cpu; }
inline int smp_processor_id() noexcept { return tls_cpu ? tls_cpu->id : -1; }
cpu_state* cpu_by_id(int id) noexcept;
// Register the calling thread as a CPU; returns its id, or -EBUSY if it already is one,
// -ENOSPC if NR_CPUS are online.
int cpu_online() noexcept;
void cpu_offline() noexcept;
// The CPUs online now (a snapshot).
uint64_t cpu_online_mask() noexcept;

// ---- irqs (soft mask) -----------------------------------------------------------------
void irq_enable_slow(cpu_state* c) noexcept;

inline unsigned long local_irq_save() noexcept {
  cpu_state* c = tls_cpu;
  unsigned long old = c->irq_disabled.load(relaxed);
  c->irq_disabled.store(1, relaxed);
  barrier();  // the critical section starts after the mask is visible to our own handler
  return old;
}
inline void local_irq_enable() noexcept {
  cpu_state* c = tls_cpu;
  barrier();
  c->irq_disabled.store(0, relaxed);
  barrier();
  // A sender queued work while we were masked: its signal found us masked and left it
  // queued (see ipi_handler in native.cpp). Run it now.
  if (c->csd_queue.load(relaxed)) [[unlikely]]
    irq_enable_slow(c);
}
inline void local_irq_disable() noexcept { (void)local_irq_save(); }
inline void local_irq_restore(unsigned long flags) noexcept {
  if (!flags) local_irq_enable();
}
inline bool irqs_disabled() noexcept { return tls_cpu && tls_cpu->irq_disabled.load(relaxed); }

// ---- IPIs --------------------------------------------------------------------------
// Run func(info) on every CPU in `mask` (the caller's own CPU runs it directly). A target
// with irqs off runs it when it re-enables them. With wait, return after all ran.
// Context: irqs on (waiting with irqs off could deadlock against another sender, as the
// kernel's WARN_ON_ONCE(irqs_disabled()) in smp_call_function_many_cond).
void smp_call_function_many(uint64_t mask, smp_call_func_t func, void* info, bool wait) noexcept;

// ---- RCU ---------------------------------------------------------------------------
struct rcu_head {
  ::rcu_head urcu;
  void (*func)(rcu_head*) = nullptr;
};
inline void rcu_read_lock() noexcept { urcu_memb_read_lock(); }
#if GUPFAST_TSAN
// liburcu is not instrumented: TSan cannot see that a grace period waits for the readers.
// [RCU-GP] Each reader's unlock releases into one token, which synchronize_rcu() and every
// call_rcu callback acquire (sync/native.cpp): whatever a reader did happens before what
// follows the grace period (the freeing of what it may have read).
extern int g_rcu_readers_token;
#endif
inline void rcu_read_unlock() noexcept {
#if GUPFAST_TSAN
  __tsan_release(&g_rcu_readers_token);  // [RCU-GP]
#endif
  urcu_memb_read_unlock();
}
void call_rcu(rcu_head* head, void (*func)(rcu_head*)) noexcept;
void synchronize_rcu() noexcept;
void rcu_barrier() noexcept;

// ---- locks -------------------------------------------------------------------------
// A spinlock (the PTL, zone->lock). Test-and-test-and-set with cpu_relax().
class spinlock_t {
 public:
  void lock() noexcept {
    for (;;) {
      int expected = 0;
      if (v_.compare_exchange(expected, 1, acquire)) return;
      while (v_.load(relaxed)) cpu_relax();
    }
  }
  bool try_lock() noexcept {
    int expected = 0;
    return v_.compare_exchange(expected, 1, acquire);
  }
  void unlock() noexcept { v_.store(0, release); }
  bool is_locked() const noexcept { return v_.load(relaxed) != 0; }

 private:
  atomic<int> v_{0};
};
inline void spin_lock(spinlock_t* l) noexcept { l->lock(); }
inline void spin_unlock(spinlock_t* l) noexcept { l->unlock(); }
inline bool spin_trylock(spinlock_t* l) noexcept { return l->try_lock(); }

// Take a lock that is not the seam's (a harness's std::mutex, the hotplug lock) as a CPU that
// must keep taking IPIs while it waits: a flush or a table sync may be waiting for this CPU's
// ack. Natively the IPI signal interrupts the futex wait; under TSan, which delivers signals
// only at its own interception points, the waiter polls (as rw_semaphore's sleepers do).
template <class Lockable>
inline void cpu_lock(Lockable& l) {
#if GUPFAST_TSAN
  while (!l.try_lock()) cpu_relax();
#else
  l.lock();
#endif
}

// A sleeping reader-writer lock (mmap_lock). A sleeper still takes IPIs (the signal
// interrupts its futex wait). Under TSan, which delivers signals only at its own
// interception points, sleepers poll instead, so a flush that waits for them completes.
class rw_semaphore {
 public:
#if GUPFAST_TSAN
  void down_read() {
    while (!m_.try_lock_shared()) cpu_relax();
  }
#else
  void down_read() { m_.lock_shared(); }
#endif
  void up_read() { m_.unlock_shared(); }
#if GUPFAST_TSAN
  void down_write() {
    while (!m_.try_lock()) cpu_relax();
    writer_.store(1, relaxed);
  }
#else
  void down_write() { m_.lock(); writer_.store(1, relaxed); }
#endif
  void up_write() { writer_.store(0, relaxed); m_.unlock(); }
  bool down_read_trylock() { return m_.try_lock_shared(); }
  bool down_write_trylock() {
    if (!m_.try_lock()) return false;
    writer_.store(1, relaxed);
    return true;
  }
  bool is_write_locked() const { return writer_.load(relaxed) != 0; }

 private:
  std::shared_mutex m_;
  atomic<int> writer_{0};
};

// A seeded per-thread random generator for yield-point delays (xorshift64*).
uint64_t random_u64() noexcept;

}  // namespace sync
GUPFAST_NS_END
