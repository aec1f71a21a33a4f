// khugepaged collapse, single-threaded: the data survives (every strategy x entry format),
// PTE-mapped THPs collapse again after a split, and a pinned, referenced or locked page makes
// collapse back off leaving everything as it was. Every test ends with the fixture's leak
// check (every frame back to the allocator once the mms are gone).
#include "replacers/khugepaged_support.h"
#include "mm/swap.h"

namespace gupfast::test {
namespace {

class Collapse : public GupParamTest {
 protected:
  // 2 MiB of small pages at HREGION with the pattern, then MADV_HUGEPAGE.
  void small_pages(bool holes) {
    ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
    fill_region(mm, HREGION, holes);
    ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_HUGEPAGE_), 0);
    ASSERT_FALSE(lookup(mm, HREGION + 17 * PG).leaf);
  }
  // small_pages(), PROT_NONE, collapsed: a PROT_NONE leaf (the pmd is returned in *pmd).
  void protnone_leaf(collapse_stats* st, pmd_t* pmd) {
    ASSERT_NO_FATAL_FAILURE(small_pages(/*holes=*/false));
    ASSERT_EQ(do_mprotect(mm, HREGION, PMD_SIZE, 0), 0);
    ASSERT_EQ(collapse_pmd_range(mm, HREGION, st), 0) << to_string(st->result);
    *pmd = pmd_t{pmd_entry(mm, HREGION)};
    ASSERT_TRUE(pmd_leaf(*pmd) && pmd_protnone(*pmd)) << std::hex << pmd->pmd;
  }
  // The pfns the region maps now (-1 for none).
  std::vector<long> pfns() {
    std::vector<long> v;
    for (int i = 0; i < HPAGE_PMD_NR; i++) v.push_back(mapped_pfn(mm, HREGION + i * PG));
    return v;
  }
};

TEST_P(Collapse, DataPreservedIntoOneHugeFolio) {
  small_pages(/*holes=*/true);
  long nr_ptes = mm->nr_ptes.load(sync::relaxed);
  int nr_none = 0;
  for (int i = 0; i < HPAGE_PMD_NR; i++) nr_none += slot_kind(i, true) != slot::data;
  collapse_stats st;
  ASSERT_EQ(collapse_pmd_range(mm, HREGION + 5 * PG, &st), 0) << to_string(st.result);
  EXPECT_EQ(st.result, collapse_result::succeeded);
  EXPECT_EQ(st.nr_none, nr_none);
  EXPECT_EQ(st.nr_copied, HPAGE_PMD_NR - nr_none);
  EXPECT_EQ(counter_read(CNT_collapse_done), 1u);
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), nr_ptes) << "the old table is the leaf's deposit";
  EXPECT_EQ(mm->rss_anon.load(sync::relaxed), HPAGE_PMD_NR);
  for (int i = 0; i < HPAGE_PMD_NR; i++) {
    mapping_info m = lookup(mm, HREGION + i * PG);
    ASSERT_TRUE(m.present && m.leaf && m.write) << "page " << i;
    ASSERT_EQ(m.pfn, st.pfn + i);
  }
  folio* hf = page_folio(pfn_to_page(st.pfn));
  EXPECT_EQ(folio_order(hf), HPAGE_PMD_ORDER);
  EXPECT_EQ(folio_ref_count(hf), 1);
  EXPECT_EQ(folio_entire_mapcount(hf), 1);
  EXPECT_TRUE(PageAnonExclusive(&hf->page));
  EXPECT_TRUE(folio_test_lru(hf));
  EXPECT_EQ(lru_nr_folios(), 1u) << "the old pages left the LRU when they were freed";
  EXPECT_EQ(check_region(mm, HREGION, true), -1);
  // Exclusive: a write lands in place, no COW.
  ASSERT_EQ(mm_store(mm, HREGION + 3 * PG, 0x5a), 0);
  EXPECT_EQ(mapped_pfn(mm, HREGION + 3 * PG), long(st.pfn + 3));
  // GUP-fast pins through the leaf now: one folio, its subpages.
  page* pages[4];
  ASSERT_EQ(pin_user_pages_fast(mm, HREGION + 8 * PG, 4, FOLL_WRITE, pages), 4);
  for (int i = 0; i < 4; i++) EXPECT_EQ(page_to_pfn(pages[i]), st.pfn + 8 + i);
  unpin_user_pages(pages, 4);
}

