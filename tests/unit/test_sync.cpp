#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <cerrno>

#include "machine/machine.h"

using namespace gupfast;

namespace {
std::atomic<int> g_calls{0};
void count_call(void*) { g_calls.fetch_add(1); }
}  // namespace

// An IPI to a CPU with irqs off is deferred until it re-enables them.
TEST(Sync, IpiWaitsForIrqsOn) {
  g_calls = 0;
  std::atomic<int> stage{0};
  std::atomic<int> t_cpu{-1};
  std::thread t([&] {
    cpu_scope cpu;
    t_cpu = cpu.id();
    unsigned long flags = sync::local_irq_save();
    stage = 1;
    while (stage.load() < 2) std::this_thread::yield();
    // The sender is waiting for us; its call has not run on this CPU yet.
    EXPECT_EQ(g_calls.load(), 0);
    sync::local_irq_restore(flags);
    EXPECT_EQ(g_calls.load(), 1);
    while (stage.load() < 3) std::this_thread::yield();
  });
  while (stage.load() < 1) std::this_thread::yield();
  std::atomic<bool> done{false};
  std::thread sender([&] {
    cpu_scope cpu;
    int target = -1;
    for (int i = 0; i < sync::NR_CPUS; i++)
      if (i != cpu.id() && (sync::cpu_online_mask() >> i & 1)) target = i;
    sync::smp_call_function_many(uint64_t{1} << target, count_call, nullptr, true);
    done = true;
  });
  // Wait until the sender has queued its call to t (it then waits for t), so that t
  // re-enables irqs with the call pending however the threads are scheduled.
  sync::cpu_state* target = sync::cpu_by_id(t_cpu.load());
  ASSERT_NE(target, nullptr);
  while (!target->csd_queue.load(sync::relaxed)) std::this_thread::yield();
  for (int i = 0; i < 200; i++) std::this_thread::yield();
  EXPECT_FALSE(done.load());
  stage = 2;
  sender.join();
  EXPECT_TRUE(done.load());
  stage = 3;
  t.join();
}

namespace {
std::atomic<int> g_rcu_calls{0};
void rcu_cb(sync::rcu_head*) { g_rcu_calls.fetch_add(1); }

struct ran_on {
  std::atomic<int> count{0};
  std::atomic<uint64_t> cpus{0};
};
void record_cpu(void* arg) {
  auto* r = static_cast<ran_on*>(arg);
  r->cpus.fetch_or(uint64_t{1} << sync::smp_processor_id());
  r->count.fetch_add(1);
}
}  // namespace

// call_rcu's callback runs only after every reader that was inside when it was queued has
// left, and synchronize_rcu() waits for them too.
TEST(Sync, CallRcuRunsAfterReadersLeave) {
  g_rcu_calls = 0;
  std::atomic<int> stage{0};
  std::thread reader([&] {
    cpu_scope cpu;
    sync::rcu_read_lock();
    stage = 1;
    while (stage.load() < 2) std::this_thread::yield();
    sync::rcu_read_unlock();
  });
  while (stage.load() < 1) std::this_thread::yield();
  sync::rcu_head head;
  sync::call_rcu(&head, rcu_cb);
  std::atomic<bool> synced{false};
  std::thread syncer([&] {
    cpu_scope cpu;
    sync::synchronize_rcu();
    synced = true;
  });
  // Give the grace-period machinery every chance to (wrongly) finish.
  for (int i = 0; i < 200; i++) std::this_thread::yield();
  EXPECT_EQ(g_rcu_calls.load(), 0) << "callback ran inside a reader's section";
  EXPECT_FALSE(synced.load()) << "synchronize_rcu returned inside a reader's section";
  stage = 2;
  reader.join();
  syncer.join();
  EXPECT_TRUE(synced.load());
  sync::rcu_barrier();
  EXPECT_EQ(g_rcu_calls.load(), 1);
}

// smp_call_function_many with wait: when it returns, the function ran on every target
// CPU (on that CPU's own thread) and on the caller if it is in the mask.
TEST(Sync, SmpCallFunctionManyWaitsForEveryTarget) {
  constexpr int N = 3;
  std::atomic<int> online{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> mask{0};
  std::vector<std::thread> cpus;
  for (int i = 0; i < N; i++)
    cpus.emplace_back([&] {
      cpu_scope cpu;
      mask.fetch_or(uint64_t{1} << cpu.id());
      online.fetch_add(1);
      while (!stop.load()) std::this_thread::yield();
    });
  while (online.load() < N) std::this_thread::yield();
  cpu_scope self;
  ASSERT_GE(self.id(), 0);
  uint64_t targets = mask.load() | uint64_t{1} << self.id();
  for (int round = 0; round < 50; round++) {
    ran_on r;
    sync::smp_call_function_many(targets, record_cpu, &r, true);
    ASSERT_EQ(r.count.load(), N + 1);
    ASSERT_EQ(r.cpus.load(), targets);
  }
  // CPUs that are not online are skipped, not waited for.
  ran_on r;
  uint64_t offline = ~sync::cpu_online_mask() & (uint64_t{1} << 40);
  sync::smp_call_function_many(targets | offline, record_cpu, &r, true);
  EXPECT_EQ(r.cpus.load(), targets);
  stop = true;
  for (auto& t : cpus) t.join();
}

TEST(Sync, CpuScopeRegistersOnce) {
  cpu_scope a;
  ASSERT_GE(a.id(), 0);
  EXPECT_EQ(sync::smp_processor_id(), a.id());
  EXPECT_TRUE(sync::cpu_online_mask() >> a.id() & 1);
  {
    cpu_scope again;
    EXPECT_EQ(again.id(), -EBUSY);
  }
  // The failed second scope did not take the CPU offline.
  EXPECT_EQ(sync::smp_processor_id(), a.id());
  EXPECT_FALSE(sync::irqs_disabled());
  unsigned long f = sync::local_irq_save();
  EXPECT_TRUE(sync::irqs_disabled());
  sync::local_irq_restore(f);
  EXPECT_FALSE(sync::irqs_disabled());
}
