// Address spaces: faults (zero page, anonymous, COW), fork, MADV_DONTNEED, mprotect,
// munmap, shared anonymous memory (kernel-style errors for bad input: tests/hardening).
#include <thread>

#include "foundation_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {
constexpr int RW = PROT_READ_ | PROT_WRITE_;
}

class Mm : public MachineTest {};

// ---- faults --------------------------------------------------------------------------------

TEST_F(Mm, ReadFaultMapsTheZeroPage) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 4 * PAGE_SIZE);
  unsigned long before = machine_frames_in_use();
  EXPECT_EQ(load(mm, a + 123), 0);
  pte_t pte = lookup_pte(mm, a);
  ASSERT_TRUE(pte_present(pte));
  EXPECT_EQ(pte_pfn(pte), zero_pfn);
  EXPECT_TRUE(pte_special(pte));
  EXPECT_FALSE(pte_write(pte));
  EXPECT_EQ(counter_read(CNT_fault_zero_page), 1u);
  EXPECT_EQ(counter_read(CNT_fault_anon), 0u);
  // Only page tables were allocated (PUD, PMD, PTE tables), no data frame.
  EXPECT_EQ(machine_frames_in_use(), before + 3);
  // A second read of another page maps the zero page too.
  EXPECT_EQ(load(mm, a + PAGE_SIZE), 0);
  EXPECT_EQ(mapped_pfn(mm, a + PAGE_SIZE), long(zero_pfn));
  EXPECT_EQ(machine_frames_in_use(), before + 3);
  // Writing replaces the zero page with a private zeroed page.
  ASSERT_EQ(mm_store(mm, a + 5, 0x42), 0);
  pte = lookup_pte(mm, a);
  EXPECT_NE(pte_pfn(pte), zero_pfn);
  EXPECT_TRUE(pte_write(pte));
  EXPECT_TRUE(pte_dirty(pte));
  EXPECT_FALSE(pte_special(pte));
  EXPECT_EQ(load(mm, a + 5), 0x42);
  EXPECT_EQ(load(mm, a + 6), 0);
  EXPECT_EQ(machine_frames_in_use(), before + 4);
  // The zero page itself is untouched.
  EXPECT_EQ(frame_read_byte(zero_pfn, 5), 0);
}

TEST_F(Mm, WriteFaultMapsAnExclusiveAnonPage) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 2 * PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a + PAGE_SIZE + 7, 9), 0);
  EXPECT_EQ(counter_read(CNT_fault_anon), 1u);
  pte_t pte = lookup_pte(mm, a + PAGE_SIZE);
  ASSERT_TRUE(pte_present(pte));
  page* p = pfn_to_page(pte_pfn(pte));
  folio* f = page_folio(p);
  EXPECT_TRUE(PageAnonExclusive(p));
  EXPECT_TRUE(folio_test_anon(f));
  EXPECT_EQ(folio_ref_count(f), 1);
  EXPECT_EQ(folio_mapcount(f), 1);
  EXPECT_EQ(frame_read_byte(pte_pfn(pte), 7), 9);
  EXPECT_EQ(mm->rss_anon.load(sync::relaxed), 1);
  // The neighbouring page is still unmapped.
  EXPECT_EQ(mapped_pfn(mm, a), -1);
}

TEST_F(Mm, StoresAndLoadsAreByteAddressed) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 3 * PAGE_SIZE);
  for (unsigned long off = 0; off < 3 * PAGE_SIZE; off += 251) ASSERT_EQ(mm_store(mm, a + off, uint8_t(off * 7)), 0);
  for (unsigned long off = 0; off < 3 * PAGE_SIZE; off += 251) ASSERT_EQ(load(mm, a + off), int(uint8_t(off * 7)));
  EXPECT_EQ(load(mm, a + 1), 0);
}

// ---- permissions ----------------------------------------------------------------------------

