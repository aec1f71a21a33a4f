// Pin accounting on folios: folio_maybe_dma_pinned for small folios (the bias, false
// positives allowed) and large folios (_pincount, exact); try_grab_folio[_fast] and
// gup_put_folio; add-unless-zero and the overflow guard; PMD-mapped THPs.
#include <climits>

#include "gup_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {

class GupFolio : public GupFixture {};

TEST_F(GupFolio, SmallFolioMaybeDmaPinned) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  ASSERT_FALSE(folio_test_large(f));
  EXPECT_EQ(folio_ref_count(f), 1);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  // Below the bias: not pinned.
  folio_ref_add(f, GUP_PIN_COUNTING_BIAS - 2);
  EXPECT_EQ(folio_ref_count(f), GUP_PIN_COUNTING_BIAS - 1);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  // 1024 plain references: a false positive, by design.
  folio_ref_add(f, 1);
  EXPECT_TRUE(folio_maybe_dma_pinned(f));
  folio_ref_sub(f, GUP_PIN_COUNTING_BIAS - 1);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));

  // A pin (locked path) adds the bias; gup_put_folio takes it back.
  ASSERT_EQ(try_grab_folio(f, 1, FOLL_PIN), 0);
  EXPECT_EQ(folio_ref_count(f), 1 + GUP_PIN_COUNTING_BIAS);
  EXPECT_TRUE(folio_maybe_dma_pinned(f));
  EXPECT_EQ(folio_pincount(f), 1);
  EXPECT_EQ(f->page._pincount.load(sync::relaxed), 0) << "small folios have no _pincount";
  gup_put_folio(f, 1, FOLL_PIN);
  EXPECT_EQ(folio_ref_count(f), 1);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));

  // The fast grab: `refs` pins at once, each worth the bias.
  ASSERT_EQ(try_grab_folio_fast(&f->page, 2, FOLL_PIN), f);
  EXPECT_EQ(folio_ref_count(f), 1 + 2 * GUP_PIN_COUNTING_BIAS);
  EXPECT_EQ(folio_pincount(f), 2);
  gup_put_folio(f, 2, FOLL_PIN);
  EXPECT_EQ(folio_ref_count(f), 1);

  // FOLL_GET: +refs, no pin.
  ASSERT_EQ(try_grab_folio(f, 3, FOLL_GET), 0);
  EXPECT_EQ(folio_ref_count(f), 4);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  gup_put_folio(f, 3, FOLL_GET);
  ASSERT_EQ(try_grab_folio_fast(&f->page, 1, FOLL_GET), f);
  EXPECT_EQ(folio_ref_count(f), 2);
  gup_put_folio(f, 1, FOLL_GET);
  EXPECT_EQ(folio_ref_count(f), 1);

  // Neither GET nor PIN: nothing to take.
  EXPECT_EQ(try_grab_folio_fast(&f->page, 1, 0), nullptr);
  EXPECT_EQ(folio_ref_count(f), 1);
  folio_put(f);
}

