// The fast path takes the prefix it can, the slow path the rest; get_user_pages_fast_only
// never falls back (argument and range errors: tests/hardening/errors_gup_test.cpp).
#include <thread>

#include "gup_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {

class GupPaths : public GupParamTest {};
GUP_INSTANTIATE_ALL(GupPaths);

struct counts {
  uint64_t fast, slow, not_present;
  static counts now() {
    return {counter_read(CNT_gup_fast_pages), counter_read(CNT_gup_slow_pages), counter_read(CNT_stop_not_present)};
  }
};

// First half faulted in, second half not: the fast path pins the first half and stops at
// the first missing PTE; the slow path faults in and pins the rest.
TEST_P(GupPaths, PartialFastPathThenSlowPath) {
  constexpr int N = 8, H = 4;
  unsigned long a = map(N * PG);
  touch(a, H);
  EXPECT_EQ(mapped_pfn(mm, a + H * PG), -1);
  page* pages[N] = {};
  counts c0 = counts::now();
  ASSERT_EQ(pin_user_pages_fast(mm, a, N, FOLL_WRITE, pages), N);
  counts c1 = counts::now();
  EXPECT_EQ(c1.fast - c0.fast, uint64_t(H));
  EXPECT_EQ(c1.slow - c0.slow, uint64_t(N - H));
  EXPECT_GE(c1.not_present - c0.not_present, 1u);
  for (int i = 0; i < N; i++) {
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG)) << "page " << i;
    EXPECT_EQ(ref(pages[i]), 1 + GUP_PIN_COUNTING_BIAS);
  }
  unpin_user_pages(pages, N);

  // Now everything is mapped: all fast.
  c0 = counts::now();
  ASSERT_EQ(get_user_pages_fast(mm, a, N, FOLL_WRITE, pages), N);
  c1 = counts::now();
  EXPECT_EQ(c1.fast - c0.fast, uint64_t(N));
  EXPECT_EQ(c1.slow - c0.slow, 0u);
  for (auto* p : pages) put_page(p);
}

// get_user_pages_fast_only returns the fast prefix and never faults anything in.
TEST_P(GupPaths, FastOnlyReturnsPrefixWithoutFaulting) {
  constexpr int N = 8, H = 3;
  unsigned long a = map(N * PG);
  touch(a, H);
  page* pages[N] = {};
  counts c0 = counts::now();
  ASSERT_EQ(get_user_pages_fast_only(mm, a, N, FOLL_WRITE, pages), H);
  counts c1 = counts::now();
  EXPECT_EQ(c1.fast - c0.fast, uint64_t(H));
  EXPECT_EQ(c1.slow - c0.slow, 0u);
  for (int i = 0; i < H; i++) {
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG));
    EXPECT_EQ(ref(pages[i]), 2);
  }
  EXPECT_EQ(mapped_pfn(mm, a + H * PG), -1) << "fast_only must not fault";
  for (int i = 0; i < H; i++) put_page(pages[i]);

  // Nothing mapped at the start: 0, not an error.
  EXPECT_EQ(get_user_pages_fast_only(mm, a + H * PG, N - H, 0, pages), 0);
  EXPECT_EQ(mapped_pfn(mm, a + H * PG), -1);
  // A write request on a read-only (zero-page) PTE: 0.
  ASSERT_EQ(load(mm, a + H * PG), 0);
  EXPECT_EQ(get_user_pages_fast_only(mm, a + H * PG, 1, FOLL_WRITE, pages), 0);
}

// FOLL_NOFAULT: the slow path may not fault: prefix, or -EFAULT.
TEST_P(GupPaths, NoFaultStopsAtFirstMissingPage) {
  unsigned long a = map(4 * PG);
  touch(a, 2);
  page* pages[4] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 4, FOLL_WRITE | FOLL_NOFAULT, pages), 2);
  EXPECT_EQ(mapped_pfn(mm, a + 2 * PG), -1);
  unpin_user_pages(pages, 2);
  EXPECT_EQ(pin_user_pages_fast(mm, a + 2 * PG, 2, FOLL_WRITE | FOLL_NOFAULT, pages), -EFAULT);
  EXPECT_EQ(mapped_pfn(mm, a + 2 * PG), -1);
}

