// Real threads: a pinner runs GUP-fast on a region while a mutator zaps, remaps and forks
// it, for every strategy x TLB flush mode x entry format. Asserted, for every pin:
//   - the page was mapped at its address at some instant of the call (a token written in
//     each page names its address and generation; the generation must fall in the call's
//     window), and
//   - no frame is freed while a pin on it is outstanding (a memmap hook), and
//   - a device write through a pin is what the process reads afterwards (fork race).
// Outcomes only; no timing. The windows are opened with --amplify-style random delays.
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "race_util.h"

using namespace gupfast_test;

namespace {

constexpr unsigned long REGION = 0x30000000ul;
constexpr int NPAGES = 8;

struct race_config {
  table_strategy strategy;
  tlb_mode tlb;
  pte_mode pte;
};

std::string race_name(const testing::TestParamInfo<race_config>& i) {
  return std::string(to_string(i.param.strategy)) + "_" + to_string(i.param.tlb) + "_" + to_string(i.param.pte);
}

// Token in the first 4 bytes of page i of generation g: g (24 bits) in bytes 1..3, then
// i+1 in byte 0, written last: a page whose byte 0 is set has its whole token.
void write_token(mm_struct* mm, int i, uint32_t g) {
  unsigned long a = REGION + i * PAGE_SIZE;
  for (int b = 0; b < 3; b++) ASSERT_EQ(mm_store(mm, a + 1 + b, uint8_t(g >> (8 * b))), 0);
  ASSERT_EQ(mm_store(mm, a, uint8_t(i + 1)), 0);
}

class Race : public testing::TestWithParam<race_config> {
 protected:
  void SetUp() override {
    const auto& c = GetParam();
    cfg_ = make_config(c.strategy, c.tlb, c.pte);
    cfg_.frames = 1ul << 21;
    race_.start(cfg_, 42);
  }
  void TearDown() override { race_.stop(); }
  machine_config cfg_;
  race_machine race_;
};

// Pins race munmap+mmap and MADV_DONTNEED of the region, with fresh tokens each time.
TEST_P(Race, PinnedPagesWereMappedAndStayAllocated) {
  mm_struct* mm = mm_alloc();
  std::atomic<uint32_t> gen_started{1}, gen_done{0};
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, pinned_total{0};
  {
    cpu_scope cpu;
    ASSERT_EQ(vm_mmap(mm, REGION, NPAGES * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(REGION));
    for (int i = 0; i < NPAGES; i++) write_token(mm, i, 1);
    gen_done = 1;
  }
  std::thread mutator([&] {
    cpu_scope cpu;
    for (uint32_t g = 2; g < 20000 && (g < 400 || pinned_total.load() < 2000); g++) {
      gen_started.store(g);
      if (g % 2)
        ASSERT_EQ(do_madvise(mm, REGION, NPAGES * PAGE_SIZE, MADV_DONTNEED_), 0);
      else {
        ASSERT_EQ(vm_munmap(mm, REGION, NPAGES * PAGE_SIZE), 0);
        ASSERT_EQ(vm_mmap(mm, REGION, NPAGES * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(REGION));
      }
      for (int i = 0; i < NPAGES; i++) write_token(mm, i, g);
      gen_done.store(g);
    }
    stop = true;
  });
  std::thread pinner([&] {
    cpu_scope cpu;
    page* pages[NPAGES];
    while (!stop.load()) {
      uint32_t s0 = gen_started.load();
      long n = pin_user_pages_fast(mm, REGION, NPAGES, FOLL_WRITE, pages);
      for (long i = 0; i < n; i++) race_.reg()->pins[page_to_pfn(pages[i])].fetch_add(1);
      uint32_t s1 = gen_started.load();
      uint32_t d = gen_done.load();
      for (long i = 0; i < n; i++) {
        unsigned long pfn = page_to_pfn(pages[i]);
        uint8_t idx = frame_read_byte(pfn, 0);
        uint32_t g = frame_read_byte(pfn, 1) | frame_read_byte(pfn, 2) << 8 | frame_read_byte(pfn, 3) << 16;
        bool ok;
        if (idx == 0)
          ok = s1 != d;  // a fresh page of a generation still being written
        else
          // gen_started = k is stored before generation k zaps generation k-1's pages, so
          // at the call's start the page may still be of generation s0 - 1.
          ok = idx == i + 1 && g + 1 >= s0 && g <= s1;
        if (!ok && bad.fetch_add(1) == 0)
          ADD_FAILURE() << "page " << i << " pfn " << pfn << " token idx " << int(idx) << " gen " << g
                        << " window [" << s0 << "," << s1 << "] done " << d;
      }
      for (long i = 0; i < n; i++) race_.reg()->pins[page_to_pfn(pages[i])].fetch_sub(1);
      if (n > 0) {
        unpin_user_pages(pages, n);
        pinned_total += n;
      }
    }
  });
  mutator.join();
  pinner.join();
  {
    cpu_scope cpu;
    mmput(mm);
  }
  EXPECT_EQ(bad.load(), 0) << "a pinned page was not mapped at its address during the call";
  EXPECT_EQ(race_.reg()->freed_while_pinned.load(), 0);
  EXPECT_GT(pinned_total.load(), 0);
  EXPECT_EQ(machine_frames_in_use(), 0u);
}

// Pins race fork: a device write through the pin must be what the parent reads back.
TEST_P(Race, DeviceWritesThroughPinsSurviveFork) {
  mm_struct* mm = mm_alloc();
  std::atomic<bool> stop{false};
  std::atomic<long> lost{0}, rounds{0};
  {
    cpu_scope cpu;
    ASSERT_EQ(vm_mmap(mm, REGION, NPAGES * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(REGION));
    for (int i = 0; i < NPAGES; i++) ASSERT_EQ(mm_store(mm, REGION + i * PAGE_SIZE, 1), 0);
  }
  std::thread forker([&] {
    cpu_scope cpu;
    // Until the pinner has done enough rounds (bounded: a stuck pinner fails the test).
    for (int k = 0; k < 20000 && (k < 100 || rounds.load() < 300); k++) {
      int err;
      mm_struct* child = dup_mm(mm, &err);
      ASSERT_NE(child, nullptr);
      ASSERT_EQ(mm_store(child, REGION, 0x55), 0);  // the child writes too
      mmput(child);
    }
    stop = true;
  });
  std::thread pinner([&] {
    cpu_scope cpu;
    uint8_t token = 1;
    while (!stop.load()) {
      int i = static_cast<int>(rounds.load() % NPAGES);
      unsigned long a = REGION + i * PAGE_SIZE;
      page* p;
      if (pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &p) != 1) continue;
      token = token == 255 ? 2 : token + 1;
      ASSERT_EQ(mm_store(mm, a + 100, token), 0);  // the parent writes (COW if shared)
      frame_write_byte(page_to_pfn(p), 200, token);  // the device writes
      unpin_user_pages_dirty_lock(&p, 1, true);
      uint8_t v = 0;
      ASSERT_EQ(mm_load(mm, a + 200, &v), 0);
      if (v != token) lost.fetch_add(1);
      rounds++;
    }
  });
  forker.join();
  pinner.join();
  {
    cpu_scope cpu;
    mmput(mm);
  }
  EXPECT_EQ(lost.load(), 0) << "a device write through a pin was lost to the process";
  EXPECT_GT(rounds.load(), 0);
  EXPECT_EQ(machine_frames_in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Threads, Race,
    testing::Values(race_config{table_strategy::ipi, tlb_mode::ipi, pte_mode::native},
                    race_config{table_strategy::ipi, tlb_mode::ipi, pte_mode::pae},
                    race_config{table_strategy::rcu, tlb_mode::broadcast, pte_mode::native},
                    race_config{table_strategy::rcu, tlb_mode::broadcast, pte_mode::pae},
                    race_config{table_strategy::rcu, tlb_mode::ipi, pte_mode::native},
                    race_config{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::native},
                    race_config{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::pae},
                    race_config{table_strategy::seqcount, tlb_mode::ipi, pte_mode::native}),
    race_name);

}  // namespace
