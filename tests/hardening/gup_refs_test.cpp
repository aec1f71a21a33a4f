// Releasing what was never taken, and counts near overflow (docs/errors.md, "pins and
// references"): a double unpin, an unpin of a page never pinned or only got, of a pointer
// that is no page, are reported (the counter bad_unpin, the oracle's refcount verdict) and
// change nothing; a folio whose refcount is within FOLIO_REF_HEADROOM of INT_MAX (or
// wrapped) gets no new GUP reference: -ENOMEM, or the prefix before it. The test hook for
// "near the limit" is folio_ref_add(): extra references, as if held by others.
#include <climits>

#include "hardening_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {

class GupRefs : public ContractTest {
 protected:
  // A mapped, written page and its folio.
  folio* small_page(unsigned long* addr) {
    *addr = map(PG);
    touch(*addr, 1);
    return page_folio(pfn_to_page(mapped_pfn(mm, *addr)));
  }
  uint64_t bad_unpins() { return counter_read(CNT_bad_unpin); }
};
GUP_INSTANTIATE_ALL(GupRefs);

// Extra references on f for the scope: the count starts at `target`.
class count_at {
 public:
  count_at(folio* f, int target) : f_(f), extra_(target - folio_ref_count(f)) { folio_ref_add(f_, extra_); }
  ~count_at() { folio_ref_sub(f_, extra_); }

 private:
  folio* f_;
  int extra_;
};

constexpr int REF_LIMIT = INT_MAX - FOLIO_REF_HEADROOM;  // the highest count GUP still adds to

TEST_P(GupRefs, DoubleUnpinIsReportedAndChangesNothing) {
  unsigned long a;
  folio* f = small_page(&a);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &p), 1);
  EXPECT_EQ(folio_ref_count(f), 1 + GUP_PIN_COUNTING_BIAS);
  unpin_user_page(p);
  EXPECT_EQ(folio_ref_count(f), 1);
  uint64_t before = bad_unpins();
  unpin_user_page(p);  // the second: refused
  expect_reports(1);
  EXPECT_EQ(bad_unpins() - before, 1u);
  EXPECT_EQ(folio_ref_count(f), 1) << "the mapping's reference is untouched";
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  // The page still works: written, read back, and freed by munmap (the leak check).
  ASSERT_EQ(mm_store(mm, a, 0x77), 0);
  EXPECT_EQ(load(mm, a), 0x77);
}

TEST_P(GupRefs, UnpinOfAPageNeverPinnedOrOnlyGotIsRefused) {
  unsigned long a;
  folio* f = small_page(&a);
  uint64_t before = bad_unpins();
  unpin_user_page(&f->page);  // never pinned
  page* p = nullptr;
  ASSERT_EQ(get_user_pages_fast(mm, a, 1, 0, &p), 1);
  EXPECT_EQ(folio_ref_count(f), 2);
  unpin_user_page(p);  // FOLL_GET's reference is put_page's to drop
  unpin_user_pages_dirty_lock(&p, 1, true);
  expect_reports(3);
  EXPECT_EQ(bad_unpins() - before, 3u);
  EXPECT_EQ(folio_ref_count(f), 2);
  put_got_page(p);
  EXPECT_EQ(folio_ref_count(f), 1);
}

// unpin_user_pages() of a THP's pages: _pincount counts pins exactly, so a batch that names
// more pages than are pinned is refused whole, and a second unpin of the batch too.
TEST_P(GupRefs, LargeFolioCountsPinsExactly) {
  constexpr unsigned long base = 0x80000000ul;
  ASSERT_EQ(map(PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP, base), base);
  ASSERT_EQ(mm_store(mm, base, 1), 0);
  if (!lookup(mm, base).leaf) GTEST_SKIP() << "MAP_HUGE_THP did not produce a PMD leaf";
  page* pages[4] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, base, 3, FOLL_WRITE, pages), 3);
  folio* f = page_folio(pages[0]);
  ASSERT_TRUE(folio_test_large(f));
  EXPECT_EQ(folio_pincount(f), 3);
  int refs = folio_ref_count(f);
  pages[3] = pages[2] + 1;  // a fourth page of the folio, never pinned
  uint64_t before = bad_unpins();
  unpin_user_pages(pages, 4);
  expect_reports(1);
  EXPECT_EQ(folio_pincount(f), 3) << "refused whole";
  EXPECT_EQ(folio_ref_count(f), refs);
  unpin_user_pages(pages, 3);
  EXPECT_EQ(folio_pincount(f), 0);
  EXPECT_EQ(folio_ref_count(f), refs - 3);
  unpin_user_pages(pages, 3);
  unpin_user_page(pages[1]);
  expect_reports(2);
  EXPECT_EQ(bad_unpins() - before, 3u);
  EXPECT_EQ(folio_pincount(f), 0);
  EXPECT_EQ(folio_ref_count(f), refs - 3);
}