TEST_F(GupFolio, LargeFolioCountsPinsInPincount) {
  folio* f = folio_alloc(0, HPAGE_PMD_ORDER);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(folio_test_large(f));
  ASSERT_EQ(folio_nr_pages(f), HPAGE_PMD_NR);
  EXPECT_EQ(page_folio(folio_page(f, 300)), f);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  // Plain references never make a large folio look pinned (no false positives).
  folio_ref_add(f, 5 * GUP_PIN_COUNTING_BIAS);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  folio_ref_sub(f, 5 * GUP_PIN_COUNTING_BIAS);

  ASSERT_EQ(try_grab_folio(f, 1, FOLL_PIN), 0);
  EXPECT_EQ(folio_ref_count(f), 2) << "one reference per pin, not the bias";
  EXPECT_EQ(f->page._pincount.load(sync::relaxed), 1);
  EXPECT_TRUE(folio_maybe_dma_pinned(f));

  // The fast grab through a tail page lands on the head's counts.
  ASSERT_EQ(try_grab_folio_fast(folio_page(f, 7), 3, FOLL_PIN), f);
  EXPECT_EQ(folio_ref_count(f), 5);
  EXPECT_EQ(folio_pincount(f), 4);
  EXPECT_EQ(folio_page(f, 7)->_pincount.load(sync::relaxed), 0) << "tails keep no counts";

  gup_put_folio(f, 3, FOLL_PIN);
  EXPECT_EQ(folio_pincount(f), 1);
  EXPECT_TRUE(folio_maybe_dma_pinned(f));
  gup_put_folio(f, 1, FOLL_PIN);
  EXPECT_EQ(folio_pincount(f), 0);
  EXPECT_FALSE(folio_maybe_dma_pinned(f)) << "exactly when _pincount > 0";
  EXPECT_EQ(folio_ref_count(f), 1);

  // FOLL_GET on a large folio: references only.
  ASSERT_EQ(try_grab_folio_fast(folio_page(f, 511), 4, FOLL_GET), f);
  EXPECT_EQ(folio_ref_count(f), 5);
  EXPECT_EQ(folio_pincount(f), 0);
  gup_put_folio(f, 4, FOLL_GET);
  EXPECT_EQ(folio_ref_count(f), 1);
  folio_put(f);
}

// unpin_user_pages releases consecutive pages of one folio together and every folio exactly.
TEST_F(GupFolio, UnpinUserPagesGroupsByFolio) {
  folio* big = folio_alloc(0, 4);
  folio* small = folio_alloc(0, 0);
  ASSERT_NE(big, nullptr);
  ASSERT_NE(small, nullptr);
  page* pages[6];
  ASSERT_EQ(try_grab_folio_fast(folio_page(big, 2), 3, FOLL_PIN), big);
  ASSERT_EQ(try_grab_folio_fast(&small->page, 1, FOLL_PIN), small);
  ASSERT_EQ(try_grab_folio_fast(folio_page(big, 9), 2, FOLL_PIN), big);
  pages[0] = folio_page(big, 2);
  pages[1] = folio_page(big, 3);
  pages[2] = folio_page(big, 4);
  pages[3] = &small->page;
  pages[4] = folio_page(big, 9);
  pages[5] = folio_page(big, 10);
  EXPECT_EQ(folio_pincount(big), 5);
  EXPECT_EQ(folio_ref_count(big), 6);
  EXPECT_EQ(folio_ref_count(small), 1 + GUP_PIN_COUNTING_BIAS);
  unpin_user_pages(pages, 6);
  EXPECT_EQ(folio_pincount(big), 0);
  EXPECT_EQ(folio_ref_count(big), 1);
  EXPECT_EQ(folio_ref_count(small), 1);
  folio_put(big);
  folio_put(small);
}

// Add-unless-zero: a frozen (or freed) folio is never resurrected; a negative count
// (overflow) is refused. The locked grab reports -ENOMEM.
TEST_F(GupFolio, GrabRefusesFrozenAndOverflowedFolios) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(folio_ref_freeze(f, 1));
  uint64_t zero = counter_read(CNT_stop_ref_zero);
  EXPECT_EQ(try_grab_folio_fast(&f->page, 1, FOLL_PIN), nullptr);
  EXPECT_EQ(try_grab_folio_fast(&f->page, 1, FOLL_GET), nullptr);
  EXPECT_EQ(counter_read(CNT_stop_ref_zero) - zero, 2u);
  EXPECT_EQ(folio_ref_count(f), 0) << "still frozen";
  EXPECT_EQ(try_grab_folio(f, 1, FOLL_PIN), -ENOMEM);
  EXPECT_EQ(folio_ref_count(f), 0);
  folio_ref_unfreeze(f, 1);

  folio_set_count(f, INT_MIN + 10);
  EXPECT_EQ(try_grab_folio_fast(&f->page, 1, FOLL_PIN), nullptr);
  EXPECT_EQ(folio_ref_count(f), INT_MIN + 10) << "overflowed count untouched";
  EXPECT_EQ(try_grab_folio(f, 1, FOLL_GET), -ENOMEM);
  folio_set_count(f, 1);
  folio_put(f);
}

