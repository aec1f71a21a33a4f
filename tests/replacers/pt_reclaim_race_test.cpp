// Real threads against PT reclaim: a mutator empties a 2 MiB region with MADV_DONTNEED (its
// PTE table is reclaimed each time) and refills sampled pages with fresh tokens, while a
// pinner pins them through GUP-fast and the locked slow path (pte_offset_map_lock racing the
// reclaim under mmap_lock read), and the process faults and zaps single pages (more locked
// walkers, and zaps of a table being reclaimed). Per strategy x TLB flush mode x entry format.
// Asserted: every pin was mapped at its address during the call (tokens), no pinned frame is
// freed, no double free, tables really were reclaimed, and every frame comes back.
#include <atomic>
#include <cstdlib>
#include <thread>

#include "replacers/khugepaged_support.h"

namespace gupfast::test {
namespace {

constexpr int NSAMPLE = 8;
constexpr int STRIDE = 61;

struct race_config {
  table_strategy strategy;
  tlb_mode tlb;
  pte_mode pte;
};

std::string race_name(const testing::TestParamInfo<race_config>& i) {
  return std::string(to_string(i.param.strategy)) + "_" + to_string(i.param.tlb) + "_" + to_string(i.param.pte);
}

unsigned long sample_addr(int k) { return HREGION + static_cast<unsigned long>(k) * STRIDE * PAGE_SIZE; }

// Token of generation g in a fresh page: g in bytes 1..3, then k + 1 in byte 0, written
// last, so a page whose byte 0 is set holds its whole token.
void write_token(mm_struct* mm, int k, uint32_t g) {
  for (int b = 0; b < 3; b++) ASSERT_EQ(mm_store(mm, sample_addr(k) + 1 + b, uint8_t(g >> (8 * b))), 0);
  ASSERT_EQ(mm_store(mm, sample_addr(k), uint8_t(k + 1)), 0);
}

class PtReclaimRace : public testing::TestWithParam<race_config> {
 protected:
  void SetUp() override {
    const auto& c = GetParam();
    cfg_.strategy = c.strategy;
    cfg_.tlb = c.tlb;
    cfg_.pte = c.pte;
    cfg_.pt_reclaim = true;
    cfg_.frames = 1ul << 21;
    race_.start(cfg_, 11);
  }
  void TearDown() override { race_.stop(); }
  machine_config cfg_;
  race_machine race_;
};

TEST_P(PtReclaimRace, PinsAndFaultsRaceTableReclaim) {
  mm_struct* mm = mm_alloc();
  std::atomic<uint32_t> gen_started{1}, gen_done{0};
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, pinned_total{0}, slow_pins{0};
  {
    cpu_scope cpu;
    ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
    for (int k = 0; k < NSAMPLE; k++) write_token(mm, k, 1);
    gen_done = 1;
  }
  auto mutate = [&] {
    for (uint32_t g = 2; g < 3000 && (g < 200 || pinned_total.load() < 1000); g++) {
      gen_started.store(g);
      ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_DONTNEED_), 0);
      for (int k = 0; k < NSAMPLE; k++) write_token(mm, k, g);
      gen_done.store(g);
    }
  };
  std::thread mutator([&] {
    cpu_scope cpu;
    mutate();
    stop = true;
  });
  std::thread pinner([&] {
    cpu_scope cpu;
    for (unsigned i = 0; !stop.load(); i++) {
      int k = static_cast<int>(i * 3 % NSAMPLE);
      page* p;
      uint32_t s0 = gen_started.load();
      bool slow = i % 4 == 3;
      long n = slow ? pin_user_pages_unlocked(mm, sample_addr(k), 1, FOLL_WRITE, &p)
                    : pin_user_pages_fast(mm, sample_addr(k), 1, FOLL_WRITE, &p);
      if (n != 1) continue;
      unsigned long pfn = page_to_pfn(p);
      race_.reg()->pins[pfn].fetch_add(1);
      uint32_t s1 = gen_started.load(), d = gen_done.load();
      uint8_t idx = frame_read_byte(pfn, 0);
      uint32_t g = frame_read_byte(pfn, 1) | frame_read_byte(pfn, 2) << 8 | frame_read_byte(pfn, 3) << 16;
      // A fresh page (idx 0) only while a generation is being written; otherwise its token's
      // generation must overlap the call (gen_started = g is stored before g zaps g - 1).
      bool ok = idx == 0 ? s1 != d : (idx == k + 1 && g + 1 >= s0 && g <= s1);
      if (!ok && bad.fetch_add(1) == 0)
        ADD_FAILURE() << (slow ? "slow" : "fast") << " pin of page " << k << " pfn " << pfn << " token "
                      << int(idx) << "/" << g << " window [" << s0 << "," << s1 << "] done " << d;
      race_.reg()->pins[pfn].fetch_sub(1);
      unpin_user_page(p);
      pinned_total++;
      if (slow) slow_pins++;
    }
  });
  std::thread process([&] {
    cpu_scope cpu;
    for (unsigned i = 1; !stop.load(); i++) {
      unsigned j = i * 37 % HPAGE_PMD_NR;
      if (j % STRIDE == 0 && j / STRIDE < NSAMPLE) continue;  // the sampled pages are the mutator's
      unsigned long a = HREGION + j * PAGE_SIZE + 500;
      if (i % 16 == 0) {
        ASSERT_EQ(do_madvise(mm, a & PAGE_MASK, PAGE_SIZE, MADV_DONTNEED_), 0);
      } else {
        ASSERT_EQ(mm_store(mm, a, uint8_t(i)), 0);
        ASSERT_GE(load(mm, a), 0);
      }
    }
  });
  mutator.join();
  pinner.join();
  process.join();
  {
    cpu_scope cpu;
    mmput(mm);
  }
  EXPECT_EQ(bad.load(), 0) << "a pinned page was not mapped at its address during the call";
  EXPECT_EQ(race_.reg()->freed_while_pinned.load(), 0) << "a pinned frame was freed";
  EXPECT_EQ(counter_read(CNT_bad_page), 0u);
  EXPECT_GT(counter_read(CNT_pt_reclaim_freed), 100u);
  EXPECT_GT(slow_pins.load(), 0);
  EXPECT_EQ(machine_frames_in_use(), 0u);
  RecordProperty("tables_reclaimed", static_cast<int>(counter_read(CNT_pt_reclaim_freed)));
  RecordProperty("pins", static_cast<int>(pinned_total.load()));
}

INSTANTIATE_TEST_SUITE_P(
    Threads, PtReclaimRace,
    testing::Values(race_config{table_strategy::ipi, tlb_mode::ipi, pte_mode::native},
                    race_config{table_strategy::rcu, tlb_mode::broadcast, pte_mode::native},
                    race_config{table_strategy::rcu, tlb_mode::broadcast, pte_mode::pae},
                    race_config{table_strategy::rcu, tlb_mode::ipi, pte_mode::native},
                    race_config{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::native},
                    race_config{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::pae}),
    race_name);

}  // namespace
}  // namespace gupfast::test
