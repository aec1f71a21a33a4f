// Native backend: CPUs as registered threads, IPIs as real-time signals, RCU via liburcu.
#include "sync/sync.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if GUPFAST_TSAN
#include <sanitizer/tsan_interface.h>
#endif

GUPFAST_NS_BEGIN
namespace sync {

std::atomic<bool> g_yield_slow{false};
thread_local cpu_state* tls_cpu = nullptr;

namespace {

std::atomic<bool> g_amplify{false};
std::atomic<yield_hook_t> g_hook{nullptr};
std::atomic<void*> g_hook_ctx{nullptr};

void update_yield_slow() {
  g_yield_slow.store(g_amplify.load(relaxed) || g_hook.load(relaxed), relaxed);
}

std::atomic<uint64_t> g_seed{0x9e3779b97f4a7c15ull};
thread_local uint64_t tls_rng = 0;

cpu_state g_cpus[NR_CPUS];
// cpus_read_lock(): senders hold it shared while they queue and wait, so a target cannot
// go offline between "it is online" and "it ran my call". cpu_online/offline hold it
// exclusively. Waiting for it is done with irqs on, so a blocked waiter still takes IPIs.
std::shared_mutex g_hotplug;
std::atomic<uint64_t> g_online_mask{0};

int ipi_signal() { return SIGRTMIN + 3; }

// Run every call queued to `c`. Context: the owning thread, irqs masked (so a nested
// signal defers instead of re-entering).
void flush_smp_call_function_queue(cpu_state* c) noexcept {
  call_single_data* list = c->csd_queue.exchange(nullptr, acquire);
  while (list) {
    call_single_data* next = list->next;  // read before done: the sender may then free it
    list->func(list->info);
    c->ipis_taken.fetch_add(1, relaxed);
    list->done.store(1, release);  // pairs with the sender's acquire in csd_wait()
    list = next;
  }
}

void ipi_handler(int) {
  int saved_errno = errno;
  cpu_state* c = tls_cpu;
  if (c) {
    if (c->irq_disabled.load(relaxed)) {
      // Masked: leave the calls queued; local_irq_enable() will run them. This is the
      // whole point of "GUP-fast runs with irqs off": the sender keeps waiting.
      c->ipis_deferred.fetch_add(1, relaxed);
    } else {
      c->irq_disabled.store(1, relaxed);
      barrier();
      flush_smp_call_function_queue(c);
      barrier();
      c->irq_disabled.store(0, relaxed);
      // A call queued after our exchange sends its own signal, pending until we return.
    }
  }
  errno = saved_errno;
}

void install_ipi_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_handler = ipi_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(ipi_signal(), &sa, nullptr) != 0) {
      perror("gupfast: sigaction");
      std::abort();
    }
  });
}

void csd_wait(call_single_data* csd) noexcept {
  while (!csd->done.load(acquire)) cpu_relax();
}

}  // namespace

uint64_t random_u64() noexcept {
  if (!tls_rng) tls_rng = g_seed.fetch_add(0x9e3779b97f4a7c15ull, relaxed) | 1;
  tls_rng ^= tls_rng >> 12;
  tls_rng ^= tls_rng << 25;
  tls_rng ^= tls_rng >> 27;
  return tls_rng * 0x2545f4914f6cdd1dull;
}

void set_amplify(bool on, uint64_t seed) noexcept {
  g_seed.store(seed * 0x9e3779b97f4a7c15ull + 1, relaxed);
  g_amplify.store(on, relaxed);
  update_yield_slow();
}

void set_yield_hook(yield_hook_t hook, void* ctx) noexcept {
  g_hook_ctx.store(ctx, relaxed);
  g_hook.store(hook, std::memory_order_release);
  update_yield_slow();
}

void yield_point_slow(const char* name) noexcept {
  if (yield_hook_t hook = g_hook.load(std::memory_order_acquire)) {
    hook(name, g_hook_ctx.load(relaxed));
    return;
  }
  if (!g_amplify.load(relaxed)) return;
  // Mostly nothing; sometimes a spin of up to ~2 us, sometimes a real yield of the core,
  // so the other thread of a 2-core machine runs in the window.
  uint64_t r = random_u64();
  switch (r & 15) {
    case 0:
      sched_yield();
      break;
    case 1:
    case 2: {
      unsigned spins = (r >> 8) & 1023;
      for (unsigned i = 0; i < spins; i++) __builtin_ia32_pause();
      break;
    }
    default:
      break;
  }
}

void cpu_relax() noexcept {
  __builtin_ia32_pause();
  // A spinning CPU with irqs on takes its interrupts: run calls queued to us. The signal
  // normally does this; this also covers a signal that is late (TSan delivers signals only
  // at its own interception points).
  if (cpu_state* c = tls_cpu; c && !c->irq_disabled.load(relaxed) && c->csd_queue.load(relaxed))
    irq_enable_slow(c);
  // Two cores, many threads: spin a little, then give the core to whoever we wait for.
  thread_local unsigned spins = 0;
  if ((++spins & 63) == 0) sched_yield();
  yield_point("cpu_relax");
}

cpu_state* cpu_by_id(int id) noexcept { return (id >= 0 && id < NR_CPUS) ? &g_cpus[id] : nullptr; }