// gup_must_unshare: only a read-only pin needs an exclusive anon page.
TEST_F(GupFolio, MustUnshareRules) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  page* p = &f->page;
  f->page.mapping.store(PAGE_MAPPING_ANON | 0x1000, sync::relaxed);  // anon, not exclusive
  EXPECT_TRUE(gup_must_unshare(nullptr, FOLL_PIN, p));
  EXPECT_TRUE(gup_must_unshare(nullptr, FOLL_PIN | FOLL_LONGTERM, p));
  EXPECT_FALSE(gup_must_unshare(nullptr, FOLL_PIN | FOLL_WRITE, p));
  EXPECT_FALSE(gup_must_unshare(nullptr, FOLL_GET, p));
  SetPageAnonExclusive(p);
  EXPECT_FALSE(gup_must_unshare(nullptr, FOLL_PIN, p));
  ClearPageAnonExclusive(p);
  // Not anon (the zero page, shmem): only long-term pins in COW mappings.
  f->page.mapping.store(0, sync::relaxed);
  EXPECT_FALSE(gup_must_unshare(nullptr, FOLL_PIN, p));
  EXPECT_TRUE(gup_must_unshare(nullptr, FOLL_PIN | FOLL_LONGTERM, p)) << "no VMA: let the slow path decide";
  vm_area_struct priv, shared;
  priv.vm_flags = VM_READ | VM_MAYREAD | VM_MAYWRITE;
  shared.vm_flags = VM_READ | VM_MAYREAD | VM_MAYWRITE | VM_SHARED;
  EXPECT_TRUE(gup_must_unshare(&priv, FOLL_PIN | FOLL_LONGTERM, p));
  EXPECT_FALSE(gup_must_unshare(&shared, FOLL_PIN | FOLL_LONGTERM, p));
  folio_put(f);
}

// The get-not-try-get mutant really removes add-unless-zero (and only when asked).
class GupFolioMutant : public GupFixture {
 protected:
  machine_config config() override {
    machine_config c;
    c.unsafe = 1u << GET_NOT_TRY_GET;
    return c;
  }
};

TEST_F(GupFolioMutant, GetNotTryGetResurrectsFrozenFolio) {
  EXPECT_TRUE(is_unsafe(GET_NOT_TRY_GET));
  EXPECT_NE(machine_describe().find("unsafe=get-not-try-get"), std::string::npos) << machine_describe();
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(folio_ref_freeze(f, 1));
  EXPECT_EQ(try_grab_folio_fast(&f->page, 1, FOLL_GET), f) << "the unsafe grab succeeds on a frozen folio";
  EXPECT_EQ(folio_ref_count(f), 1);
  folio_put(f);  // the resurrected reference is the only one: frees it
}

// ---- PMD-mapped THP (src/mm/huge_memory.cpp) -------------------------------------------
class GupThp : public GupParamTest {
 protected:
  static constexpr unsigned long base = 0x80000000ul;  // 2 GiB, 2 MiB aligned

  // Map and fault in one THP; false (and the test is skipped) if the VMA is not given a
  // PMD leaf.
  bool map_thp(mm_struct* m = nullptr) {
    mm_struct* target = m ? m : mm;
    unsigned long a = map(PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP, base, target);
    EXPECT_EQ(a, base);
    EXPECT_EQ(mm_store(target, base, 0x5a), 0);
    return lookup(target, base).leaf;
  }
};
GUP_INSTANTIATE_ALL(GupThp);

