// Real threads: a pinner runs pin_user_pages_fast on a region while a mutator reclaims,
// migrates or splits it, per table strategy. Asserted for every pin, as in
// tests/race/test_race.cpp:
//   - the page was mapped at its address at some instant of the call: each page carries a
//     token (its index, and the generation the mutator wrote last); a freed frame is
//     poisoned and a reused one holds someone else's token
//   - no frame is freed while a pin on it is outstanding (a memmap hook)
//   - reclaim and migration only: a device write through the pin is what the process reads
//     after the unpin (lost-write), through any swap-out and swap-in or move in between
// Outcomes only, no timing; the windows are widened with amplified yield points. What
// each mutator did (and why it backed off) is printed for the record.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "replace_support.h"
#include "support/race_harness.h"

namespace gupfast::test {
namespace {

constexpr int NPAGES = 8;

enum class mutator { reclaim, migrate, split };
const char* to_string(mutator m) {
  switch (m) {
    case mutator::reclaim: return "reclaim";
    case mutator::migrate: return "migrate";
    case mutator::split: return "split";
  }
  return "?";
}

struct race_config {
  mutator mut;
  table_strategy strategy;
  tlb_mode tlb;
  pte_mode pte;
};

std::string race_name(const ::testing::TestParamInfo<race_config>& i) {
  return std::string(to_string(i.param.mut)) + "_" + to_string(i.param.strategy) + "_" + to_string(i.param.tlb) +
         "_" + to_string(i.param.pte);
}

// Token of page i, generation g: g in bytes 1..3, then i + 1 in byte 0.
// Reclaim and migration keep the data, so a token is rewritten in place: byte 0 is cleared
// first, so a reader never pairs the old idx with a half-written generation (255 -> 256
// changes two bytes).
void write_token(mm_struct* mm, unsigned long base, int i, uint32_t g) {
  unsigned long a = base + i * PAGE_SIZE;
  ASSERT_EQ(mm_store(mm, a, 0), 0);
  for (int b = 0; b < 3; b++) ASSERT_EQ(mm_store(mm, a + 1 + b, uint8_t(g >> (8 * b))), 0);
  ASSERT_EQ(mm_store(mm, a, uint8_t(i + 1)), 0);
}

class ReplaceRace : public ::testing::TestWithParam<race_config> {
 protected:
  void SetUp() override {
    const auto& c = GetParam();
    machine_config cfg;
    cfg.strategy = c.strategy;
    cfg.tlb = c.tlb;
    cfg.pte = c.pte;
    cfg.frames = 1ul << 20;
    cfg.poison = true;  // a freed frame never looks like a page of ours
    race_.start(cfg, 7);  // GUPFAST_RACE_UNSAFE applies: same races, a mutant
  }
  void TearDown() override { race_.stop(); }
  race_machine race_;
};

TEST_P(ReplaceRace, PinnedPagesWereMappedAndStayAllocated) {
  const mutator mut = GetParam().mut;
  const unsigned long base = mut == mutator::split ? HREGION : REGION;
  const unsigned long len = mut == mutator::split ? PMD_SIZE : NPAGES * PAGE_SIZE;
  const int flags = MAP_PRIVATE_ | (mut == mutator::split ? MAP_HUGE_THP : 0);
  mm_struct* mm = mm_alloc();
  std::atomic<uint32_t> gen_started{1}, gen_done{0};
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0}, lost{0}, pinned_total{0}, rounds{0}, done{0};
  {
    cpu_scope cpu;
    ASSERT_EQ(vm_mmap(mm, base, len, PROT_READ_ | PROT_WRITE_, flags), long(base));
    for (int i = 0; i < NPAGES; i++) write_token(mm, base, i, 1);
    gen_done = 1;
  }
  std::thread mutator_thread([&] {
    cpu_scope cpu;
    struct stop_on_exit {
      std::atomic<bool>& s;
      ~stop_on_exit() { s = true; }
    } guard{stop};  // also when an ASSERT returns early: the pinner must not spin forever
    for (uint32_t g = 2; g < 4000 && (g < 150 || pinned_total.load() < 1500); g++) {
      gen_started.store(g);
      if (mut == mutator::split) {  // a fresh THP each round
        ASSERT_EQ(vm_munmap(mm, base, len), 0);
        ASSERT_EQ(vm_mmap(mm, base, len, PROT_READ_ | PROT_WRITE_, flags), long(base));
      }
      for (int i = 0; i < NPAGES; i++) write_token(mm, base, i, g);
      gen_done.store(g);
      long r = 0;
      switch (mut) {
        case mutator::reclaim: r = reclaim_range(mm, base, len, nullptr); break;
        case mutator::migrate: r = migrate_range(mm, base, len, nullptr); break;
        case mutator::split: r = split_folio_at(mm, base) == 0; break;
      }
      ASSERT_GE(r, 0);
      done += r;
      rounds++;
    }
  });
  std::thread pinner([&] {
    cpu_scope cpu;
    page* pages[NPAGES];
    uint8_t dma = 0;
    while (!stop.load()) {
      uint32_t s0 = gen_started.load();
      long n = pin_user_pages_fast(mm, base, NPAGES, FOLL_WRITE, pages);
      for (long i = 0; i < n; i++) race_.reg()->pins[page_to_pfn(pages[i])].fetch_add(1);
      uint32_t d = gen_done.load();
      struct token { uint8_t idx; uint32_t g; } tok[NPAGES];
      for (long i = 0; i < n; i++) {
        unsigned long pfn = page_to_pfn(pages[i]);
        tok[i].idx = frame_read_byte(pfn, 0);
        tok[i].g = frame_read_byte(pfn, 1) | frame_read_byte(pfn, 2) << 8 | frame_read_byte(pfn, 3) << 16;
      }
      // Tokens read before s1: a token of generation g is written after gen_started = g.
      std::atomic_thread_fence(std::memory_order_acquire);
      uint32_t s1 = gen_started.load();
      for (long i = 0; i < n; i++) {
        bool ok;
        if (tok[i].idx == 0)
          ok = s1 != d;  // a fresh page of a generation still being written (split's remap)
        else
          ok = tok[i].idx == i + 1 && tok[i].g + 1 >= s0 && tok[i].g <= s1;
        if (!ok && bad.fetch_add(1) == 0)
          ADD_FAILURE() << "page " << i << " pfn " << page_to_pfn(pages[i]) << " token idx " << int(tok[i].idx)
                        << " gen " << tok[i].g << " window [" << s0 << "," << s1 << "] done " << d;
      }
      // The device writes the first page through its pin (not the token bytes).
      if (n > 0 && mut != mutator::split) {
        dma = dma == 255 ? 1 : dma + 1;
        frame_write_byte(page_to_pfn(pages[0]), 200, dma);
      }
      for (long i = 0; i < n; i++) race_.reg()->pins[page_to_pfn(pages[i])].fetch_sub(1);
      if (n > 0) {
        unpin_user_pages_dirty_lock(pages, n, true);
        pinned_total += n;
        if (mut != mutator::split) {
          uint8_t v = 0;
          ASSERT_EQ(mm_load(mm, base + 200, &v), 0);
          if (v != dma) lost++;
        }
      }
    }
  });
  mutator_thread.join();
  pinner.join();
  {
    cpu_scope cpu;
    mmput(mm);
  }
  EXPECT_EQ(bad.load(), 0) << "a pinned page was not mapped at its address during the call";
  EXPECT_EQ(race_.reg()->freed_while_pinned.load(), 0) << "a pinned frame was freed";
  EXPECT_EQ(lost.load(), 0) << "a device write through a pin was lost";
  EXPECT_GT(pinned_total.load(), 0);
  EXPECT_EQ(machine_frames_in_use(), 0u);
  EXPECT_EQ(swap_slots_in_use(), 0u);
  EXPECT_EQ(lru_nr_folios(), 0u);
  // For the record (docs): what the mutator did and why it backed off.
  std::printf("[ %s ] rounds %ld pinned %ld | done %ld | reclaim: pinned %lu unmap-pinned %lu freeze-failed %lu busy %lu"
              " | migrate: pinned %lu unmap-pinned %lu freeze-failed %lu busy %lu waits %lu"
              " | split: pinned %lu unmap-pinned %lu freeze-failed %lu busy %lu | gup stops: pte %lu ref0 %lu folio %lu seq %lu\n",
              race_name({GetParam(), 0}).c_str(), rounds.load(), pinned_total.load(), done.load(),
              (unsigned long)counter_read(CNT_reclaim_skip_pinned), (unsigned long)counter_read(CNT_reclaim_unmap_pinned),
              (unsigned long)counter_read(CNT_reclaim_freeze_failed), (unsigned long)counter_read(CNT_reclaim_busy),
              (unsigned long)counter_read(CNT_migrate_pinned), (unsigned long)counter_read(CNT_migrate_unmap_pinned),
              (unsigned long)counter_read(CNT_migrate_freeze_failed), (unsigned long)counter_read(CNT_migrate_busy),
              (unsigned long)counter_read(CNT_migration_entry_waits), (unsigned long)counter_read(CNT_split_pinned),
              (unsigned long)counter_read(CNT_split_unmap_pinned), (unsigned long)counter_read(CNT_split_freeze_failed),
              (unsigned long)counter_read(CNT_split_busy), (unsigned long)counter_read(CNT_stop_pte_changed),
              (unsigned long)counter_read(CNT_stop_ref_zero), (unsigned long)counter_read(CNT_stop_folio_changed),
              (unsigned long)counter_read(CNT_stop_seq_changed));
}

std::vector<race_config> all_cases() {
  std::vector<race_config> v;
  for (mutator m : {mutator::reclaim, mutator::migrate, mutator::split}) {
    v.push_back({m, table_strategy::ipi, tlb_mode::ipi, pte_mode::native});
    v.push_back({m, table_strategy::rcu, tlb_mode::broadcast, pte_mode::native});
    v.push_back({m, table_strategy::seqcount, tlb_mode::broadcast, pte_mode::native});
    v.push_back({m, table_strategy::rcu, tlb_mode::broadcast, pte_mode::pae});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Threads, ReplaceRace, ::testing::ValuesIn(all_cases()), race_name);

}  // namespace
}  // namespace gupfast::test
