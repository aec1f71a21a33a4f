// Pins and references hold, and releasing them restores every count; pinned pages outlive
// munmap and exit; the pages returned are the ones the page tables map. Every strategy x
// pte mode.
#include "gup_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {

class GupBasic : public GupParamTest {};
GUP_INSTANTIATE_ALL(GupBasic);

// pin_user_pages_fast on faulted-in pages: every page is the one mapped at its address,
// each small folio gains exactly GUP_PIN_COUNTING_BIAS, and unpinning restores the count.
TEST_P(GupBasic, PinReturnsMappedPagesAndUnpinRestoresCounts) {
  constexpr int N = 8;
  unsigned long a = map(N * PG);
  touch(a, N);
  int before[N];
  for (int i = 0; i < N; i++) {
    ASSERT_GE(mapped_pfn(mm, a + i * PG), 0);
    before[i] = ref_pfn(mapped_pfn(mm, a + i * PG));
    EXPECT_EQ(before[i], 1) << "a private anon page mapped once has one reference";
    EXPECT_FALSE(folio_maybe_dma_pinned(page_folio(pfn_to_page(mapped_pfn(mm, a + i * PG)))));
  }
  EXPECT_FALSE(mm_flags_test(mm, MMF_HAS_PINNED));

  page* pages[N] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, N, FOLL_WRITE, pages), N);
  EXPECT_TRUE(mm_flags_test(mm, MMF_HAS_PINNED));
  for (int i = 0; i < N; i++) {
    ASSERT_NE(pages[i], nullptr);
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG)) << "page " << i;
    EXPECT_EQ(ref(pages[i]), before[i] + GUP_PIN_COUNTING_BIAS);
    EXPECT_TRUE(folio_maybe_dma_pinned(page_folio(pages[i])));
    EXPECT_EQ(folio_pincount(page_folio(pages[i])), 1);
    EXPECT_EQ(frame_read_byte(page_to_pfn(pages[i]), 0), uint8_t(0x10 + i)) << "the data the process wrote";
  }

  // A second, read-only pin stacks on the first.
  page* again[N] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, N, 0, again), N);
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(again[i], pages[i]);
    EXPECT_EQ(ref(pages[i]), before[i] + 2 * GUP_PIN_COUNTING_BIAS);
  }
  unpin_user_pages(again, N);
  for (int i = 0; i < N; i++) EXPECT_EQ(ref(pages[i]), before[i] + GUP_PIN_COUNTING_BIAS);

  uint64_t unpins = counter_read(CNT_gup_unpins);
  unpin_user_pages(pages, N);
  EXPECT_EQ(counter_read(CNT_gup_unpins) - unpins, uint64_t(N));
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(ref(pages[i]), before[i]);
    EXPECT_FALSE(folio_maybe_dma_pinned(page_folio(pages[i])));
  }
}

// unpin_user_page, one at a time, reverses one pin each.
TEST_P(GupBasic, UnpinUserPageOneAtATime) {
  unsigned long a = map(2 * PG);
  touch(a, 2);
  page* pages[2] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, FOLL_WRITE | FOLL_LONGTERM, pages), 2);
  unpin_user_page(pages[1]);
  EXPECT_EQ(ref(pages[0]), 1 + GUP_PIN_COUNTING_BIAS);
  EXPECT_EQ(ref(pages[1]), 1);
  unpin_user_page(pages[0]);
  EXPECT_EQ(ref(pages[0]), 1);
}

// FOLL_GET takes +1 per page and is released with put_page; it is not a pin.
TEST_P(GupBasic, GetAddsOneReferenceAndPutPageRestores) {
  constexpr int N = 4;
  unsigned long a = map(N * PG);
  touch(a, N);
  page* pages[N] = {};
  ASSERT_EQ(get_user_pages_fast(mm, a, N, FOLL_WRITE, pages), N);
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG));
    EXPECT_EQ(ref(pages[i]), 2);
    EXPECT_FALSE(folio_maybe_dma_pinned(page_folio(pages[i])));
  }
  EXPECT_FALSE(mm_flags_test(mm, MMF_HAS_PINNED)) << "only pins mark the mm";
  // FOLL_GET spelled out is accepted too.
  page* more[N] = {};
  ASSERT_EQ(get_user_pages_fast(mm, a, N, FOLL_GET, more), N);
  for (int i = 0; i < N; i++) EXPECT_EQ(ref(pages[i]), 3);
  for (int i = 0; i < N; i++) put_page(more[i]);
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(ref(pages[i]), 2);
    put_page(pages[i]);
    EXPECT_EQ(ref(pages[i]), 1);
  }
}

