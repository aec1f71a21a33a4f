// Real threads: a pinner runs GUP-fast on a THP region while a mutator alternately splits its
// PMD leaf into a PTE table and collapses it back into a new huge folio, and the process
// keeps storing to it; for every strategy x TLB flush mode x entry format. Asserted:
//   - every pinned page was mapped at its address at some instant of the call (a token in the
//     page names its index and the generation the mutator wrote after its last operation),
//   - no frame is freed while a pin on it is outstanding (memmap hook),
//   - a device write through a pin is what the process reads after the unpin (collapse
//     never copies a pinned page away), and every store of the process survives,
//   - every frame comes back at the end.
// Outcomes only, no timing; the windows are widened with amplified yield points.
// GUPFAST_RACE_UNSAFE=no-pmd-recheck,no-collapse-sync runs the same races against mutants.
#include <atomic>
#include <cstdlib>
#include <thread>

#include "replacers/khugepaged_support.h"

namespace gupfast::test {
namespace {

constexpr int NSAMPLE = 16;  // sampled pages: index k * 32
constexpr int STRIDE = 32;
constexpr uint32_t MIN_ROUNDS = 120, MAX_ROUNDS = 250;  // gens fit in one token byte

struct race_config {
  table_strategy strategy;
  tlb_mode tlb;
  pte_mode pte;
};

std::string race_name(const testing::TestParamInfo<race_config>& i) {
  return std::string(to_string(i.param.strategy)) + "_" + to_string(i.param.tlb) + "_" + to_string(i.param.pte);
}

unsigned long sample_addr(int k) { return HREGION + static_cast<unsigned long>(k) * STRIDE * PAGE_SIZE; }

// Token: byte 0 = k + 1, byte 1 = generation (one byte, so a reader never sees half of it).
void write_token(mm_struct* mm, int k, uint32_t g) {
  ASSERT_EQ(mm_store(mm, sample_addr(k) + 1, uint8_t(g)), 0);
  ASSERT_EQ(mm_store(mm, sample_addr(k), uint8_t(k + 1)), 0);
}

class CollapseRace : public testing::TestWithParam<race_config> {
 protected:
  void SetUp() override {
    const auto& c = GetParam();
    cfg_.strategy = c.strategy;
    cfg_.tlb = c.tlb;
    cfg_.pte = c.pte;
    cfg_.frames = 1ul << 21;
    race_.start(cfg_, 7);
  }
  void TearDown() override { race_.stop(); }
  machine_config cfg_;
  race_machine race_;
};

TEST_P(CollapseRace, PinsSurviveSplitAndCollapse) {
  mm_struct* mm = mm_alloc();
  std::atomic<uint32_t> gen_started{1}, gen_done{1};
  std::atomic<bool> stop{false};
  std::atomic<long> bad_token{0}, lost{0}, pinned_total{0}, collapses{0}, backoffs{0}, splits{0};
  std::vector<std::atomic<int>> last(HPAGE_PMD_NR);  // the process's last store at offset 200
  {
    cpu_scope cpu;
    ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(HREGION));
    for (int k = 0; k < NSAMPLE; k++) write_token(mm, k, 1);
    ASSERT_TRUE(lookup(mm, HREGION).leaf);
  }
  auto mutate = [&] {
    for (uint32_t g = 2; g <= MAX_ROUNDS && (g < MIN_ROUNDS || pinned_total.load() < 300); g++) {
      gen_started.store(g);
      if (lookup(mm, HREGION).leaf) {
        ASSERT_EQ(split_pmd(mm, HREGION), 0);
        splits++;
      } else {
        collapse_stats st;
        int rc = collapse_pmd_range(mm, HREGION, &st);
        ASSERT_TRUE(rc == 0 || rc == -EAGAIN) << rc << " " << to_string(st.result);
        (rc == 0 ? collapses : backoffs)++;
      }
      for (int k = 0; k < NSAMPLE; k++) write_token(mm, k, g);
      gen_done.store(g);
    }
  };
  std::thread mutator([&] {
    cpu_scope cpu;
    mutate();
    stop = true;  // also when an assertion ended mutate() early
  });
  std::thread pinner([&] {
    cpu_scope cpu;
    uint8_t v = 0;
    for (unsigned i = 0; !stop.load(); i++) {
      int k = static_cast<int>(i * 7 % NSAMPLE);
      page* p;
      uint32_t s0 = gen_started.load();
      if (pin_user_pages_fast(mm, sample_addr(k), 1, FOLL_WRITE, &p) != 1) continue;
      unsigned long pfn = page_to_pfn(p);
      race_.reg()->pins[pfn].fetch_add(1);
      uint8_t idx = frame_read_byte(pfn, 0);
      uint32_t g = frame_read_byte(pfn, 1);
      // Read after the token: split keeps the pages, so a later generation may rewrite the
      // token of the page we legitimately pinned; gen_started is stored before that write.
      uint32_t s1 = gen_started.load();
      // gen_started = g is stored before operation g replaces generation g - 1's pages.
      if ((idx != k + 1 || g + 1 < s0 || g > s1) && bad_token.fetch_add(1) == 0)
        ADD_FAILURE() << "page " << k << " pfn " << pfn << " token " << int(idx) << "/" << g << " window [" << s0
                      << "," << s1 << "]";
      v = static_cast<uint8_t>(v % 250 + 1);
      frame_write_byte(pfn, 100, v);  // the device writes through the pin
      race_.reg()->pins[pfn].fetch_sub(1);
      unpin_user_pages_dirty_lock(&p, 1, true);
      if (load(mm, sample_addr(k) + 100) != v) lost++;
      pinned_total++;
    }
  });
  std::thread process([&] {
    cpu_scope cpu;
    for (unsigned i = 1; !stop.load(); i++) {
      int j = static_cast<int>(i * 131 % HPAGE_PMD_NR);
      uint8_t v = static_cast<uint8_t>(i % 251 + 1);
      ASSERT_EQ(mm_store(mm, HREGION + j * PAGE_SIZE + 200, v), 0);
      last[j].store(v);
    }
  });
  mutator.join();
  pinner.join();
  process.join();
  {
    cpu_scope cpu;
    for (int j = 0; j < HPAGE_PMD_NR; j++) {
      int want = last[j].load();
      ASSERT_EQ(load(mm, HREGION + j * PAGE_SIZE + 200), want) << "the process's store to page " << j << " was lost";
    }
    mmput(mm);
  }
  EXPECT_EQ(bad_token.load(), 0) << "a pinned page was not mapped at its address during the call";
  EXPECT_EQ(lost.load(), 0) << "lost-write: a device write through a pin did not reach the process";
  EXPECT_EQ(race_.reg()->freed_while_pinned.load(), 0) << "a pinned frame was freed";
  EXPECT_GT(pinned_total.load(), 0);
  EXPECT_GT(collapses.load(), 0);
  EXPECT_EQ(counter_read(CNT_bad_page), 0u);
  EXPECT_EQ(machine_frames_in_use(), 0u);
  RecordProperty("collapses", static_cast<int>(collapses.load()));
  RecordProperty("backoffs", static_cast<int>(backoffs.load()));
  RecordProperty("pins", static_cast<int>(pinned_total.load()));
}

INSTANTIATE_TEST_SUITE_P(
    Threads, CollapseRace,
    testing::Values(race_config{table_strategy::ipi, tlb_mode::ipi, pte_mode::native},
                    race_config{table_strategy::ipi, tlb_mode::ipi, pte_mode::pae},
                    race_config{table_strategy::rcu, tlb_mode::broadcast, pte_mode::native},
                    race_config{table_strategy::rcu, tlb_mode::broadcast, pte_mode::pae},
                    race_config{table_strategy::rcu, tlb_mode::ipi, pte_mode::native},
                    race_config{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::native},
                    race_config{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::pae}),
    race_name);

}  // namespace
}  // namespace gupfast::test