TEST_F(Mm, StoreToReadOnlyMappingIsEfault) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE, PROT_READ_);
  EXPECT_EQ(mm_store(mm, a, 1), -EFAULT);
  EXPECT_EQ(load(mm, a), 0);
  EXPECT_EQ(mm_store(mm, a, 1), -EFAULT);  // with the read translation cached, too
  EXPECT_EQ(load(mm, a), 0);
  EXPECT_EQ(mapped_pfn(mm, a), long(zero_pfn));
  EXPECT_EQ(counter_read(CNT_cow_copies), 0u);
}

TEST_F(Mm, ProtNoneRefusesEveryAccess) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE, PROT_NONE_);
  EXPECT_EQ(load(mm, a), -EFAULT);
  EXPECT_EQ(mm_store(mm, a, 1), -EFAULT);
  EXPECT_EQ(mapped_pfn(mm, a), -1);
}

TEST_F(Mm, AccessOutsideAnyVmaIsEfault) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  EXPECT_EQ(load(mm, a + PAGE_SIZE), -EFAULT);
  EXPECT_EQ(load(mm, a - 1), -EFAULT);
  EXPECT_EQ(mm_store(mm, 0, 1), -EFAULT);
  EXPECT_EQ(load(mm, TASK_SIZE), -EFAULT);
  EXPECT_EQ(mm_store(mm, TASK_SIZE + PAGE_SIZE, 1), -EFAULT);
  EXPECT_EQ(mm_store(mm, ~0ul, 1), -EFAULT);
  EXPECT_EQ(load(mm, a), 0);
}

TEST_F(Mm, AccessFromAThreadThatIsNotACpuIsRefused) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  int r = 0;
  std::thread t([&] { r = mm_store(mm, a, 1); });
  t.join();
  EXPECT_EQ(r, -EINVAL);
  EXPECT_EQ(mapped_pfn(mm, a), -1);
}

TEST_F(Mm, MprotectReadOnlyThenBack) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 2 * PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 'a'), 0);  // this CPU now caches a writable translation
  long pfn = mapped_pfn(mm, a);
  ASSERT_EQ(do_mprotect(mm, a, 2 * PAGE_SIZE, PROT_READ_), 0);
  EXPECT_FALSE(pte_write(lookup_pte(mm, a)));
  EXPECT_EQ(mm_store(mm, a, 'b'), -EFAULT) << "a stale writable TLB entry was used";
  EXPECT_EQ(mm_store(mm, a + PAGE_SIZE, 'b'), -EFAULT);
  EXPECT_EQ(load(mm, a), 'a');
  ASSERT_EQ(do_mprotect(mm, a, 2 * PAGE_SIZE, RW), 0);
  ASSERT_EQ(mm_store(mm, a, 'c'), 0);
  EXPECT_EQ(load(mm, a), 'c');
  EXPECT_EQ(mapped_pfn(mm, a), pfn) << "an exclusive page is written in place, not copied";
  EXPECT_EQ(counter_read(CNT_cow_copies), 0u);
}

TEST_F(Mm, MprotectNoneKeepsTheData) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 'x'), 0);
  ASSERT_EQ(do_mprotect(mm, a, PAGE_SIZE, PROT_NONE_), 0);
  EXPECT_EQ(load(mm, a), -EFAULT);
  EXPECT_TRUE(pte_protnone(lookup_pte(mm, a)));
  ASSERT_EQ(do_mprotect(mm, a, PAGE_SIZE, PROT_READ_), 0);
  EXPECT_EQ(load(mm, a), 'x');
  EXPECT_EQ(mm_store(mm, a, 'y'), -EFAULT);
}

TEST_F(Mm, MprotectPartOfAVmaSplitsIt) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 3 * PAGE_SIZE);
  for (int i = 0; i < 3; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE, 'a' + i), 0);
  ASSERT_EQ(do_mprotect(mm, a + PAGE_SIZE, PAGE_SIZE, PROT_READ_), 0);
  vma_layout l = layout(mm);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(std::get<0>(l[1]), a + PAGE_SIZE);
  EXPECT_EQ(std::get<1>(l[1]), a + 2 * PAGE_SIZE);
  EXPECT_EQ(mm_store(mm, a, 'A'), 0);
  EXPECT_EQ(mm_store(mm, a + PAGE_SIZE, 'B'), -EFAULT);
  EXPECT_EQ(mm_store(mm, a + 2 * PAGE_SIZE, 'C'), 0);
  EXPECT_EQ(load(mm, a + PAGE_SIZE), 'b');
}