#define REQUIRE_THP()                                                                  \
  do {                                                                                 \
    if (!map_thp()) GTEST_SKIP() << "MAP_HUGE_THP did not produce a PMD leaf";         \
  } while (0)

// Detection as the brief asks: a pin of the first page shows a large folio.
TEST_P(GupThp, ThpPinOfFirstPageIsLargeFolio) {
  REQUIRE_THP();
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, base, 1, FOLL_WRITE, &p), 1);
  folio* f = page_folio(p);
  EXPECT_TRUE(folio_test_large(f));
  EXPECT_EQ(folio_order(f), HPAGE_PMD_ORDER);
  EXPECT_EQ(p, &f->page);
  EXPECT_EQ(folio_pincount(f), 1);
  unpin_user_page(p);
  EXPECT_EQ(folio_pincount(f), 0);
}

// The fast path takes a whole leaf with one grab: _pincount and _refcount go up by 512
// (one each per page, not the bias), all from the fast path.
TEST_P(GupThp, FastPinOfWholeThpCountsOncePerPage) {
  REQUIRE_THP();
  long head = mapped_pfn(mm, base);
  folio* f = page_folio(pfn_to_page(head));
  ASSERT_TRUE(folio_test_large(f));
  int ref0 = folio_ref_count(f), pin0 = folio_pincount(f);
  static page* pages[HPAGE_PMD_NR_MAX];
  uint64_t fast = counter_read(CNT_gup_fast_pages), slow = counter_read(CNT_gup_slow_pages);
  ASSERT_EQ(pin_user_pages_fast(mm, base, HPAGE_PMD_NR, FOLL_WRITE, pages), HPAGE_PMD_NR);
  EXPECT_EQ(counter_read(CNT_gup_fast_pages) - fast, uint64_t(HPAGE_PMD_NR));
  EXPECT_EQ(counter_read(CNT_gup_slow_pages) - slow, 0u);
  EXPECT_EQ(folio_pincount(f) - pin0, HPAGE_PMD_NR);
  EXPECT_EQ(folio_ref_count(f) - ref0, HPAGE_PMD_NR);
  EXPECT_TRUE(folio_maybe_dma_pinned(f));
  for (int i = 0; i < HPAGE_PMD_NR; i++) ASSERT_EQ(pages[i], folio_page(f, i)) << i;
  EXPECT_EQ(frame_read_byte(page_to_pfn(pages[0]), 0), 0x5a);
  unpin_user_pages(pages, HPAGE_PMD_NR);
  EXPECT_EQ(folio_pincount(f), pin0);
  EXPECT_EQ(folio_ref_count(f), ref0);
  EXPECT_FALSE(folio_maybe_dma_pinned(f));
  // get: references only.
  ASSERT_EQ(get_user_pages_fast(mm, base + 10 * PG, 20, 0, pages), 20);
  EXPECT_EQ(folio_ref_count(f) - ref0, 20);
  EXPECT_EQ(folio_pincount(f), pin0);
  for (int i = 0; i < 20; i++) put_page(pages[i]);
  EXPECT_EQ(folio_ref_count(f), ref0);
}

// The slow path over a leaf does the same accounting, page by page.
TEST_P(GupThp, SlowPinOfThpAccountsLikeFastPath) {
  REQUIRE_THP();
  folio* f = page_folio(pfn_to_page(mapped_pfn(mm, base)));
  int ref0 = folio_ref_count(f), pin0 = folio_pincount(f);
  static page* pages[HPAGE_PMD_NR_MAX];
  uint64_t slow = counter_read(CNT_gup_slow_pages);
  ASSERT_EQ(pin_user_pages_unlocked(mm, base, HPAGE_PMD_NR, FOLL_WRITE, pages), HPAGE_PMD_NR);
  EXPECT_EQ(counter_read(CNT_gup_slow_pages) - slow, uint64_t(HPAGE_PMD_NR));
  EXPECT_EQ(folio_pincount(f) - pin0, HPAGE_PMD_NR);
  EXPECT_EQ(folio_ref_count(f) - ref0, HPAGE_PMD_NR);
  for (int i = 0; i < HPAGE_PMD_NR; i++) ASSERT_EQ(pages[i], folio_page(f, i)) << i;
  unpin_user_pages(pages, HPAGE_PMD_NR);
  EXPECT_EQ(folio_pincount(f), pin0);
  EXPECT_EQ(folio_ref_count(f), ref0);
}