// split_huge_pmd leaves a PTE table mapping one large folio; collapse copies it into a new
// huge folio and frees the old one; and again, several rounds.
TEST_P(Collapse, SplitThenCollapseRoundTrips) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(HREGION));
  fill_region(mm, HREGION, false);
  ASSERT_TRUE(lookup(mm, HREGION).leaf);
  for (int round = 0; round < 3; round++) {
    long old = mapped_pfn(mm, HREGION);
    ASSERT_EQ(split_pmd(mm, HREGION), 0);
    ASSERT_FALSE(lookup(mm, HREGION).leaf);
    ASSERT_EQ(mapped_pfn(mm, HREGION + 100 * PG), old + 100);
    collapse_stats st;
    ASSERT_EQ(collapse_pmd_range(mm, HREGION, &st), 0) << to_string(st.result);
    ASSERT_TRUE(lookup(mm, HREGION).leaf);
    EXPECT_NE(long(st.pfn), old);
    EXPECT_EQ(st.nr_copied, HPAGE_PMD_NR);
    ASSERT_EQ(check_region(mm, HREGION, false), -1) << "round " << round;
  }
  EXPECT_EQ(counter_read(CNT_collapse_done), 3u);
}

// A DMA pin on one page: collapse must not copy it away. Nothing changes, and the device's
// write through the pin is what the process reads.
TEST_P(Collapse, PinnedPageBacksOffAndNothingChanges) {
  small_pages(/*holes=*/false);
  page* p;
  ASSERT_EQ(pin_user_pages_fast(mm, HREGION + 40 * PG, 1, FOLL_WRITE | FOLL_LONGTERM, &p), 1);
  std::vector<long> before = pfns();
  pteval_t pmd_before = pmd_entry(mm, HREGION);
  int ref_before = ref(p);
  collapse_stats st;
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), -EAGAIN);
  EXPECT_EQ(st.result, collapse_result::page_pinned);
  EXPECT_EQ(counter_read(CNT_collapse_fail_pinned), 1u);
  EXPECT_EQ(counter_read(CNT_collapse_done), 0u);
  EXPECT_EQ(pmd_entry(mm, HREGION), pmd_before);
  EXPECT_EQ(pfns(), before);
  EXPECT_EQ(ref(p), ref_before);
  for (long pfn : before) EXPECT_FALSE(folio_test_locked(page_folio(pfn_to_page(pfn))));
  frame_write_byte(page_to_pfn(p), 7, 0xd7);
  unpin_user_pages_dirty_lock(&p, 1, true);
  EXPECT_EQ(load(mm, HREGION + 40 * PG + 7), 0xd7);
  // Unpinned: now it collapses, with the device's byte.
  ASSERT_EQ(collapse_pmd_range(mm, HREGION, &st), 0);
  EXPECT_EQ(load(mm, HREGION + 40 * PG + 7), 0xd7);
  EXPECT_TRUE(lookup(mm, HREGION).leaf);
}

// A pin on one subpage of a PTE-mapped THP: the large folio's _pincount says so.
TEST_P(Collapse, PinnedSubpageOfPteMappedThpBacksOff) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(HREGION));
  fill_region(mm, HREGION, false);
  ASSERT_EQ(split_pmd(mm, HREGION), 0);
  page* p;
  ASSERT_EQ(pin_user_pages_fast(mm, HREGION + 300 * PG, 1, FOLL_WRITE, &p), 1);
  std::vector<long> before;
  for (int i = 0; i < HPAGE_PMD_NR; i += 37) before.push_back(mapped_pfn(mm, HREGION + i * PG));
  collapse_stats st;
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), -EAGAIN);
  EXPECT_EQ(st.result, collapse_result::page_pinned);
  std::vector<long> after;
  for (int i = 0; i < HPAGE_PMD_NR; i += 37) after.push_back(mapped_pfn(mm, HREGION + i * PG));
  EXPECT_EQ(after, before);
  unpin_user_page(p);
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), 0);
  EXPECT_EQ(check_region(mm, HREGION, false), -1);
}

// A plain GUP reference (FOLL_GET) is an unexpected reference too.
TEST_P(Collapse, ReferencedPageBacksOff) {
  small_pages(/*holes=*/true);
  page* p;
  ASSERT_EQ(get_user_pages_fast(mm, HREGION + 2 * PG, 1, 0, &p), 1);
  std::vector<long> before = pfns();
  collapse_stats st;
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), -EAGAIN);
  EXPECT_EQ(st.result, collapse_result::page_count);
  EXPECT_EQ(counter_read(CNT_collapse_fail_refcount), 1u);
  EXPECT_EQ(pfns(), before);
  put_page(p);
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), 0);
  EXPECT_EQ(check_region(mm, HREGION, true), -1);
}

