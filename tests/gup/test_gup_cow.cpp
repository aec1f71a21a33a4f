// LONGTERM and unshare rules, COW, the shared zero page, shared anonymous memory, and fork
// of an mm with pinned pages.
#include "gup_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {

class GupCow : public GupParamTest {};
GUP_INSTANTIATE_ALL(GupCow);

// A read-only pin of a private page that fork shares (not AnonExclusive): GUP-fast stops
// (unshare), the slow path unshares: the parent gets its own exclusive copy, the child
// keeps the old page. The pin then stays coherent with the parent's later writes.
TEST_P(GupCow, ReadPinOfForkSharedPageUnshares) {
  unsigned long a = map(PG);
  ASSERT_EQ(mm_store(mm, a, 0x42), 0);
  long old = mapped_pfn(mm, a);
  mm_struct* child = fork_mm(mm);
  ASSERT_EQ(mapped_pfn(child, a), old);
  EXPECT_FALSE(PageAnonExclusive(pfn_to_page(old))) << "fork shares the page";
  EXPECT_FALSE(lookup(mm, a).write) << "fork write-protects the parent";
  EXPECT_EQ(ref_pfn(old), 2);

  uint64_t stops = counter_read(CNT_stop_unshare), copies = counter_read(CNT_unshare_copies);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, 0, &p), 1);
  EXPECT_EQ(counter_read(CNT_stop_unshare) - stops, 1u) << "the fast path refuses a shared anon page";
  EXPECT_EQ(counter_read(CNT_unshare_copies) - copies, 1u);
  long now = mapped_pfn(mm, a);
  EXPECT_NE(now, old) << "the parent was given a copy";
  EXPECT_EQ(static_cast<long>(page_to_pfn(p)), now) << "the pin is on the parent's new page";
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_FALSE(lookup(mm, a).write) << "unshare maps the copy read-only";
  EXPECT_EQ(mapped_pfn(child, a), old) << "the child keeps the old page";
  EXPECT_EQ(ref_pfn(old), 1);
  EXPECT_EQ(ref(p), 1 + GUP_PIN_COUNTING_BIAS);
  EXPECT_EQ(load(mm, a), 0x42);
  EXPECT_EQ(load(child, a), 0x42);

  // The parent's write reuses its exclusive page: no COW away from the pinned page.
  ASSERT_EQ(mm_store(mm, a + 8, 0x43), 0);
  EXPECT_EQ(mapped_pfn(mm, a), now);
  EXPECT_EQ(frame_read_byte(page_to_pfn(p), 8), 0x43);
  // A "device" write through the pin is seen by the parent only.
  frame_write_byte(page_to_pfn(p), 16, 0x44);
  EXPECT_EQ(load(mm, a + 16), 0x44);
  EXPECT_EQ(load(child, a + 16), 0);
  unpin_user_page(p);
  EXPECT_EQ(ref(p), 1);
}

// FOLL_GET has no unshare rule: the shared page itself is returned, nothing is copied.
TEST_P(GupCow, GetOfForkSharedPageDoesNotUnshare) {
  unsigned long a = map(PG);
  ASSERT_EQ(mm_store(mm, a, 1), 0);
  long old = mapped_pfn(mm, a);
  mm_struct* child = fork_mm(mm);
  uint64_t copies = counter_read(CNT_unshare_copies) + counter_read(CNT_cow_copies);
  page* p = nullptr;
  ASSERT_EQ(get_user_pages_fast(mm, a, 1, 0, &p), 1);
  EXPECT_EQ(static_cast<long>(page_to_pfn(p)), old);
  EXPECT_EQ(counter_read(CNT_unshare_copies) + counter_read(CNT_cow_copies), copies);
  EXPECT_EQ(mapped_pfn(child, a), old);
  put_page(p);
}

// A write pin of a fork-shared page breaks COW: the parent's writable copy is pinned.
TEST_P(GupCow, WritePinBreaksCow) {
  unsigned long a = map(PG);
  ASSERT_EQ(mm_store(mm, a, 0x31), 0);
  long old = mapped_pfn(mm, a);
  mm_struct* child = fork_mm(mm);
  uint64_t cows = counter_read(CNT_cow_copies), perm = counter_read(CNT_stop_permission);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &p), 1);
  EXPECT_GE(counter_read(CNT_stop_permission) - perm, 1u) << "read-only PTE: fast path stops";
  EXPECT_EQ(counter_read(CNT_cow_copies) - cows, 1u);
  long now = mapped_pfn(mm, a);
  EXPECT_NE(now, old);
  EXPECT_EQ(static_cast<long>(page_to_pfn(p)), now);
  EXPECT_TRUE(lookup(mm, a).write);
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_EQ(mapped_pfn(child, a), old);
  EXPECT_EQ(frame_read_byte(page_to_pfn(p), 0), 0x31) << "COW copies the data";
  frame_write_byte(page_to_pfn(p), 0, 0x32);
  EXPECT_EQ(load(mm, a), 0x32);
  EXPECT_EQ(load(child, a), 0x31);
  unpin_user_page(p);
}