// A page shared with a fork child stays copy-on-write through mprotect(RW): making it
// writable in place would let the parent write into the child's page.
TEST_F(Mm, MprotectDoesNotMakeASharedCowPageWritable) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 'p'), 0);
  mm_struct* child = fork_mm(mm);
  ASSERT_EQ(do_mprotect(mm, a, PAGE_SIZE, PROT_READ_), 0);
  ASSERT_EQ(do_mprotect(mm, a, PAGE_SIZE, RW), 0);
  EXPECT_FALSE(pte_write(lookup_pte(mm, a)));
  ASSERT_EQ(mm_store(mm, a, 'q'), 0);
  EXPECT_EQ(load(child, a), 'p');
  EXPECT_EQ(load(mm, a), 'q');
  EXPECT_NE(mapped_pfn(mm, a), mapped_pfn(child, a));
}

// A store sets the PTE's dirty bit even when a load cached the translation first (x86
// re-walks to set D). Shared pages are mapped clean, so only this tells they were written.
TEST_F(Mm, StoreThroughCachedCleanTranslationSetsDirty) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE, RW, MAP_SHARED_);
  EXPECT_EQ(load(mm, a), 0);  // maps the shmem page clean and caches the translation
  pte_t pte = lookup_pte(mm, a);
  ASSERT_TRUE(pte_present(pte));
  EXPECT_FALSE(pte_dirty(pte));
  ASSERT_EQ(mm_store(mm, a, 1), 0);
  EXPECT_TRUE(pte_dirty(lookup_pte(mm, a)));
  // Zapping transfers the dirty bit to the folio.
  folio* f = page_folio(pfn_to_page(pte_pfn(pte)));
  ASSERT_EQ(do_madvise(mm, a, PAGE_SIZE, MADV_DONTNEED_), 0);
  EXPECT_TRUE(folio_test_dirty(f));
}

// ---- fork --------------------------------------------------------------------------------

TEST_F(Mm, ForkSharesPagesUntilWrittenAndIsolatesWritesBothWays) {
  mm_struct* parent = new_mm();
  unsigned long a = map(parent, 4 * PAGE_SIZE);
  for (int i = 0; i < 4; i++) ASSERT_EQ(mm_store(parent, a + i * PAGE_SIZE, 'P'), 0);
  long pfn[4];
  for (int i = 0; i < 4; i++) pfn[i] = mapped_pfn(parent, a + i * PAGE_SIZE);
  mm_struct* child = fork_mm(parent);
  EXPECT_EQ(counter_read(CNT_forks), 1u);
  // Shared: same frames, write-protected on both sides, not exclusive.
  for (int i = 0; i < 4; i++) {
    unsigned long x = a + i * PAGE_SIZE;
    ASSERT_EQ(mapped_pfn(child, x), pfn[i]);
    EXPECT_FALSE(pte_write(lookup_pte(parent, x)));
    EXPECT_FALSE(pte_write(lookup_pte(child, x)));
    folio* f = page_folio(pfn_to_page(pfn[i]));
    EXPECT_EQ(folio_ref_count(f), 2);
    EXPECT_EQ(folio_mapcount(f), 2);
    EXPECT_FALSE(PageAnonExclusive(&f->page));
    EXPECT_EQ(load(child, x), 'P');
  }
  EXPECT_EQ(counter_read(CNT_cow_copies), 0u);

  // Page 0: the child writes first (copy), then the parent (reuse: it is alone now).
  ASSERT_EQ(mm_store(child, a, 'C'), 0);
  EXPECT_EQ(counter_read(CNT_cow_copies), 1u);
  EXPECT_NE(mapped_pfn(child, a), pfn[0]);
  EXPECT_EQ(load(parent, a), 'P');
  ASSERT_EQ(mm_store(parent, a, 'Q'), 0);
  EXPECT_EQ(counter_read(CNT_cow_reuses), 1u);
  EXPECT_EQ(mapped_pfn(parent, a), pfn[0]);
  EXPECT_EQ(load(child, a), 'C');
  EXPECT_EQ(load(parent, a), 'Q');

  // Page 1: the parent writes first. Its cached writable translation from before the
  // fork must not be used (dup_mm flushed it).
  ASSERT_EQ(mm_store(parent, a + PAGE_SIZE, 'R'), 0);
  EXPECT_EQ(counter_read(CNT_cow_copies), 2u);
  EXPECT_NE(mapped_pfn(parent, a + PAGE_SIZE), pfn[1]);
  EXPECT_EQ(load(child, a + PAGE_SIZE), 'P');
  ASSERT_EQ(mm_store(child, a + PAGE_SIZE, 'S'), 0);
  EXPECT_EQ(counter_read(CNT_cow_reuses), 2u);
  EXPECT_EQ(mapped_pfn(child, a + PAGE_SIZE), pfn[1]);
  EXPECT_EQ(load(parent, a + PAGE_SIZE), 'R');

  // Pages 2 and 3 were never written after the fork: still one frame each.
  EXPECT_EQ(mapped_pfn(child, a + 2 * PAGE_SIZE), pfn[2]);
  EXPECT_EQ(mapped_pfn(parent, a + 3 * PAGE_SIZE), pfn[3]);

  // The child exits: the shared frames are the parent's alone again.
  put_mm(child);
  folio* f2 = page_folio(pfn_to_page(pfn[2]));
  EXPECT_EQ(folio_ref_count(f2), 1);
  EXPECT_EQ(folio_mapcount(f2), 1);
  ASSERT_EQ(mm_store(parent, a + 2 * PAGE_SIZE, 'T'), 0);
  EXPECT_EQ(mapped_pfn(parent, a + 2 * PAGE_SIZE), pfn[2]);
  EXPECT_EQ(counter_read(CNT_cow_copies), 2u);
}