// A PROT_NONE VMA collapses into a PROT_NONE leaf: _PAGE_PSE | _PAGE_PROTNONE without
// _PAGE_PRESENT. That is a leaf mapping the folio like any other, not the transient
// pmdp_invalidate state of a split in progress (which clears _PAGE_PROTNONE too, and which
// no one holding the PMD lock ever sees). mprotect must split it, or the VMA would become
// accessible over a leaf that stays PROT_NONE (every access faulting forever).
TEST_P(Collapse, ProtNoneLeafSplitsOnMprotect) {
  collapse_stats st;
  pmd_t pmd;
  ASSERT_NO_FATAL_FAILURE(protnone_leaf(&st, &pmd));
  EXPECT_EQ(load(mm, HREGION), -EFAULT);
  ASSERT_EQ(do_mprotect(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_), 0);
  ASSERT_FALSE(pmd_leaf(pmd_t{pmd_entry(mm, HREGION)})) << "the PROT_NONE leaf was not split";
  EXPECT_EQ(check_region(mm, HREGION, false), -1);
  ASSERT_EQ(mm_store(mm, HREGION + 9 * PG, 0x3c), 0);
  EXPECT_EQ(mapped_pfn(mm, HREGION + 9 * PG), long(st.pfn + 9)) << "exclusive: written in place";
}

// fork of a PROT_NONE leaf (the stress crash: gupfast stress --strategy rcu --mutators all
// --amplify --ops 6000 --seed 5). copy_huge_pmd took the leaf for "being split" and returned
// -EAGAIN without splitting; copy_page_range then ran copy_pte_range on the leaf, whose
// pte_offset_map_lock() found no PTE table and returned NULL: a NULL dereference. The child
// must share the leaf, write-protected, as for any other leaf.
TEST_P(Collapse, ProtNoneLeafIsCopiedByFork) {
  collapse_stats st;
  pmd_t pmd;
  ASSERT_NO_FATAL_FAILURE(protnone_leaf(&st, &pmd));
  mm_struct* child = fork_mm(mm);
  ASSERT_NE(child, nullptr);
  pmd_t cpmd{pmd_entry(child, HREGION)};
  EXPECT_TRUE(pmd_leaf(cpmd) && pmd_protnone(cpmd)) << std::hex << cpmd.pmd;
  EXPECT_EQ(pmd_pfn(cpmd), st.pfn);
  folio* hf = page_folio(pfn_to_page(st.pfn));
  EXPECT_EQ(folio_entire_mapcount(hf), 2);
  EXPECT_EQ(folio_ref_count(hf), 2);
  EXPECT_FALSE(PageAnonExclusive(&hf->page));
  EXPECT_EQ(child->rss_anon.load(sync::relaxed), HPAGE_PMD_NR);
  EXPECT_EQ(load(child, HREGION), -EFAULT);
  // Accessible again in both: each splits its leaf and sees the data; a write is a COW.
  for (mm_struct* m : {mm, child}) {
    ASSERT_EQ(do_mprotect(m, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_), 0);
    ASSERT_FALSE(pmd_leaf(pmd_t{pmd_entry(m, HREGION)}));
    EXPECT_EQ(check_region(m, HREGION, false), -1);
  }
  ASSERT_EQ(mm_store(child, HREGION + 5 * PG, 0xee), 0);
  EXPECT_NE(mapped_pfn(child, HREGION + 5 * PG), long(st.pfn + 5));
  EXPECT_EQ(check_region(mm, HREGION, false), -1);
  put_mm(child);
  EXPECT_EQ(check_region(mm, HREGION, false), -1);
}

GUP_INSTANTIATE_ALL(Collapse);

class CollapseCases : public GupFixture {};

// Someone holds the folio lock (reclaim, migration): back off, try later.
TEST_F(CollapseCases, LockedFolioBacksOff) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  fill_region(mm, HREGION, false);
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_HUGEPAGE_), 0);
  folio* f = page_folio(pfn_to_page(mapped_pfn(mm, HREGION + 9 * PG)));
  ASSERT_TRUE(folio_trylock(f));
  collapse_stats st;
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), -EAGAIN);
  EXPECT_EQ(st.result, collapse_result::page_lock);
  EXPECT_EQ(counter_read(CNT_collapse_fail_busy), 1u);
  EXPECT_TRUE(folio_test_locked(f));
  EXPECT_FALSE(folio_test_locked(page_folio(pfn_to_page(mapped_pfn(mm, HREGION)))));
  folio_unlock(f);
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), 0);
  EXPECT_EQ(check_region(mm, HREGION, false), -1);
}