// A read pin (not long term) of a never-written private page is the shared zero page,
// and pinning it takes nothing (unpin is a no-op on it).
TEST_P(GupCow, ReadPinOfUntouchedPageIsZeroPage) {
  unsigned long a = map(2 * PG);
  int zref = ref_pfn(zero_pfn);
  page* pages[2] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, 0, pages), 2);
  for (int i = 0; i < 2; i++) {
    EXPECT_TRUE(is_zero_pfn(page_to_pfn(pages[i]))) << "page " << i;
    EXPECT_TRUE(is_zero_pfn(mapped_pfn(mm, a + i * PG)));
  }
  EXPECT_EQ(ref_pfn(zero_pfn), zref) << "no pin on the zero page";
  // Again, now that the zero page is mapped: the fast path refuses special PTEs.
  uint64_t special = counter_read(CNT_stop_special);
  page* again[2] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, 0, again), 2);
  EXPECT_GE(counter_read(CNT_stop_special) - special, 1u);
  EXPECT_TRUE(is_zero_pfn(page_to_pfn(again[0])));
  unpin_user_pages(again, 2);
  unpin_user_pages(pages, 2);
  EXPECT_EQ(ref_pfn(zero_pfn), zref) << "unpin of the zero page is a no-op";
  // FOLL_GET does take a reference on it, and put_page returns it.
  page* g = nullptr;
  ASSERT_EQ(get_user_pages_fast(mm, a, 1, 0, &g), 1);
  EXPECT_TRUE(is_zero_pfn(page_to_pfn(g)));
  EXPECT_EQ(ref_pfn(zero_pfn), zref + 1);
  put_page(g);
  EXPECT_EQ(ref_pfn(zero_pfn), zref);
}

// A long-term read pin of a never-written private page must not be the zero page (later
// writes by the process would not be seen through it): GUP unshares to a fresh anon page.
TEST_P(GupCow, LongtermReadPinOfUntouchedPageUnshares) {
  unsigned long a = map(2 * PG);
  ASSERT_EQ(load(mm, a + PG), 0);  // page 1: the zero page is mapped already
  ASSERT_TRUE(is_zero_pfn(mapped_pfn(mm, a + PG)));
  int zref = ref_pfn(zero_pfn);
  uint64_t copies = counter_read(CNT_unshare_copies);
  page* pages[2] = {};
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, FOLL_LONGTERM, pages), 2);
  EXPECT_EQ(counter_read(CNT_unshare_copies) - copies, 2u);
  for (int i = 0; i < 2; i++) {
    EXPECT_FALSE(is_zero_pfn(page_to_pfn(pages[i]))) << "page " << i;
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG));
    EXPECT_TRUE(folio_test_anon(page_folio(pages[i])));
    EXPECT_TRUE(PageAnonExclusive(pages[i]));
    EXPECT_EQ(ref(pages[i]), 1 + GUP_PIN_COUNTING_BIAS);
    EXPECT_EQ(frame_read_byte(page_to_pfn(pages[i]), 100), 0);
  }
  EXPECT_EQ(ref_pfn(zero_pfn), zref);
  // The process writes; the pin sees it (the write reuses the exclusive page).
  ASSERT_EQ(mm_store(mm, a + PG + 100, 0x66), 0);
  EXPECT_EQ(mapped_pfn(mm, a + PG), static_cast<long>(page_to_pfn(pages[1])));
  EXPECT_EQ(frame_read_byte(page_to_pfn(pages[1]), 100), 0x66);
  unpin_user_pages(pages, 2);
}