TEST_F(Mm, ForkOfZeroPageAndUntouchedPages) {
  mm_struct* parent = new_mm();
  unsigned long a = map(parent, 2 * PAGE_SIZE);
  EXPECT_EQ(load(parent, a), 0);  // zero page
  mm_struct* child = fork_mm(parent);
  EXPECT_EQ(mapped_pfn(child, a), long(zero_pfn));
  EXPECT_EQ(mapped_pfn(child, a + PAGE_SIZE), -1);
  ASSERT_EQ(mm_store(child, a, 'c'), 0);
  ASSERT_EQ(mm_store(child, a + PAGE_SIZE, 'd'), 0);
  EXPECT_EQ(load(parent, a), 0);
  EXPECT_EQ(load(parent, a + PAGE_SIZE), 0);
  EXPECT_EQ(load(child, a), 'c');
  EXPECT_EQ(load(child, a + PAGE_SIZE), 'd');
}

TEST_F(Mm, ForkChainsKeepEveryGenerationIsolated) {
  mm_struct* gen0 = new_mm();
  unsigned long a = map(gen0, PAGE_SIZE);
  ASSERT_EQ(mm_store(gen0, a, '0'), 0);
  mm_struct* gen1 = fork_mm(gen0);
  mm_struct* gen2 = fork_mm(gen1);
  ASSERT_EQ(mm_store(gen1, a, '1'), 0);
  EXPECT_EQ(load(gen0, a), '0');
  EXPECT_EQ(load(gen2, a), '0');
  ASSERT_EQ(mm_store(gen2, a, '2'), 0);
  ASSERT_EQ(mm_store(gen0, a, 'z'), 0);
  EXPECT_EQ(load(gen0, a), 'z');
  EXPECT_EQ(load(gen1, a), '1');
  EXPECT_EQ(load(gen2, a), '2');
}

