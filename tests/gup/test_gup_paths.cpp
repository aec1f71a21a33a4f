// The fast path takes the prefix it can, the slow path the rest; get_user_pages_fast_only
// never falls back; argument and range errors are the kernel's.
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

// An address nobody mapped.
TEST_P(GupPaths, UnmappedAddressFaults) {
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast(mm, 0x60000000ul, 1, 0, &p), -EFAULT);
  EXPECT_EQ(get_user_pages_fast(mm, 0x60000000ul, 1, FOLL_WRITE, &p), -EFAULT);
  EXPECT_EQ(pin_user_pages_unlocked(mm, 0x60000000ul, 1, 0, &p), -EFAULT);
  EXPECT_EQ(get_user_pages_fast_only(mm, 0x60000000ul, 1, 0, &p), 0);
  EXPECT_EQ(p, nullptr);
}

// A write pin of a read-only VMA fails with -EFAULT and pins nothing; a range running
// from a writable VMA into a read-only one returns the writable prefix.
TEST_P(GupPaths, WritePinOfReadOnlyVmaFaultsAndPinsNothing) {
  constexpr unsigned long base = 0x70000000ul;
  ASSERT_EQ(map(4 * PG, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_, base), base);
  touch(base, 4);
  ASSERT_EQ(do_mprotect(mm, base + 2 * PG, 2 * PG, PROT_READ_), 0);
  long pfn2 = mapped_pfn(mm, base + 2 * PG);
  ASSERT_GE(pfn2, 0);
  page* pages[4] = {};
  EXPECT_EQ(pin_user_pages_fast(mm, base + 2 * PG, 2, FOLL_WRITE, pages), -EFAULT);
  EXPECT_EQ(get_user_pages_fast(mm, base + 2 * PG, 2, FOLL_WRITE, pages), -EFAULT);
  EXPECT_EQ(ref_pfn(pfn2), 1) << "nothing pinned";
  EXPECT_FALSE(lookup(mm, base + 2 * PG).write) << "the PTE stays read-only";
  ASSERT_EQ(pin_user_pages_fast(mm, base, 4, FOLL_WRITE, pages), 2);
  unpin_user_pages(pages, 2);
  EXPECT_EQ(ref_pfn(pfn2), 1);
  // A read pin of the read-only part is fine (the page is exclusive: no unshare).
  ASSERT_EQ(pin_user_pages_fast(mm, base + 2 * PG, 2, 0, pages), 2);
  EXPECT_EQ(static_cast<long>(page_to_pfn(pages[0])), pfn2);
  unpin_user_pages(pages, 2);
  // PROT_NONE: not even a read.
  ASSERT_EQ(do_mprotect(mm, base, PG, PROT_NONE_), 0);
  EXPECT_EQ(pin_user_pages_fast(mm, base, 1, 0, pages), -EFAULT);
  EXPECT_EQ(get_user_pages_unlocked(mm, base, 1, 0, pages), -EFAULT);
}

// Length and range checks of gup_fast_fallback.
TEST_P(GupPaths, RangeErrors) {
  page* pages[4] = {};
  unsigned long top = ~0ul & PAGE_MASK;
  EXPECT_EQ(pin_user_pages_fast(mm, top, 2, 0, pages), -EOVERFLOW);
  EXPECT_EQ(get_user_pages_fast(mm, top, 2, 0, pages), -EOVERFLOW);
  EXPECT_EQ(pin_user_pages_fast(mm, PG, (1l << 62), 0, pages), -EOVERFLOW) << "nr_pages << PAGE_SHIFT wraps";
  EXPECT_EQ(pin_user_pages_fast(mm, TASK_SIZE - PG, 2, 0, pages), -EFAULT);
  EXPECT_EQ(pin_user_pages_fast(mm, TASK_SIZE, 1, 0, pages), -EFAULT);
  EXPECT_EQ(get_user_pages_fast_only(mm, TASK_SIZE, 1, 0, pages), -EFAULT);
  EXPECT_EQ(pin_user_pages_unlocked(mm, TASK_SIZE, 1, 0, pages), -EFAULT);
  EXPECT_EQ(pin_user_pages_fast(mm, 0x1000000ul, 0, 0, pages), 0);
  EXPECT_LT(pin_user_pages_fast(mm, 0x1000000ul, -1, 0, pages), 0);
  EXPECT_EQ(pages[0], nullptr);
}

