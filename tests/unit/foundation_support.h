// Shared helpers of the foundation unit tests: a machine fixture with a leak check, a
// page-table lookup, a CPU thread that runs jobs for the main thread, and RSS reading.
#pragma once
#include <gtest/gtest.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "machine/machine.h"
#include "mm/mm.h"
#include "tlb/tlbflush.h"

#include "support/mm_owner.h"
#include "support/probe.h"

namespace gupfast::test {

// Resident set size of this process in bytes (/proc/self/statm, second field).
inline long resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = 0;
  int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * 4096l : -1;
}

// The PTE that maps addr in mm, read under mmap_lock (0 if no table or no entry).
inline pte_t lookup_pte(mm_struct* mm, unsigned long addr) {
  pte_t r{0};
  mm->mmap_lock.down_read();
  if (pmd_t* pmdp = mm_find_pmd(mm, addr)) {
    pmd_t pmd = pmdp_get(pmdp);
    if (pmd_table(pmd)) r = ptep_get(pte_offset_lockless(pmd, addr));
  }
  mm->mmap_lock.up_read();
  return r;
}

// (start, end, flags) of every VMA: "changes nothing" compares two of these.
using vma_layout = std::vector<std::tuple<unsigned long, unsigned long, unsigned long>>;
inline vma_layout layout(mm_struct* mm) {
  vma_layout l;
  mm->mmap_lock.down_read();
  for (auto& [end, v] : mm->vmas) l.emplace_back(v->vm_start, v->vm_end, v->vm_flags);
  mm->mmap_lock.up_read();
  return l;
}


// A thread registered as a CPU that runs jobs posted by the test's main thread. While
// idle it waits on a condition variable with irqs on, so it takes IPIs (TLB shootdowns)
// as any idle CPU does.
class cpu_thread {
 public:
  cpu_thread() : t_([this] { run(); }) {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return started_; });
  }
  ~cpu_thread() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    t_.join();
  }
  cpu_thread(const cpu_thread&) = delete;
  cpu_thread& operator=(const cpu_thread&) = delete;

  int id() const { return id_; }

  // Run f on this CPU and wait for its result.
  template <class F>
  auto call(F f) -> decltype(f()) {
    using R = decltype(f());
    if constexpr (std::is_void_v<R>) {
      post([&] { f(); });
    } else {
      std::optional<R> out;
      post([&] { out.emplace(f()); });
      return std::move(*out);
    }
  }

 private:
  void post(std::function<void()> job) {
    {
      std::lock_guard lk(m_);
      job_ = std::move(job);
      done_ = false;
    }
    cv_.notify_all();
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return done_; });
  }

  void run() {
    cpu_scope cpu;
    std::unique_lock lk(m_);
    id_ = cpu.id();
    started_ = true;
    cv_.notify_all();
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || job_; });
      if (stop_) return;
      auto job = std::move(job_);
      job_ = nullptr;
      lk.unlock();
      job();
      lk.lock();
      done_ = true;
      cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool started_ = false, done_ = false, stop_ = false;
  int id_ = -1;
  std::thread t_;
};

// A machine per test, created in SetUp from config() and destroyed in TearDown, with the
// main thread registered as a CPU. TearDown puts every mm the test made with new_mm() and
// checks that every frame came back (the leak check).
class MachineTest : public ::testing::Test, public mm_owner {
 protected:
  virtual machine_config config() { return machine_config{}; }

  void SetUp() override {
    ASSERT_EQ(machine_create(config()), 0);
    created_ = true;
    cpu_.emplace();
    ASSERT_GE(cpu_->id(), 0);
  }

  void TearDown() override {
    put_all_mms();
    if (created_) {
      EXPECT_EQ(machine_frames_in_use(), 0ul) << "leak at teardown: " << machine_describe();
      EXPECT_EQ(counter_read(CNT_tables_allocated), counter_read(CNT_tables_freed));
    }
    cpu_.reset();
    if (created_) machine_destroy();
  }

  // mmput now (exit) instead of at teardown.
  unsigned long map(mm_struct* mm, unsigned long len, int prot = PROT_READ_ | PROT_WRITE_,
                    int flags = MAP_PRIVATE_, unsigned long addr = 0) {
    long a = vm_mmap(mm, addr, len, prot, flags);
    EXPECT_GT(a, 0) << "vm_mmap returned " << a;
    return static_cast<unsigned long>(a);
  }

  std::optional<cpu_scope> cpu_;
  bool created_ = false;
};

}  // namespace gupfast::test