// Shared anonymous memory: no COW, no unshare. After fork, parent and child pin the same
// page, and the pins stack on the one folio.
TEST_P(GupCow, SharedAnonPinsSamePageInParentAndChild) {
  unsigned long a = map(2 * PG, PROT_READ_ | PROT_WRITE_, MAP_SHARED_);
  ASSERT_EQ(mm_store(mm, a, 0x21), 0);
  long pfn = mapped_pfn(mm, a);
  mm_struct* child = fork_mm(mm);
  EXPECT_EQ(mapped_pfn(child, a), pfn);
  int base = ref_pfn(pfn);
  EXPECT_EQ(base, 3) << "page cache + two mappings";
  uint64_t stops = counter_read(CNT_stop_unshare), copies = counter_read(CNT_unshare_copies) +
                                                           counter_read(CNT_cow_copies);
  page *pp = nullptr, *pc = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE | FOLL_LONGTERM, &pp), 1);
  ASSERT_EQ(pin_user_pages_fast(child, a, 1, 0, &pc), 1);
  EXPECT_EQ(pp, pc);
  EXPECT_EQ(static_cast<long>(page_to_pfn(pp)), pfn);
  EXPECT_EQ(ref(pp), base + 2 * GUP_PIN_COUNTING_BIAS);
  EXPECT_EQ(folio_pincount(page_folio(pp)), 2);
  EXPECT_EQ(counter_read(CNT_stop_unshare), stops);
  EXPECT_EQ(counter_read(CNT_unshare_copies) + counter_read(CNT_cow_copies), copies);
  EXPECT_EQ(mapped_pfn(mm, a), pfn);
  // Writes by either side and by the device are seen by all.
  ASSERT_EQ(mm_store(child, a + 1, 0x22), 0);
  frame_write_byte(page_to_pfn(pp), 2, 0x23);
  EXPECT_EQ(load(mm, a + 1), 0x22);
  EXPECT_EQ(load(child, a + 2), 0x23);
  unpin_user_page(pp);
  unpin_user_page(pc);
  EXPECT_EQ(ref_pfn(pfn), base);
  // The untouched second page: both mms get the same page-cache page.
  page *q1 = nullptr, *q2 = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a + PG, 1, 0, &q1), 1);
  ASSERT_EQ(pin_user_pages_fast(child, a + PG, 1, FOLL_LONGTERM, &q2), 1);
  EXPECT_EQ(q1, q2);
  EXPECT_FALSE(is_zero_pfn(page_to_pfn(q1)));
  unpin_user_page(q1);
  unpin_user_page(q2);
}

// fork of an mm with a pinned private page: the child gets a copy right away; the parent
// keeps the pinned page mapped writable. Writes through the pin reach the parent only.
TEST_P(GupCow, ForkCopiesPinnedPageForChild) {
  unsigned long a = map(2 * PG);
  ASSERT_EQ(mm_store(mm, a, 0x11), 0);
  ASSERT_EQ(mm_store(mm, a + PG, 0x12), 0);
  long pfn1 = mapped_pfn(mm, a + PG);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE | FOLL_LONGTERM, &p), 1);
  ASSERT_TRUE(mm_flags_test(mm, MMF_HAS_PINNED));
  unsigned long pinned = page_to_pfn(p);

  uint64_t copies = counter_read(CNT_fork_pinned_copies);
  mm_struct* child = fork_mm(mm);
  EXPECT_EQ(counter_read(CNT_fork_pinned_copies) - copies, 1u) << "only the pinned page is copied";
  EXPECT_EQ(static_cast<unsigned long>(mapped_pfn(mm, a)), pinned);
  EXPECT_TRUE(lookup(mm, a).write) << "the parent's pinned page stays writable";
  long cpfn = mapped_pfn(child, a);
  ASSERT_GE(cpfn, 0);
  EXPECT_NE(static_cast<unsigned long>(cpfn), pinned);
  EXPECT_TRUE(PageAnonExclusive(pfn_to_page(cpfn)));
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_EQ(ref(p), 1 + GUP_PIN_COUNTING_BIAS);
  // The unpinned page is shared as usual.
  EXPECT_EQ(mapped_pfn(child, a + PG), pfn1);
  EXPECT_FALSE(lookup(mm, a + PG).write);

  frame_write_byte(pinned, 0, 0x99);  // DMA into the pinned buffer
  EXPECT_EQ(load(mm, a), 0x99);
  EXPECT_EQ(load(child, a), 0x11);
  ASSERT_EQ(mm_store(mm, a + 3, 0x55), 0);  // the parent writes without a COW
  EXPECT_EQ(static_cast<unsigned long>(mapped_pfn(mm, a)), pinned);
  EXPECT_EQ(frame_read_byte(pinned, 3), 0x55);
  EXPECT_EQ(load(child, a + 3), 0);
  unpin_user_page(p);
}

// The contrast: unpinned before the fork, the page is shared as any other.
TEST_P(GupCow, ForkAfterUnpinSharesPage) {
  unsigned long a = map(PG);
  ASSERT_EQ(mm_store(mm, a, 0x11), 0);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(mm, a, 1, FOLL_WRITE, &p), 1);
  unpin_user_page(p);
  uint64_t copies = counter_read(CNT_fork_pinned_copies);
  mm_struct* child = fork_mm(mm);
  EXPECT_EQ(counter_read(CNT_fork_pinned_copies), copies);
  EXPECT_EQ(mapped_pfn(child, a), static_cast<long>(page_to_pfn(p)));
  EXPECT_EQ(mapped_pfn(mm, a), static_cast<long>(page_to_pfn(p)));
}