// A range that starts inside the leaf and runs past it into small pages: the leaf part in
// one grab, then the PTE part.
TEST_P(GupThp, PinSpanningThpAndSmallPages) {
  REQUIRE_THP();
  unsigned long small = map(4 * PG, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_, base + PMD_SIZE);
  ASSERT_EQ(small, base + PMD_SIZE);
  touch(small, 4);
  folio* f = page_folio(pfn_to_page(mapped_pfn(mm, base)));
  int pin0 = folio_pincount(f);
  static page* pages[HPAGE_PMD_NR_MAX];
  unsigned long start = base + PMD_SIZE - 8 * PG;
  ASSERT_EQ(pin_user_pages_fast(mm, start, 12, 0, pages), 12);
  EXPECT_EQ(folio_pincount(f) - pin0, 8);
  for (int i = 0; i < 12; i++)
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, start + i * PG)) << i;
  for (int i = 8; i < 12; i++) EXPECT_EQ(ref(pages[i]), 1 + GUP_PIN_COUNTING_BIAS);
  unpin_user_pages(pages, 12);
  EXPECT_EQ(folio_pincount(f), pin0);
}

// fork of a pinned THP: the child must not share the pinned huge page.
TEST_P(GupThp, ForkOfPinnedThpCopiesForChild) {
  REQUIRE_THP();
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, base + 5 * PG, 1, FOLL_WRITE, &p), 1);
  mm_struct* child = fork_mm(mm);
  EXPECT_EQ(mapped_pfn(mm, base + 5 * PG), static_cast<long>(page_to_pfn(p)));
  EXPECT_TRUE(lookup(mm, base + 5 * PG).write);
  EXPECT_NE(mapped_pfn(child, base + 5 * PG), static_cast<long>(page_to_pfn(p)));
  frame_write_byte(page_to_pfn(p), 0, 0x77);
  EXPECT_EQ(load(mm, base + 5 * PG), 0x77);
  EXPECT_EQ(load(child, base + 5 * PG), 0);
  EXPECT_EQ(load(child, base), 0x5a);
  unpin_user_page(p);
}


// FOLL_FORCE write to a read-only private THP (ptrace): the leaf must stay read-only for
// the process, also when the write fault reuses a formerly shared folio.
TEST_P(GupThp, ForceWriteOfReadOnlyThpStaysReadOnly) {
  ASSERT_EQ(map(PMD_SIZE, PROT_READ_, MAP_PRIVATE_ | MAP_HUGE_THP, base), base);
  ASSERT_EQ(load(mm, base), 0);  // a read fault maps a huge folio read-only
  if (!lookup(mm, base).leaf) GTEST_SKIP() << "MAP_HUGE_THP did not produce a PMD leaf";
  ASSERT_FALSE(lookup(mm, base).write);
  // Share the leaf with a child that then exits: the folio is no longer AnonExclusive but
  // has one reference, so the write fault may reuse it.
  mm_struct* child = fork_mm(mm);
  put_mm(child);
  page* p = nullptr;
  EXPECT_EQ(get_user_pages_unlocked(mm, base + 3 * PG, 1, FOLL_WRITE, &p), -EFAULT);
  ASSERT_EQ(get_user_pages_unlocked(mm, base + 3 * PG, 1, FOLL_WRITE | FOLL_FORCE, &p), 1);
  EXPECT_EQ(static_cast<long>(page_to_pfn(p)), mapped_pfn(mm, base + 3 * PG));
  frame_write_byte(page_to_pfn(p), 0, 0x3c);
  put_page(p);
  EXPECT_EQ(load(mm, base + 3 * PG), 0x3c);
  EXPECT_FALSE(lookup(mm, base + 3 * PG).write) << "the forced write must not make the mapping writable";
  EXPECT_EQ(mm_store(mm, base + 3 * PG, 1), -EFAULT);
  EXPECT_EQ(mm_store(mm, base, 1), -EFAULT);
}