TEST_F(Mm, SharedAnonymousMemoryIsSharedAcrossFork) {
  mm_struct* parent = new_mm();
  unsigned long a = map(parent, 4 * PAGE_SIZE, RW, MAP_SHARED_);
  ASSERT_EQ(mm_store(parent, a, 'A'), 0);
  mm_struct* child = fork_mm(parent);
  EXPECT_EQ(load(child, a), 'A');
  EXPECT_EQ(mapped_pfn(child, a), mapped_pfn(parent, a));
  EXPECT_TRUE(pte_write(lookup_pte(parent, a))) << "shared mappings are not write-protected by fork";
  ASSERT_EQ(mm_store(child, a, 'B'), 0);
  EXPECT_EQ(load(parent, a), 'B');
  ASSERT_EQ(mm_store(parent, a, 'C'), 0);
  EXPECT_EQ(load(child, a), 'C');
  // A page first touched after the fork is shared too (one page cache).
  ASSERT_EQ(mm_store(child, a + 3 * PAGE_SIZE, 'D'), 0);
  EXPECT_EQ(load(parent, a + 3 * PAGE_SIZE), 'D');
  EXPECT_EQ(mapped_pfn(child, a + 3 * PAGE_SIZE), mapped_pfn(parent, a + 3 * PAGE_SIZE));
  EXPECT_EQ(counter_read(CNT_cow_copies), 0u);
  // The parent exits; the child still sees the data.
  put_mm(parent);
  EXPECT_EQ(load(child, a), 'C');
  EXPECT_EQ(load(child, a + 3 * PAGE_SIZE), 'D');
}

TEST_F(Mm, SharedMappingSplitKeepsOffsets) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 4 * PAGE_SIZE, RW, MAP_SHARED_);
  for (int i = 0; i < 4; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE, 'a' + i), 0);
  ASSERT_EQ(do_mprotect(mm, a + PAGE_SIZE, PAGE_SIZE, PROT_READ_), 0);
  ASSERT_EQ(do_madvise(mm, a, 4 * PAGE_SIZE, MADV_DONTNEED_), 0);
  for (int i = 0; i < 4; i++) EXPECT_EQ(load(mm, a + i * PAGE_SIZE), 'a' + i) << i;
}

// ---- MADV_DONTNEED ---------------------------------------------------------------------------