// A long-term read pin of a read-only private page that fork shares: unshared too.
TEST_P(GupCow, LongtermReadPinOfSharedPageInReadOnlyVma) {
  unsigned long a = map(PG);
  ASSERT_EQ(mm_store(mm, a, 0x7), 0);
  ASSERT_EQ(do_mprotect(mm, a, PG, PROT_READ_), 0);
  long old = mapped_pfn(mm, a);
  mm_struct* child = fork_mm(mm);
  page* p = nullptr;
  ASSERT_EQ(pin_user_pages_fast(child, a, 1, FOLL_LONGTERM, &p), 1);
  EXPECT_NE(static_cast<long>(page_to_pfn(p)), old);
  EXPECT_EQ(mapped_pfn(child, a), static_cast<long>(page_to_pfn(p)));
  EXPECT_EQ(mapped_pfn(mm, a), old);
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_EQ(load(child, a), 0x7);
  EXPECT_EQ(mm_store(child, a, 1), -EFAULT) << "still a read-only mapping";
  unpin_user_page(p);
}


// FOLL_FORCE (ptrace, /proc/pid/mem): a write to a private read-only mapping breaks COW for
// the caller, but must not make the mapping writable for the process itself.
TEST_P(GupCow, ForceWriteOfReadOnlyPrivateMappingStaysReadOnly) {
  unsigned long a = map(3 * PG, PROT_READ_);
  ASSERT_EQ(load(mm, a + PG), 0);  // page 1: the zero page
  mm_struct* child = nullptr;
  page* pages[3] = {};
  EXPECT_EQ(get_user_pages_unlocked(mm, a, 3, FOLL_WRITE, pages), -EFAULT) << "no FOLL_FORCE";
  ASSERT_EQ(get_user_pages_unlocked(mm, a, 3, FOLL_WRITE | FOLL_FORCE, pages), 3);
  for (int i = 0; i < 3; i++) {
    EXPECT_FALSE(is_zero_pfn(page_to_pfn(pages[i]))) << i;
    EXPECT_EQ(static_cast<long>(page_to_pfn(pages[i])), mapped_pfn(mm, a + i * PG)) << i;
    EXPECT_FALSE(lookup(mm, a + i * PG).write) << "page " << i << " must stay read-only";
    frame_write_byte(page_to_pfn(pages[i]), 0, uint8_t(0x30 + i));  // the debugger's write
    put_page(pages[i]);
  }
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(load(mm, a + i * PG), 0x30 + i);
    EXPECT_EQ(mm_store(mm, a + i * PG, 1), -EFAULT) << "the process still may not write page " << i;
  }
  // Forced write after fork: the parent gets its own copy, the child keeps the old page.
  child = fork_mm(mm);
  long old = mapped_pfn(mm, a);
  page* p = nullptr;
  ASSERT_EQ(get_user_pages_unlocked(mm, a, 1, FOLL_WRITE | FOLL_FORCE, &p), 1);
  EXPECT_NE(static_cast<long>(page_to_pfn(p)), old);
  EXPECT_EQ(mapped_pfn(child, a), old);
  EXPECT_FALSE(lookup(mm, a).write);
  frame_write_byte(page_to_pfn(p), 0, 0x55);
  put_page(p);
  EXPECT_EQ(load(mm, a), 0x55);
  EXPECT_EQ(load(child, a), 0x30);
  EXPECT_EQ(mm_store(mm, a, 1), -EFAULT);
  // FOLL_FORCE does not write into a read-only *shared* mapping (not a COW mapping).
  unsigned long s = map(PG, PROT_READ_, MAP_SHARED_);
  ASSERT_EQ(load(mm, s), 0);
  long spfn = mapped_pfn(mm, s);
  EXPECT_EQ(get_user_pages_unlocked(mm, s, 1, FOLL_WRITE | FOLL_FORCE, &p), -EFAULT);
  EXPECT_EQ(pin_user_pages_fast(mm, s, 1, FOLL_WRITE | FOLL_FORCE, &p), -EFAULT);
  EXPECT_FALSE(lookup(mm, s).write);
  EXPECT_EQ(mapped_pfn(mm, s), spfn);
  EXPECT_EQ(mm_store(mm, s, 1), -EFAULT);
}
}  // namespace