// The kernel aligns start down (gup_fast_fallback: start & PAGE_MASK; the slow path walks
// from the page that holds start).
TEST_P(GupPaths, UnalignedStartIsAlignedDown) {
  unsigned long a = map(3 * PG);
  touch(a, 3);
  page* pages[2] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a + 123, 2, FOLL_WRITE, pages), 2);
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[0])), mapped_pfn(mm, a));
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[1])), mapped_pfn(mm, a + PG));
  unpin_user_pages(pages, 2);
  ASSERT_EQ(get_user_pages_fast(mm, a + PG - 1, 2, 0, pages), 2);
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[0])), mapped_pfn(mm, a));
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[1])), mapped_pfn(mm, a + PG));
  put_page(pages[0]);
  put_page(pages[1]);
  ASSERT_EQ(pin_user_pages_unlocked(mm, a + PG + 5, 2, 0, pages), 2);
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[0])), mapped_pfn(mm, a + PG));
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[1])), mapped_pfn(mm, a + 2 * PG));
  unpin_user_pages(pages, 2);
  // Unaligned across a PMD boundary: the walk's per-table end must be page aligned too.
  constexpr unsigned long base = 0x48000000ul;
  ASSERT_EQ(map(4 * PG, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_, base + PMD_SIZE - 2 * PG), base + PMD_SIZE - 2 * PG);
  touch(base + PMD_SIZE - 2 * PG, 4);
  uint64_t fast = counter_read(CNT_gup_fast_pages);
  ASSERT_EQ(pin_user_pages_fast(mm, base + PMD_SIZE - PG + 7, 2, FOLL_WRITE, pages), 2);
  EXPECT_EQ(counter_read(CNT_gup_fast_pages) - fast, 2u) << "all mapped: the fast path takes both";
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[0])), mapped_pfn(mm, base + PMD_SIZE - PG));
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[1])), mapped_pfn(mm, base + PMD_SIZE));
  unpin_user_pages(pages, 2);
}

// A range with a hole in the middle: the pages before the hole (the caller owns them).
TEST_P(GupPaths, RangeWithHoleReturnsPrefix) {
  constexpr unsigned long base = 0x50000000ul;
  ASSERT_EQ(map(6 * PG, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_, base), base);
  ASSERT_EQ(vm_munmap(mm, base + 3 * PG, PG), 0);
  page* pages[6] = {};
  // Not faulted in yet: the slow path does the prefix.
  ASSERT_EQ(pin_user_pages_fast(mm, base, 6, FOLL_WRITE, pages), 3);
  for (int i = 0; i < 3; i++) EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, base + i * PG));
  unpin_user_pages(pages, 3);
  // Faulted in: the fast path does the prefix and the slow path finds the hole.
  ASSERT_EQ(pin_user_pages_fast(mm, base, 6, FOLL_WRITE, pages), 3);
  unpin_user_pages(pages, 3);
  ASSERT_EQ(get_user_pages_fast(mm, base + PG, 5, 0, pages), 2);
  put_page(pages[0]);
  put_page(pages[1]);
  // Starting in the hole: -EFAULT.
  EXPECT_EQ(pin_user_pages_fast(mm, base + 3 * PG, 2, 0, pages), -EFAULT);
  EXPECT_EQ(get_user_pages_unlocked(mm, base + 3 * PG, 1, 0, pages), -EFAULT);
  for (int i = 0; i < 3; i++) EXPECT_EQ(ref_pfn(mapped_pfn(mm, base + i * PG)), 1);
}

// The lockless core alone: pins the mapped prefix, and exactly that.
TEST_P(GupPaths, GupFastCoreTakesMappedPrefix) {
  unsigned long a = map(4 * PG);
  touch(a, 2);
  page* pages[4] = {};
  ASSERT_EQ(gup_fast(mm, a, a + 4 * PG, FOLL_PIN | FOLL_WRITE, pages), 2u);
  for (int i = 0; i < 2; i++) EXPECT_EQ(ref(pages[i]), 1 + GUP_PIN_COUNTING_BIAS);
  unpin_user_pages(pages, 2);
  EXPECT_EQ(gup_fast(mm, a + 2 * PG, a + 4 * PG, FOLL_GET, pages), 0u);
  EXPECT_EQ(gup_fast(mm, a, a, FOLL_GET, pages), 0u) << "empty range";
}

}  // namespace
