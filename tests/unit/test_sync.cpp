#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "machine/machine.h"

using namespace gupfast;

namespace {
std::atomic<int> g_calls{0};
void count_call(void*) { g_calls.fetch_add(1); }
}  // namespace

// An IPI to a CPU with irqs off is deferred until it re-enables them.
TEST(Sync, IpiWaitsForIrqsOn) {
  std::atomic<int> stage{0};
  std::thread t([&] {
    cpu_scope cpu;
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
  for (int i = 0; i < 1000; i++) std::this_thread::yield();
  EXPECT_FALSE(done.load());
  stage = 2;
  sender.join();
  EXPECT_TRUE(done.load());
  stage = 3;
  t.join();
}