// The locked slow path (pin_user_pages under mmap_lock, the *_unlocked variants) does the
// same accounting as the fast path, and faults pages in.
TEST_P(GupBasic, SlowPathEntriesAccountLikeFastPath) {
  constexpr int N = 4;
  unsigned long a = map(N * PG);
  page* pages[N] = {};

  mm->mmap_lock.down_read();
  long r = pin_user_pages(mm, a, N, FOLL_WRITE, pages);
  mm->mmap_lock.up_read();
  ASSERT_EQ(r, N);
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG)) << "faulted in";
    EXPECT_EQ(ref(pages[i]), 1 + GUP_PIN_COUNTING_BIAS);
  }
  EXPECT_TRUE(mm_flags_test(mm, MMF_HAS_PINNED));
  unpin_user_pages(pages, N);
  for (int i = 0; i < N; i++) EXPECT_EQ(ref(pages[i]), 1);

  page* p2[N] = {};
  ASSERT_EQ(pin_user_pages_unlocked(mm, a, N, FOLL_WRITE, p2), N);
  for (int i = 0; i < N; i++) EXPECT_EQ(p2[i], pages[i]);
  for (int i = 0; i < N; i++) EXPECT_EQ(ref(p2[i]), 1 + GUP_PIN_COUNTING_BIAS);
  unpin_user_pages(p2, N);

  page* g[N] = {};
  mm->mmap_lock.down_read();
  r = get_user_pages(mm, a, N, FOLL_WRITE, g);
  mm->mmap_lock.up_read();
  ASSERT_EQ(r, N);
  for (int i = 0; i < N; i++) EXPECT_EQ(ref(g[i]), 2);
  for (int i = 0; i < N; i++) put_page(g[i]);
  ASSERT_EQ(get_user_pages_unlocked(mm, a, N, 0, g), N);
  for (int i = 0; i < N; i++) EXPECT_EQ(ref(g[i]), 2);
  for (int i = 0; i < N; i++) put_page(g[i]);
  for (int i = 0; i < N; i++) EXPECT_EQ(ref(pages[i]), 1);
}

// get_user_pages with no pages array (the populate use): faults the range in, takes
// nothing (kernel: pages == NULL is allowed without FOLL_GET/FOLL_PIN).
TEST_P(GupBasic, SlowGetWithoutPagesArrayOnlyFaultsIn) {
  constexpr int N = 3;
  unsigned long a = map(N * PG);
  ASSERT_EQ(get_user_pages_unlocked(mm, a, N, FOLL_WRITE, nullptr), N);
  for (int i = 0; i < N; i++) {
    long pfn = mapped_pfn(mm, a + i * PG);
    ASSERT_GE(pfn, 0) << "page " << i << " faulted in";
    EXPECT_FALSE(is_zero_pfn(pfn)) << "a write fault maps a private page";
    EXPECT_EQ(ref_pfn(pfn), 1) << "no reference left behind";
  }
}

// unpin_user_pages_dirty_lock marks the folios dirty (a device wrote them) only when asked.
TEST_P(GupBasic, UnpinDirtyLockMarksDirtyOnlyWhenAsked) {
  unsigned long a = map(2 * PG);
  touch(a, 2);
  page* pages[2] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, FOLL_WRITE, pages), 2);
  folio_clear_dirty(page_folio(pages[0]));
  folio_clear_dirty(page_folio(pages[1]));
  unpin_user_pages_dirty_lock(&pages[0], 1, false);
  unpin_user_pages_dirty_lock(&pages[1], 1, true);
  EXPECT_FALSE(folio_test_dirty(page_folio(pages[0])));
  EXPECT_TRUE(folio_test_dirty(page_folio(pages[1])));
  EXPECT_FALSE(folio_test_locked(page_folio(pages[1])));
  EXPECT_EQ(ref(pages[0]), 1);
  EXPECT_EQ(ref(pages[1]), 1);
}