TEST_F(CollapseCases, UnsuitableRangesAreRefused) {
  collapse_stats st;
  // No VMA.
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), -EINVAL);
  EXPECT_EQ(st.result, collapse_result::vma_unsuitable);
  // Not VM_HUGEPAGE.
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  fill_region(mm, HREGION, false);
  EXPECT_EQ(collapse_pmd_range(mm, HREGION, &st), -EINVAL);
  EXPECT_EQ(st.result, collapse_result::vma_unsuitable);
  // VM_HUGEPAGE but the VMA does not cover the whole 2 MiB.
  unsigned long b = HREGION + 2 * PMD_SIZE;
  ASSERT_EQ(vm_mmap(mm, b, PMD_SIZE - PG, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(b));
  EXPECT_EQ(collapse_pmd_range(mm, b, &st), -EINVAL);
  EXPECT_EQ(st.result, collapse_result::vma_unsuitable);
  // Shared anonymous memory is shmem: not an anonymous THP VMA.
  unsigned long s = HREGION + 4 * PMD_SIZE;
  ASSERT_EQ(vm_mmap(mm, s, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_SHARED_ | MAP_HUGE_THP), long(s));
  ASSERT_EQ(mm_store(mm, s, 1), 0);
  EXPECT_EQ(collapse_pmd_range(mm, s, &st), -EINVAL);
  // THP VMA, nothing mapped yet: no table to collapse.
  unsigned long e = HREGION + 6 * PMD_SIZE;
  ASSERT_EQ(vm_mmap(mm, e, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(e));
  EXPECT_EQ(collapse_pmd_range(mm, e, &st), -EINVAL);
  EXPECT_EQ(st.result, collapse_result::pmd_none);
  // Already a leaf: success, nothing done.
  ASSERT_EQ(mm_store(mm, e, 1), 0);
  long leaf = mapped_pfn(mm, e);
  EXPECT_EQ(collapse_pmd_range(mm, e, &st), 0);
  EXPECT_EQ(st.result, collapse_result::pmd_mapped);
  EXPECT_EQ(mapped_pfn(mm, e), leaf);
  EXPECT_EQ(counter_read(CNT_collapse_done), 0u);
  EXPECT_EQ(counter_read(CNT_collapse_fail_unsuitable), 5u);
}

// Pages shared with a fork child (mapcount 2, refcount 2) are not "extra references":
// the parent collapses onto its own copy, the child keeps the old pages.
TEST_F(CollapseCases, PagesSharedWithChildCollapseForTheParentOnly) {
  ASSERT_EQ(vm_mmap(mm, HREGION, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  fill_region(mm, HREGION, true);
  ASSERT_EQ(do_madvise(mm, HREGION, PMD_SIZE, MADV_HUGEPAGE_), 0);
  mm_struct* child = fork_mm(mm);
  long child_pfn = mapped_pfn(child, HREGION + 20 * PG);
  collapse_stats st;
  ASSERT_EQ(collapse_pmd_range(mm, HREGION, &st), 0) << to_string(st.result);
  EXPECT_EQ(ref_pfn(child_pfn), 1) << "the child's mapping is the only one left";
  ASSERT_EQ(mm_store(mm, HREGION + 20 * PG, 0x99), 0);
  EXPECT_EQ(check_region(child, HREGION, true), -1) << "the child's data is untouched";
  EXPECT_EQ(mapped_pfn(child, HREGION + 20 * PG), child_pfn);
  EXPECT_EQ(load(mm, HREGION + 20 * PG), 0x99);
}

// MADV_HUGEPAGE validates like madvise: holes are -ENOMEM, bad ranges -EINVAL.
TEST_F(CollapseCases, MadviseHugepageMarksVmas) {
  ASSERT_EQ(vm_mmap(mm, HREGION, 2 * PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(HREGION));
  EXPECT_EQ(do_madvise(mm, HREGION + 1, PG, MADV_HUGEPAGE_), -EINVAL);
  EXPECT_EQ(do_madvise(mm, HREGION + PMD_SIZE, 2 * PMD_SIZE, MADV_HUGEPAGE_), -ENOMEM);
  mm->mmap_lock.down_read();
  EXPECT_FALSE(vma_lookup(mm, HREGION)->vm_flags & VM_HUGEPAGE);
  EXPECT_TRUE(vma_lookup(mm, HREGION + PMD_SIZE)->vm_flags & VM_HUGEPAGE);
  mm->mmap_lock.up_read();
  // The marked half now takes huge faults.
  ASSERT_EQ(mm_store(mm, HREGION + PMD_SIZE, 3), 0);
  EXPECT_TRUE(lookup(mm, HREGION + PMD_SIZE).leaf);
}

}  // namespace
}  // namespace gupfast::test