// Found by the differential fuzzer (tests/fuzz/corpus/mm/bug-thp-unshare-after-fork; the
// fidelity review's item 1): a fork shares the THP (AnonExclusive cleared, the leaf read-only),
// the child exits, and a read-only pin of a page other than the head must take the leaf back
// (do_huge_pmd_wp_page reuses it: refcount 1, the head's AnonExclusive set). The slow path
// asked gup_must_unshare about the subpage, whose flag reuse never sets: every retry faulted
// again, and the pin failed with -EAGAIN after 1000 faults.
TEST_P(GupThp, ReadPinOfThpSharedByAnExitedChildSucceeds) {
  REQUIRE_THP();
  put_mm(fork_mm(mm));
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_unlocked(mm, base + 3 * PG, 1, 0, &p), 1);
  EXPECT_EQ(page_to_pfn(p), page_to_pfn(pfn_to_page(mapped_pfn(mm, base))) + 3) << "the same THP, reused";
  unpin_user_page(p);
}

// Found by the differential fuzzer (bug-mprotect-split-after-fork): mprotect of a part of a
// THP that a fork write-protected splits the leaf; the pages outside the range keep their
// VMA's protection. The split ran after the VMA took the new flags, so every PTE of the leaf
// became PROT_NONE and a store to the untouched part faulted with SIGSEGV.
TEST_P(GupThp, MprotectOfPartOfAForkSharedThpLeavesTheRest) {
  REQUIRE_THP();
  fork_mm(mm);
  ASSERT_EQ(do_mprotect(mm, base + 11 * PG, 16 * PG, PROT_NONE_), 0);
  EXPECT_EQ(mm_store(mm, base + 3 * PG, 7), 0);
  EXPECT_EQ(load(mm, base + 3 * PG), 7);
  EXPECT_EQ(mm_store(mm, base + 40 * PG, 8), 0);
  EXPECT_EQ(load(mm, base + 12 * PG), -EFAULT);
}

// Found by the differential fuzzer (bug-force-write-prot-none): FOLL_FORCE writes a private
// PROT_NONE page, as ptrace does (check_vma_flags allows it in a COW mapping; the fault breaks
// COW and maps the copy PROT_NONE again; gup_can_follow_protnone follows it).
TEST_P(GupThp, ForceWriteOfProtNonePrivateMemory) {
  REQUIRE_THP();
  fork_mm(mm);
  ASSERT_EQ(do_mprotect(mm, base, 16 * PG, PROT_NONE_), 0);
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_unlocked(mm, base + 2 * PG, 1, FOLL_WRITE, &p), -EFAULT);
  ASSERT_EQ(pin_user_pages_unlocked(mm, base + 2 * PG, 1, FOLL_WRITE | FOLL_FORCE, &p), 1);
  frame_write_byte(page_to_pfn(p), 9, 0x33);
  unpin_user_page(p);
  EXPECT_EQ(load(mm, base + 2 * PG), -EFAULT) << "still PROT_NONE for the process";
  ASSERT_EQ(do_mprotect(mm, base, 16 * PG, PROT_READ_), 0);
  uint8_t v = 0;
  ASSERT_EQ(mm_load(mm, base + 2 * PG + 9, &v), 0);
  EXPECT_EQ(v, 0x33) << "the forced write reached the process's page";
}
}  // namespace