// munmap while pinned: the mapping's reference goes, the pin keeps the frame (its data
// intact); unpinning frees it.
TEST_P(GupBasic, PinnedPagesOutliveMunmapUntilUnpinned) {
  constexpr int N = 3;
  unsigned long a = map(N * PG);
  touch(a, N, 0x5c);
  page* pages[N] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, N, FOLL_WRITE, pages), N);
  ASSERT_EQ(vm_munmap(mm, a, N * PG), 0);
  EXPECT_EQ(mapped_pfn(mm, a), -1);
  EXPECT_EQ(load(mm, a), -EFAULT);
  unsigned long in_use = machine_frames_in_use();
  EXPECT_GE(in_use, static_cast<unsigned long>(N));
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(ref(pages[i]), GUP_PIN_COUNTING_BIAS) << "only the pin is left";
    EXPECT_FALSE(PageBuddy(pages[i])) << "a pinned frame is not free";
    EXPECT_EQ(frame_read_byte(page_to_pfn(pages[i]), 0), uint8_t(0x5c + i)) << "contents intact";
  }
  // The "device" still writes into the buffer.
  frame_write_byte(page_to_pfn(pages[0]), 1, 0x77);
  EXPECT_EQ(frame_read_byte(page_to_pfn(pages[0]), 1), 0x77);
  unpin_user_pages(pages, N);
  EXPECT_EQ(machine_frames_in_use(), in_use - N);
}

// exit (mmput) while pinned: every frame except the pinned ones is freed; after the unpin
// nothing is left (the leak check).
TEST_P(GupBasic, PinnedPagesOutliveExitAndNothingLeaks) {
  constexpr int N = 4;
  unsigned long a = map(N * PG);
  touch(a, N);
  page* pages[N] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, FOLL_WRITE, pages), 2);
  page* got[N] = {};
  ASSERT_EQ(get_user_pages_fast(mm, a + 2 * PG, 2, 0, got), 2);
  put_mm(mm);
  mm = nullptr;
  EXPECT_EQ(machine_frames_in_use(), 4ul) << "2 pinned + 2 referenced frames stay";
  unpin_user_pages(pages, 2);
  EXPECT_EQ(machine_frames_in_use(), 2ul);
  put_page(got[0]);
  put_page(got[1]);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
}

// A pin and an unpin leave the mm as it was: exit frees everything.
TEST_P(GupBasic, PinUnpinThenExitFreesEverything) {
  unsigned long a = map(64 * PG);
  touch(a, 64);
  page* pages[64] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 64, 0, pages), 64);
  unpin_user_pages(pages, 64);
  ASSERT_EQ(get_user_pages_fast(mm, a, 64, 0, pages), 64);
  for (auto* p : pages) put_page(p);
  EXPECT_GT(machine_frames_in_use(), 64ul);
  put_mm(mm);
  mm = nullptr;
  EXPECT_EQ(machine_frames_in_use(), 0ul);
}

// A range crossing a PMD (2 MiB) boundary and so two PTE tables.
TEST_P(GupBasic, PinAcrossPmdBoundary) {
  constexpr unsigned long base = 0x40000000ul;  // 1 GiB, 2 MiB aligned
  unsigned long a = map(8 * PG, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_, base + PMD_SIZE - 4 * PG);
  ASSERT_EQ(a, base + PMD_SIZE - 4 * PG);
  touch(a, 8);
  page* pages[8] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 8, FOLL_WRITE, pages), 8);
  for (int i = 0; i < 8; i++)
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG)) << "page " << i;
  unpin_user_pages(pages, 8);
}

// The machine really runs in the mode the parameter names; PAE must carry pfns above
// 4 GiB (the allocator hands out memory from the top of the 8 GiB machine).
TEST_P(GupBasic, MachineRunsInRequestedMode) {
  EXPECT_EQ(g_cfg.strategy, std::get<0>(GetParam()));
  EXPECT_EQ(g_cfg.pte, std::get<1>(GetParam()));
  unsigned long a = map(PG);
  touch(a, 1);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &p), 1);
  EXPECT_GT(page_to_pfn(p), (4ul << 30) >> PAGE_SHIFT) << "physical address above 4 GiB";
  EXPECT_EQ(static_cast<long>(page_to_pfn(p)), mapped_pfn(mm, a));
  unpin_user_page(p);
}

}  // namespace