uint64_t cpu_online_mask() noexcept { return g_online_mask.load(std::memory_order_acquire); }

int cpu_online() noexcept {
  if (tls_cpu) return -EBUSY;
  install_ipi_handler();
  std::unique_lock lk(g_hotplug);
  for (int i = 0; i < NR_CPUS; i++) {
    cpu_state* c = &g_cpus[i];
    if (c->online.load(relaxed)) continue;
    c->id = i;
    c->tid = static_cast<int>(syscall(SYS_gettid));
    c->irq_disabled.store(0, relaxed);
    c->csd_queue.store(nullptr, relaxed);
    c->online.store(1, release);
    tls_cpu = c;
    g_online_mask.fetch_or(uint64_t{1} << i, std::memory_order_release);
    lk.unlock();
    urcu_memb_register_thread();
    return i;
  }
  return -ENOSPC;
}

void cpu_offline() noexcept {
  cpu_state* c = tls_cpu;
  if (!c) return;
  urcu_memb_unregister_thread();
  std::unique_lock lk(g_hotplug, std::defer_lock);
  cpu_lock(lk);  // no sender is between "queue" and "done" now
  c->irq_disabled.store(1, relaxed);
  flush_smp_call_function_queue(c);
  g_online_mask.fetch_and(~(uint64_t{1} << c->id), std::memory_order_release);
  c->online.store(0, release);
  tls_cpu = nullptr;
}

void irq_enable_slow(cpu_state* c) noexcept {
  // Mask again while we run the deferred calls so a signal now does not re-enter.
  while (c->csd_queue.load(relaxed)) {
    c->irq_disabled.store(1, relaxed);
    barrier();
    flush_smp_call_function_queue(c);
    barrier();
    c->irq_disabled.store(0, relaxed);
    barrier();
  }
}

void smp_call_function_many(uint64_t mask, smp_call_func_t func, void* info, bool wait) noexcept {
  cpu_state* self = tls_cpu;
  call_single_data csds[NR_CPUS];
  std::shared_lock lk(g_hotplug);
  uint64_t targets = mask & g_online_mask.load(std::memory_order_acquire);
  if (self) targets &= ~(uint64_t{1} << self->id);
  for (uint64_t m = targets; m; m &= m - 1) {
    int cpu = __builtin_ctzll(m);
    cpu_state* c = &g_cpus[cpu];
    call_single_data* csd = &csds[cpu];
    csd->func = func;
    csd->info = info;
    csd->done.store(0, relaxed);
    call_single_data* head = c->csd_queue.load(relaxed);
    do {
      csd->next = head;
    } while (!c->csd_queue.compare_exchange(head, csd, release));
    syscall(SYS_tgkill, getpid(), c->tid, ipi_signal());
  }
  if (self && (mask >> self->id & 1)) {
    unsigned long flags = local_irq_save();
    func(info);
    local_irq_restore(flags);
  }
  // The csds live on our stack: always wait for them, even when the caller does not
  // need to (kernel callers that pass wait=false use per-cpu csds instead).
  (void)wait;
  for (uint64_t m = targets; m; m &= m - 1) csd_wait(&csds[__builtin_ctzll(m)]);
}

// ---- RCU (liburcu memb) ----------------------------------------------------------------
#if GUPFAST_TSAN
int g_rcu_readers_token;  // [RCU-GP]: readers' unlocks happen before the grace period's end
#endif
namespace {
#if GUPFAST_TSAN
int g_rcu_barrier_token;  // callbacks happen before rcu_barrier() returns
#endif

void urcu_trampoline(::rcu_head* h) {
  rcu_head* head = caa_container_of(h, rcu_head, urcu);
#if GUPFAST_TSAN
  __tsan_acquire(head);  // liburcu is not instrumented: state its happens-before edge
  __tsan_acquire(&g_rcu_readers_token);  // [RCU-GP] the callback runs after a grace period
#endif
  head->func(head);
#if GUPFAST_TSAN
  __tsan_release(&g_rcu_barrier_token);
#endif
}
}  // namespace

void call_rcu(rcu_head* head, void (*func)(rcu_head*)) noexcept {
  head->func = func;
#if GUPFAST_TSAN
  __tsan_release(head);
#endif
  // liburcu's call_rcu must be called from a registered thread; a thread that is not a CPU
  // (a test's main thread, say) registers for the call.
  bool temp = !tls_cpu && !urcu_memb_read_ongoing();
  if (temp) urcu_memb_register_thread();
  urcu_memb_call_rcu(&head->urcu, urcu_trampoline);
  if (temp) urcu_memb_unregister_thread();
}

void synchronize_rcu() noexcept {
  urcu_memb_synchronize_rcu();
#if GUPFAST_TSAN
  __tsan_acquire(&g_rcu_readers_token);  // [RCU-GP]
#endif
}

void rcu_barrier() noexcept {
  bool temp = !tls_cpu;
  if (temp) urcu_memb_register_thread();
  urcu_memb_barrier();
#if GUPFAST_TSAN
  __tsan_acquire(&g_rcu_barrier_token);
#endif
  if (temp) urcu_memb_unregister_thread();
}

}  // namespace sync
GUPFAST_NS_END