// Pointers that are no page of this machine are reported and skipped; the good entries of
// the same array are unpinned.
TEST_P(GupRefs, PointersThatAreNotPagesAreSkipped) {
  unsigned long a = map(2 * PG);
  touch(a, 2);
  page* pages[2] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, 0, pages), 2);
  page* mixed[4] = {pages[0], nullptr, reinterpret_cast<page*>(reinterpret_cast<char*>(pages[0]) + 8), pages[1]};
  uint64_t before = bad_unpins();
  unpin_user_pages(mixed, 4);
  unpin_user_page(nullptr);
  unpin_user_page(mem_map + max_pfn);  // one past the memmap
  unpin_user_pages(nullptr, 3);
  unpin_user_pages(pages, 0);
  unpin_user_pages(pages, -1);  // nothing: npages <= 0 releases nothing
  expect_reports(5);
  EXPECT_EQ(bad_unpins() - before, 5u);
  EXPECT_EQ(ref(pages[0]), 1);
  EXPECT_EQ(ref(pages[1]), 1);
}

// The limit itself still takes a pin (the bias fits below INT_MAX); one more reference
// and every entry point refuses, the fast path by stopping, the slow one with -ENOMEM.
TEST_P(GupRefs, RefcountNearOverflowIsRefused) {
  unsigned long a;
  folio* f = small_page(&a);
  page* p = nullptr;
  {
    count_at c(f, REF_LIMIT);
    ASSERT_EQ(pin_user_pages_fast(mm, a, 1, 0, &p), 1);
    EXPECT_EQ(folio_ref_count(f), REF_LIMIT + GUP_PIN_COUNTING_BIAS);
    unpin_user_page(p);
  }
  {
    count_at c(f, REF_LIMIT + 1);
    uint64_t fast = counter_read(CNT_stop_ref_overflow), slow = counter_read(CNT_gup_ref_overflow);
    p = nullptr;
    EXPECT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &p), -ENOMEM);
    EXPECT_EQ(get_user_pages_fast(mm, a, 1, 0, &p), -ENOMEM);
    EXPECT_EQ(get_user_pages_fast_only(mm, a, 1, 0, &p), 0);
    EXPECT_EQ(pin_user_pages_unlocked(mm, a, 1, FOLL_LONGTERM, &p), -ENOMEM);
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(folio_ref_count(f), REF_LIMIT + 1) << "nothing added";
    EXPECT_GE(counter_read(CNT_stop_ref_overflow) - fast, 3u);
    EXPECT_GE(counter_read(CNT_gup_ref_overflow) - slow, 3u);
  }
  {
    count_at c(f, INT_MIN + 10);  // wrapped already
    EXPECT_EQ(pin_user_pages_fast(mm, a, 1, 0, &p), -ENOMEM);
    EXPECT_EQ(folio_ref_count(f), INT_MIN + 10);
  }
  EXPECT_EQ(folio_ref_count(f), 1);
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, 0, &p), 1) << "back to normal";
  unpin_user_page(p);
}

// A range whose second page is near overflow: the first page is returned (the prefix).
TEST_P(GupRefs, OverflowInTheMiddleReturnsThePrefix) {
  unsigned long a = map(2 * PG);
  touch(a, 2);
  folio* second = page_folio(pfn_to_page(mapped_pfn(mm, a + PG)));
  page* pages[2] = {};
  count_at c(second, REF_LIMIT + 1);
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, 0, pages), 1);
  EXPECT_EQ(pages[1], nullptr);
  EXPECT_EQ(folio_ref_count(second), REF_LIMIT + 1);
  unpin_user_page(pages[0]);
}

// A THP: pins count in _pincount, bounded by _refcount, which the guard watches.
TEST_P(GupRefs, LargeFolioNearOverflowIsRefused) {
  constexpr unsigned long base = 0x80000000ul;
  ASSERT_EQ(map(PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP, base), base);
  ASSERT_EQ(mm_store(mm, base, 1), 0);
  if (!lookup(mm, base).leaf) GTEST_SKIP() << "MAP_HUGE_THP did not produce a PMD leaf";
  folio* f = page_folio(pfn_to_page(mapped_pfn(mm, base)));
  page* pages[2] = {};
  count_at c(f, REF_LIMIT + 1);
  EXPECT_EQ(pin_user_pages_fast(mm, base, 2, 0, pages), -ENOMEM);
  EXPECT_EQ(folio_pincount(f), 0);
  EXPECT_EQ(folio_ref_count(f), REF_LIMIT + 1);
}

}  // namespace