// Flag and argument checks of is_valid_gup_args: -EINVAL and nothing taken.
TEST_P(GupPaths, FlagErrorsAreEinval) {
  unsigned long a = map(PG);
  touch(a, 1);
  long pfn = mapped_pfn(mm, a);
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_PIN, &p), -EINVAL) << "FOLL_PIN is internal";
  EXPECT_EQ(get_user_pages_fast(mm, a, 1, FOLL_PIN, &p), -EINVAL);
  EXPECT_EQ(pin_user_pages_unlocked(mm, a, 1, FOLL_PIN, &p), -EINVAL);
  EXPECT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_FAST_ONLY, &p), -EINVAL) << "FOLL_FAST_ONLY is internal";
  EXPECT_EQ(get_user_pages_fast(mm, a, 1, FOLL_LONGTERM, &p), -EINVAL) << "LONGTERM only pins";
  EXPECT_EQ(get_user_pages_fast_only(mm, a, 1, FOLL_LONGTERM, &p), -EINVAL);
  EXPECT_EQ(get_user_pages_unlocked(mm, a, 1, FOLL_LONGTERM, &p), -EINVAL);
  EXPECT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_GET, &p), -EINVAL) << "GET and PIN exclude each other";
  EXPECT_EQ(pin_user_pages_unlocked(mm, a, 1, FOLL_GET, &p), -EINVAL);
  EXPECT_EQ(pin_user_pages_fast(mm, a, 1, 0, nullptr), -EINVAL) << "pins need a pages array";
  EXPECT_EQ(get_user_pages_fast(mm, a, 1, 0, nullptr), -EINVAL);
  EXPECT_EQ(get_user_pages_fast_only(mm, a, 1, 0, nullptr), -EINVAL);
  EXPECT_EQ(pin_user_pages_unlocked(mm, a, 1, 0, nullptr), -EINVAL);
  EXPECT_EQ(pin_user_pages_fast(mm, a, 1, 0x40000000u, &p), -EINVAL) << "unknown flag";
  EXPECT_EQ(pin_user_pages_fast(nullptr, a, 1, 0, &p), -EINVAL);
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(ref_pfn(pfn), 1) << "nothing taken";
  EXPECT_FALSE(mm_flags_test(mm, MMF_HAS_PINNED)) << "rejected calls do not mark the mm";
}

// GUP must run on a CPU (the fast path disables its interrupts): a plain thread gets
// -EINVAL and takes nothing.
TEST_P(GupPaths, NotACpuIsEinval) {
  unsigned long a = map(PG);
  touch(a, 1);
  long pfn = mapped_pfn(mm, a);
  long r_pin = 1, r_get = 1, r_only = 1;
  unsigned long r_core = 1;
  bool was_cpu = true;
  std::thread t([&] {
    was_cpu = sync::this_cpu() != nullptr;
    page* p = nullptr;
    r_pin = pin_user_pages_fast(mm, a, 1, 0, &p);
    r_get = get_user_pages_fast(mm, a, 1, 0, &p);
    r_only = get_user_pages_fast_only(mm, a, 1, 0, &p);
    r_core = gup_fast(mm, a, a + PG, FOLL_PIN, &p);
  });
  t.join();
  EXPECT_FALSE(was_cpu);
  EXPECT_EQ(r_pin, -EINVAL);
  EXPECT_EQ(r_get, -EINVAL);
  EXPECT_EQ(r_only, -EINVAL);
  EXPECT_EQ(r_core, 0u);
  EXPECT_EQ(ref_pfn(pfn), 1);
  // The same calls from a CPU work.
  page* p = nullptr;
  ASSERT_EQ(get_user_pages_fast(mm, a, 1, 0, &p), 1);
  put_page(p);
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