TEST_F(Mm, DontneedThenReadGivesZeroes) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 4 * PAGE_SIZE);
  for (int i = 0; i < 4; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE + 1, 'a' + i), 0);
  unsigned long before = machine_frames_in_use();
  ASSERT_EQ(do_madvise(mm, a + PAGE_SIZE, 2 * PAGE_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(machine_frames_in_use(), before - 2);
  EXPECT_EQ(mapped_pfn(mm, a + PAGE_SIZE), -1);
  EXPECT_EQ(load(mm, a + 1), 'a');
  EXPECT_EQ(load(mm, a + PAGE_SIZE + 1), 0);
  EXPECT_EQ(load(mm, a + 2 * PAGE_SIZE + 1), 0);
  EXPECT_EQ(load(mm, a + 3 * PAGE_SIZE + 1), 'd');
  EXPECT_EQ(mapped_pfn(mm, a + PAGE_SIZE), long(zero_pfn));
  ASSERT_EQ(mm_store(mm, a + PAGE_SIZE + 1, 'x'), 0);
  EXPECT_EQ(load(mm, a + PAGE_SIZE + 1), 'x');
  EXPECT_EQ(load(mm, a + PAGE_SIZE + 2), 0);
}

TEST_F(Mm, DontneedInTheChildLeavesTheParentAlone) {
  mm_struct* parent = new_mm();
  unsigned long a = map(parent, PAGE_SIZE);
  ASSERT_EQ(mm_store(parent, a, 'p'), 0);
  mm_struct* child = fork_mm(parent);
  ASSERT_EQ(do_madvise(child, a, PAGE_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(load(child, a), 0);
  EXPECT_EQ(load(parent, a), 'p');
  folio* f = page_folio(pfn_to_page(mapped_pfn(parent, a)));
  EXPECT_EQ(folio_ref_count(f), 1);
  EXPECT_EQ(folio_mapcount(f), 1);
}

TEST_F(Mm, DontneedOnSharedMemoryKeepsTheData) {
  // As on Linux: shared anonymous memory is shmem; DONTNEED drops the mapping, not the page.
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE, RW, MAP_SHARED_);
  ASSERT_EQ(mm_store(mm, a, 's'), 0);
  long pfn = mapped_pfn(mm, a);
  ASSERT_EQ(do_madvise(mm, a, PAGE_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(mapped_pfn(mm, a), -1);
  EXPECT_EQ(load(mm, a), 's');
  EXPECT_EQ(mapped_pfn(mm, a), pfn);
}

// ---- munmap ------------------------------------------------------------------------------

TEST_F(Mm, MunmapMiddleSplitsAndFreesTheFrames) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 3 * PAGE_SIZE);
  for (int i = 0; i < 3; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE, 'a' + i), 0);
  unsigned long before = machine_frames_in_use();
  ASSERT_EQ(vm_munmap(mm, a + PAGE_SIZE, PAGE_SIZE), 0);
  EXPECT_EQ(machine_frames_in_use(), before - 1);
  vma_layout l = layout(mm);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(std::get<1>(l[0]), a + PAGE_SIZE);
  EXPECT_EQ(std::get<0>(l[1]), a + 2 * PAGE_SIZE);
  EXPECT_EQ(load(mm, a + PAGE_SIZE), -EFAULT);
  EXPECT_EQ(load(mm, a), 'a');
  EXPECT_EQ(load(mm, a + 2 * PAGE_SIZE), 'c');
  // Mapping it again gives fresh zeroes.
  ASSERT_EQ(vm_mmap(mm, a + PAGE_SIZE, PAGE_SIZE, RW, MAP_PRIVATE_), long(a + PAGE_SIZE));
  EXPECT_EQ(load(mm, a + PAGE_SIZE), 0);
}

TEST_F(Mm, MunmapOfEverythingFreesThePageTables) {
  mm_struct* mm = new_mm();
  EXPECT_EQ(machine_frames_in_use(), 1ul);  // the PGD
  // Two regions in different PUD ranges, one straddling a PMD boundary.
  unsigned long a = map(mm, 4 * PAGE_SIZE, RW, MAP_PRIVATE_, 0x40000000ul - 2 * PAGE_SIZE);
  unsigned long b = map(mm, PAGE_SIZE, RW, MAP_PRIVATE_, 0x7f0000000000ul);
  for (int i = 0; i < 4; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE, 1), 0);
  ASSERT_EQ(mm_store(mm, b, 1), 0);
  EXPECT_GT(mm->nr_ptes.load(sync::relaxed), 1);
  ASSERT_EQ(vm_munmap(mm, a, 4 * PAGE_SIZE), 0);
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), 1);
  ASSERT_EQ(vm_munmap(mm, b, PAGE_SIZE), 0);
  EXPECT_EQ(mm->nr_ptes.load(sync::relaxed), 0);
  EXPECT_EQ(mm->nr_pmds.load(sync::relaxed), 0);
  EXPECT_EQ(machine_frames_in_use(), 1ul);
  for (int i = 0; i < PTRS_PER_PGD; i++) ASSERT_TRUE(pgd_none(pgdp_get(mm->pgd + i)));
  EXPECT_TRUE(mm->vmas.empty());
}

TEST_F(Mm, MunmapAcrossSeveralVmasAndHoles) {
  mm_struct* mm = new_mm();
  unsigned long base = 0x10000000ul;
  unsigned long a = map(mm, PAGE_SIZE, RW, MAP_PRIVATE_, base + PAGE_SIZE);
  unsigned long b = map(mm, 2 * PAGE_SIZE, RW, MAP_SHARED_, base + 3 * PAGE_SIZE);
  unsigned long c = map(mm, PAGE_SIZE, RW, MAP_PRIVATE_, base + 6 * PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 1), 0);
  ASSERT_EQ(mm_store(mm, b + PAGE_SIZE, 2), 0);
  ASSERT_EQ(mm_store(mm, c, 3), 0);
  ASSERT_EQ(vm_munmap(mm, base, 6 * PAGE_SIZE), 0);
  EXPECT_EQ(load(mm, a), -EFAULT);
  EXPECT_EQ(load(mm, b + PAGE_SIZE), -EFAULT);
  EXPECT_EQ(load(mm, c), 3);
  EXPECT_EQ(layout(mm).size(), 1u);
}
