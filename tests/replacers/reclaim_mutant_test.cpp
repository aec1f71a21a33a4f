// Reclaim's two safety steps, each shown necessary by its mutant, deterministically:
//   no-reclaim-freeze     __remove_mapping frees without folio_ref_freeze: a GUP-fast
//                         reference taken after the unmap is on a freed frame
//   no-flush-before-free  the deferred TLB flush comes after the free: another CPU's
//                         cached translation reads a frame that is free or someone else's
// and each safe configuration shown correct on the same scenario.
#include <atomic>

#include "race/inject.h"
#include "replace_support.h"
#include "unit/foundation_support.h"

namespace gupfast::test {
namespace {

using gupfast_test::inject_once;

struct mutant_case {
  table_strategy strategy;
  tlb_mode tlb;
  bool mutant;
};

std::string case_name(const ::testing::TestParamInfo<mutant_case>& i) {
  return std::string(to_string(i.param.strategy)) + "_" + to_string(i.param.tlb) + (i.param.mutant ? "_mutant" : "_safe");
}

class MutantFixture : public ReplaceFixture, public ::testing::WithParamInterface<mutant_case> {
 protected:
  virtual unsafe_step step() const = 0;
  machine_config config() override {
    machine_config c;
    c.strategy = GetParam().strategy;
    c.tlb = GetParam().tlb;
    c.unsafe = GetParam().mutant ? 1u << step() : 0;
    c.poison = true;
    return c;
  }
};

// The pfn a GUP reference is outstanding on, and whether it was freed meanwhile.
std::atomic<long> g_pinned_pfn{-1};
std::atomic<int> g_freed_while_pinned{0};
void on_frame_freed(void*, unsigned long pfn, int order) {
  long p = g_pinned_pfn.load();
  if (p >= 0 && static_cast<unsigned long>(p) >= pfn && static_cast<unsigned long>(p) < pfn + (1ul << order))
    g_freed_while_pinned++;
}

class ReclaimFreeze : public MutantFixture {
  unsafe_step step() const override { return NO_RECLAIM_FREEZE; }
};

// GUP-fast loaded the PTE before try_to_unmap replaced it and pins between the unmap and
// the freeze. With the freeze, reclaim sees the pin's references and backs off (GUP-fast
// then fails its PTE recheck and unpins). Without it, the folio is freed under the pin.
TEST_P(ReclaimFreeze, GupPinBetweenUnmapAndFreeze) {
  map(REGION, PAGE_SIZE);
  fill(mm, REGION, 1, 1);
  unsigned long pfn = static_cast<unsigned long>(mapped_pfn(mm, REGION));
  g_pinned_pfn = -1;
  g_freed_while_pinned = 0;
  physmem_set_hooks({on_frame_freed, nullptr, nullptr});
  folio* pinned = nullptr;
  reclaim_stats st;
  long n;
  {
    inject_once inj("remove_mapping:before_freeze", [&] {
      pinned = try_grab_folio_fast(pfn_to_page(pfn), 1, FOLL_PIN);
      if (pinned) g_pinned_pfn = long(pfn);
    });
    n = reclaim_range(mm, REGION, PAGE_SIZE, &st);
    ASSERT_EQ(inj.fired(), 1);
  }
  ASSERT_NE(pinned, nullptr);
  if (GetParam().mutant) {
    EXPECT_EQ(n, 1);
    EXPECT_EQ(g_freed_while_pinned.load(), 1) << "pinned-freed: the mutant freed a folio GUP-fast holds";
    // The pin's references went with the frame: nothing to give back.
  } else {
    EXPECT_EQ(n, 0);
    EXPECT_EQ(st.nr_freeze_failed, 1u);
    EXPECT_EQ(g_freed_while_pinned.load(), 0);
    g_pinned_pfn = -1;
    gup_put_folio(pinned, 1, FOLL_PIN);
    EXPECT_EQ(reclaim_lru(16, nullptr), 1) << "unmapped in the swap cache: the LRU scan frees it";
  }
  physmem_set_hooks({});
  EXPECT_EQ(check(mm, REGION, 1, 1), -1) << "the data is in the swap slot either way";
}

INSTANTIATE_TEST_SUITE_P(Cases, ReclaimFreeze,
                         ::testing::Values(mutant_case{table_strategy::rcu, tlb_mode::broadcast, false},
                                           mutant_case{table_strategy::rcu, tlb_mode::broadcast, true},
                                           mutant_case{table_strategy::ipi, tlb_mode::ipi, false},
                                           mutant_case{table_strategy::ipi, tlb_mode::ipi, true}),
                         case_name);

class ReclaimFlush : public MutantFixture {
  unsafe_step step() const override { return NO_FLUSH_BEFORE_FREE; }
};

// CPU B has read the page (its TLB holds the translation). Reclaim on this CPU unmaps it
// (deferred flush), frees it, and the frame is handed to another mm that writes 0x5A.
// Safe: the flush comes first, so B's next read misses its TLB, faults, swaps the page in
// and reads 0x11. Mutant: freed before the flush; B's read still hits its TLB entry and
// reads the free or reused frame (frame-uaf).
TEST_P(ReclaimFlush, OtherCpuReadsThroughItsTlbAfterTheFree) {
  cpu_thread b;
  map(REGION, PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, REGION, 0x11), 0);
  // Clean in the swap cache: the next reclaim writes nothing out (and so flushes nothing
  // before pageout: only the flush before the free stands between B and the frame).
  ASSERT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, nullptr), 1);
  ASSERT_EQ(load(mm, REGION), 0x11);
  ASSERT_EQ(b.call([&] { return load(mm, REGION); }), 0x11);
  mm_struct* other = new_mm();
  constexpr unsigned long OTHER = 0x60000000ul;
  map(OTHER, 2 * PAGE_SIZE, MAP_PRIVATE_, other);
  ASSERT_EQ(mm_store(other, OTHER + PAGE_SIZE, 1), 0);  // its PTE table exists already
  unsigned long pfn = static_cast<unsigned long>(mapped_pfn(mm, REGION));
  int b_saw = -1;
  long reused = -1;
  auto reuse_and_read = [&] {
    ASSERT_EQ(mm_store(other, OTHER, 0x5A), 0);  // the allocator hands out the freed frame
    reused = mapped_pfn(other, OTHER);
    b_saw = b.call([&] { return load(mm, REGION); });
  };
  {
    inject_once inj("shrink_folio_list:freed_before_flush", reuse_and_read);
    ASSERT_EQ(reclaim_range(mm, REGION, PAGE_SIZE, nullptr), 1);
    EXPECT_EQ(inj.fired(), GetParam().mutant ? 1 : 0);
  }
  if (GetParam().mutant) {
    EXPECT_NE(b_saw, 0x11) << "the mutant's stale translation was not used";
    EXPECT_EQ(b_saw, reused == long(pfn) ? 0x5A : PAGE_POISON) << "B read the freed frame";
  } else {
    reuse_and_read();
    EXPECT_EQ(reused, long(pfn)) << "precondition: the freed frame is reused";
    EXPECT_EQ(b_saw, 0x11) << "B must fault and swap the page back in";
  }
  EXPECT_EQ(load(mm, REGION), 0x11);
}

INSTANTIATE_TEST_SUITE_P(Cases, ReclaimFlush,
                         ::testing::Values(mutant_case{table_strategy::rcu, tlb_mode::broadcast, false},
                                           mutant_case{table_strategy::rcu, tlb_mode::broadcast, true},
                                           mutant_case{table_strategy::ipi, tlb_mode::ipi, false},
                                           mutant_case{table_strategy::ipi, tlb_mode::ipi, true}),
                         case_name);

}  // namespace
}  // namespace gupfast::test
