// The machine and its memmap (machine_create's errors: tests/hardening), page_ref (add-unless-zero, freeze),
// compound heads, the buddy allocator (reuse, merging, lazy backing) and poisoning.
#include <atomic>
#include <set>
#include <thread>

#include "foundation_support.h"

using namespace gupfast;
using namespace gupfast::test;

// ---- machine_create / machine_destroy -------------------------------------------------

TEST(Machine, DescribeNamesUnsafeSteps) {
  machine_config c;
  c.frames = 2048;
  c.pte = pte_mode::pae;
  c.unsafe = 1u << TORN_PTE_READ | 1u << NO_PTE_RECHECK;
  ASSERT_EQ(machine_create(c), 0);
  std::string d = machine_describe();
  EXPECT_NE(d.find("strategy=rcu tlb=broadcast pte=pae"), std::string::npos) << d;
  EXPECT_NE(d.find("unsafe=no-pte-recheck,torn-pte-read"), std::string::npos) << d;
  EXPECT_TRUE(is_unsafe(TORN_PTE_READ));
  EXPECT_FALSE(is_unsafe(NO_PMD_RECHECK));
  machine_destroy();
}

TEST(Machine, ParseConfigNames) {
  std::string bad;
  EXPECT_EQ(parse_unsafe_list("torn-pte-read,no-pte-recheck", &bad), (1u << TORN_PTE_READ | 1u << NO_PTE_RECHECK));
  EXPECT_EQ(parse_unsafe_list("", &bad), 0u);
  EXPECT_FALSE(parse_unsafe_list("no-pte-recheck,bogus", &bad).has_value());
  EXPECT_EQ(bad, "bogus");
  for (unsigned i = 0; i < NR_UNSAFE_STEPS; i++)
    EXPECT_EQ(parse_unsafe_list(unsafe_steps[i].name, nullptr), 1u << i) << unsafe_steps[i].name;
  EXPECT_EQ(parse_strategy("seqcount"), table_strategy::seqcount);
  EXPECT_FALSE(parse_strategy("rcux").has_value());
  EXPECT_EQ(parse_pte_mode("pae"), pte_mode::pae);
  EXPECT_EQ(parse_tlb_mode("broadcast"), tlb_mode::broadcast);
  EXPECT_FALSE(parse_tlb_mode("").has_value());
}

// A 16 GiB machine costs only what it touches: memmap and frames are backed lazily.
TEST(Machine, SixteenGiBMachineIsBackedLazily) {
  long before = resident_bytes();
  ASSERT_GT(before, 0);
  machine_config c;
  c.frames = 1ul << 22;  // 16 GiB of 4 KiB frames
  c.poison = true;
  ASSERT_EQ(machine_create(c), 0);
  {
    cpu_scope cpu;
    mm_struct* mm = mm_alloc();
    ASSERT_NE(mm, nullptr);
    long a = vm_mmap(mm, 0, 64 * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_);
    ASSERT_GT(a, 0);
    for (unsigned long i = 0; i < 64; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE, uint8_t(i)), 0);
    for (unsigned long i = 0; i < 64; i++) EXPECT_EQ(load(mm, a + i * PAGE_SIZE), int(i));
    long during = resident_bytes();
    EXPECT_LT(during - before, 64l << 20) << "resident growth " << (during - before) << " bytes";
    mmput(mm);
  }
  EXPECT_EQ(machine_frames_in_use(), 0ul);
  machine_destroy();
}

// ---- page_ref -------------------------------------------------------------------------

class PageRef : public MachineTest {};

TEST_F(PageRef, FreezeMakesTryAddFailAndUnfreezeRestores) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(folio_ref_count(f), 1);
  EXPECT_TRUE(folio_ref_try_add(f, 1));
  EXPECT_EQ(folio_ref_count(f), 2);
  // Freeze succeeds only at the expected count and changes nothing otherwise.
  EXPECT_FALSE(folio_ref_freeze(f, 1));
  EXPECT_EQ(folio_ref_count(f), 2);
  folio_put(f);
  ASSERT_TRUE(folio_ref_freeze(f, 1));
  EXPECT_EQ(folio_ref_count(f), 0);
  // Frozen: add-unless-zero refuses and leaves the count at zero.
  EXPECT_FALSE(folio_ref_try_add(f, 1));
  EXPECT_FALSE(folio_try_get(f));
  EXPECT_FALSE(folio_ref_try_add(f, 512));
  EXPECT_EQ(folio_ref_count(f), 0);
  folio_ref_unfreeze(f, 1);
  EXPECT_EQ(folio_ref_count(f), 1);
  EXPECT_TRUE(folio_try_get(f));
  EXPECT_EQ(folio_ref_count(f), 2);
  folio_put(f);
  folio_put(f);
}

TEST_F(PageRef, FreedFolioRefusesTryAdd) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  unsigned long pfn = folio_pfn(f);
  folio_put(f);
  EXPECT_EQ(folio_ref_count(f), 0);
  EXPECT_FALSE(folio_ref_try_add(f, 1));  // a speculative grab cannot resurrect it
  EXPECT_EQ(folio_ref_count(f), 0);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
  // Reallocated, it has one reference again (the new owner's).
  folio* g = folio_alloc(0, 0);
  ASSERT_EQ(folio_pfn(g), pfn);
  EXPECT_EQ(folio_ref_count(g), 1);
  folio_put(g);
}

TEST_F(PageRef, SubAndTestFreesOnlyAtZero) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  folio_ref_add(f, 3);
  EXPECT_EQ(folio_ref_count(f), 4);
  EXPECT_FALSE(folio_ref_sub_and_test(f, 2));
  EXPECT_EQ(folio_ref_count(f), 2);
  EXPECT_EQ(machine_frames_in_use(), 1ul);
  folio_put_refs(f, 2);  // the last references free it
  EXPECT_EQ(machine_frames_in_use(), 0ul);
}

TEST_F(PageRef, MaybeDmaPinned) {
  folio* small = folio_alloc(0, 0);
  ASSERT_NE(small, nullptr);
  EXPECT_FALSE(folio_maybe_dma_pinned(small));
  folio_ref_add(small, GUP_PIN_COUNTING_BIAS - 2);  // 1023 references: not pinned
  EXPECT_FALSE(folio_maybe_dma_pinned(small));
  folio_ref_add(small, 1);  // 1024: maybe pinned (a false positive is allowed)
  EXPECT_TRUE(folio_maybe_dma_pinned(small));
  folio_put_refs(small, GUP_PIN_COUNTING_BIAS);

  folio* large = folio_alloc(0, 2);
  ASSERT_NE(large, nullptr);
  folio_ref_add(large, GUP_PIN_COUNTING_BIAS);  // large folios count pins apart
  EXPECT_FALSE(folio_maybe_dma_pinned(large));
  large->page._pincount.store(1, sync::relaxed);
  EXPECT_TRUE(folio_maybe_dma_pinned(large));
  large->page._pincount.store(0, sync::relaxed);
  folio_put_refs(large, GUP_PIN_COUNTING_BIAS + 1);
}

// A thread that grabs with add-unless-zero never holds a reference while the folio is
// frozen: a successful freeze excludes every speculative grab until the unfreeze.
TEST_F(PageRef, ConcurrentFreezeExcludesTryAdd) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  std::atomic<bool> frozen{false}, stop{false};
  std::atomic<long> grabs{0}, bad{0};
  std::thread racer([&] {
    while (!stop.load()) {
      if (folio_ref_try_add(f, 1)) {
        if (frozen.load()) bad.fetch_add(1);
        grabs.fetch_add(1);
        // Release (acq_rel): the freezer that sees this drop also sees our check above.
        if (folio_ref_sub_and_test(f, 1)) bad.fetch_add(1);
      }
    }
  });
  while (grabs.load() == 0) std::this_thread::yield();  // the racer is running
  long freezes = 0;
  // Until both sides made progress (no time bound: on a loaded 2-core machine the racer may
  // hold its reference for a whole time slice; a failed freeze just yields and retries).
  while (freezes < 200 || grabs.load() < 200) {
    if (folio_ref_freeze(f, 1)) {
      frozen.store(true);
      EXPECT_EQ(folio_ref_count(f), 0);
      for (int k = 0; k < 200; k++) __builtin_ia32_pause();  // the racer tries meanwhile
      frozen.store(false);
      folio_ref_unfreeze(f, 1);
      freezes++;
    }
    std::this_thread::yield();
  }
  stop = true;
  racer.join();
  EXPECT_EQ(bad.load(), 0) << "a reference was taken on a frozen folio";
  EXPECT_GT(freezes, 0);
  EXPECT_GT(grabs.load(), 0);
  EXPECT_EQ(folio_ref_count(f), 1);
  folio_put(f);
}

// ---- compound pages ---------------------------------------------------------------------

class Compound : public MachineTest {};

TEST_F(Compound, TailsPointToTheHead) {
  for (int order : {1, 3, HPAGE_PMD_ORDER}) {
    folio* f = folio_alloc(0, order);
    ASSERT_NE(f, nullptr) << order;
    page* head = &f->page;
    EXPECT_EQ(folio_order(f), order);
    EXPECT_EQ(folio_nr_pages(f), 1l << order);
    EXPECT_TRUE(folio_test_large(f));
    EXPECT_TRUE(PageHead(head));
    EXPECT_FALSE(PageTail(head));
    EXPECT_EQ(page_folio(head), f);
    for (long i = 1; i < (1l << order); i++) {
      page* tail = folio_page(f, i);
      ASSERT_EQ(tail->compound_head.load(sync::relaxed), reinterpret_cast<unsigned long>(head) | 1);
      ASSERT_TRUE(PageTail(tail));
      ASSERT_FALSE(PageHead(tail));
      ASSERT_EQ(page_folio(tail), f);
      ASSERT_EQ(compound_head(tail), head);
      ASSERT_EQ(page_to_pfn(tail), folio_pfn(f) + i);
      // Refcounts are the head's: a tail's page_ref_count reads the folio's.
      ASSERT_EQ(page_ref_count(tail), 1);
    }
    folio_put(f);
    // Freed: tails are their own pages again, and nothing reaches the old head.
    EXPECT_FALSE(folio_test_large(f));
    for (long i = 1; i < (1l << order); i++) {
      page* tail = pfn_to_page(page_to_pfn(head) + i);
      ASSERT_FALSE(PageTail(tail));
      ASSERT_EQ(tail->compound_head.load(sync::relaxed), 0ul);
      ASSERT_EQ(page_folio(tail), reinterpret_cast<folio*>(tail));
    }
  }
}

TEST_F(Compound, SmallFolioIsItsOwnHead) {
  folio* f = folio_alloc(0, 0);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(folio_test_large(f));
  EXPECT_EQ(folio_order(f), 0);
  EXPECT_EQ(folio_nr_pages(f), 1);
  EXPECT_EQ(page_folio(&f->page), f);
  EXPECT_FALSE(PageTail(&f->page));
  EXPECT_EQ(folio_mapcount(f), 0);  // _mapcount starts at -1
  folio_put(f);
}

TEST_F(Compound, FreedLargeFolioReallocatedAsSmallPages) {
  // Free + reallocation of a tail as an unrelated small folio changes page_folio() of that
  // page: what try_get_folio's recheck relies on.
  folio* f = folio_alloc(0, 2);
  ASSERT_NE(f, nullptr);
  page* tail = folio_page(f, 3);
  ASSERT_EQ(page_folio(tail), f);
  folio_put(f);
  std::vector<folio*> smalls;
  bool found = false;
  for (int i = 0; i < 64 && !found; i++) {
    folio* s = folio_alloc(0, 0);
    ASSERT_NE(s, nullptr);
    smalls.push_back(s);
    EXPECT_FALSE(folio_test_large(s));
    found = &s->page == tail;
  }
  EXPECT_TRUE(found) << "the freed block was not reused";
  EXPECT_EQ(page_folio(tail), reinterpret_cast<folio*>(tail));
  for (folio* s : smalls) folio_put(s);
}

TEST_F(Compound, UncompoundMakesSmallFolios) {
  folio* f = folio_alloc(0, 2);
  ASSERT_NE(f, nullptr);
  f->page.mapping.store(0x1000 | PAGE_MAPPING_ANON, sync::relaxed);
  f->page.index.store(40, sync::relaxed);
  ASSERT_TRUE(folio_ref_freeze(f, 1));
  folio_uncompound(f, 1);
  folio_ref_unfreeze(f, 1);
  for (long i = 0; i < 4; i++) {
    page* p = &f->page + i;
    folio* pf = page_folio(p);
    EXPECT_EQ(&pf->page, p);
    EXPECT_FALSE(folio_test_large(pf));
    EXPECT_EQ(folio_ref_count(pf), 1);
    EXPECT_EQ(p->index.load(sync::relaxed), 40ul + i);
    EXPECT_TRUE(folio_test_anon(pf));
  }
  for (long i = 0; i < 4; i++) folio_put(reinterpret_cast<folio*>(&f->page + i));
}

TEST_F(Compound, BadOrdersAreRefused) {
  EXPECT_EQ(folio_alloc(0, -1), nullptr);
  EXPECT_EQ(folio_alloc(0, MAX_FOLIO_ORDER + 1), nullptr);
  EXPECT_EQ(alloc_pages(0, MAX_PAGE_ORDER + 1), nullptr);
  EXPECT_EQ(alloc_pages(0, -1), nullptr);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
}

// ---- the buddy allocator -----------------------------------------------------------------

class Buddy : public MachineTest {
 protected:
  machine_config config() override {
    machine_config c;
    c.frames = 2048;  // two max-order blocks; the zero page sits in the top one
    c.poison = true;
    return c;
  }
};

TEST_F(Buddy, FreedFrameIsReusedFirst) {
  page* a = alloc_pages(0, 0);
  page* b = alloc_pages(0, 0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  unsigned long pa = page_to_pfn(a);
  __free_pages(a, 0);
  page* c = alloc_pages(0, 0);
  EXPECT_EQ(page_to_pfn(c), pa);
  // Order 2: the same block comes back.
  page* d = alloc_pages(0, 2);
  ASSERT_NE(d, nullptr);
  unsigned long pd = page_to_pfn(d);
  __free_pages(d, 2);
  page* e = alloc_pages(0, 2);
  EXPECT_EQ(page_to_pfn(e), pd);
  __free_pages(b, 0);
  __free_pages(c, 0);
  __free_pages(e, 2);
}

TEST_F(Buddy, AllocatesTopDownAndNeverTheZeroPage) {
  page* a = alloc_pages(0, 0);
  ASSERT_NE(a, nullptr);
  EXPECT_GE(page_to_pfn(a), 1024ul) << "the top block is used first";
  EXPECT_NE(page_to_pfn(a), zero_pfn);
  EXPECT_TRUE(folio_test_reserved(page_folio(pfn_to_page(zero_pfn))));
  for (unsigned off = 0; off < PAGE_SIZE; off += 511) EXPECT_EQ(frame_read_byte(zero_pfn, off), 0);
  __free_pages(a, 0);
}

// Fill the machine with single frames, free them all, and the blocks merge back: a
// max-order block is available again, which only merging can provide.
TEST_F(Buddy, FreedSingleFramesMergeIntoMaxOrderBlocks) {
  std::vector<page*> pages;
  std::set<unsigned long> pfns;
  while (page* p = alloc_pages(0, 0)) {
    pages.push_back(p);
    pfns.insert(page_to_pfn(p));
  }
  EXPECT_EQ(pages.size(), 2047ul);  // every frame but the zero page
  EXPECT_EQ(pfns.size(), 2047ul);
  EXPECT_EQ(pfns.count(zero_pfn), 0ul);
  EXPECT_EQ(physmem_get_stats().nr_free, 0ul);
  EXPECT_EQ(alloc_pages(0, 0), nullptr);  // full
  EXPECT_EQ(machine_frames_in_use(), 2047ul);
  // Free in an order that makes every merge happen late.
  for (size_t i = 0; i < pages.size(); i += 2) __free_pages(pages[i], 0);
  for (size_t i = 1; i < pages.size(); i += 2) __free_pages(pages[i], 0);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
  page* big = alloc_pages(0, MAX_PAGE_ORDER);
  ASSERT_NE(big, nullptr) << "1024 free single frames did not merge";
  EXPECT_EQ(page_to_pfn(big), 0ul);
  // The other block holds the zero page, so it merges up to order 9 halves at most.
  EXPECT_EQ(alloc_pages(0, MAX_PAGE_ORDER), nullptr);
  page* half = alloc_pages(0, MAX_PAGE_ORDER - 1);
  ASSERT_NE(half, nullptr);
  EXPECT_EQ(page_to_pfn(half), 1536ul);
  __free_pages(big, MAX_PAGE_ORDER);
  __free_pages(half, MAX_PAGE_ORDER - 1);
}

TEST_F(Buddy, BuddiesMergeAndSplitAgain) {
  page* pair = alloc_pages(0, 1);
  ASSERT_NE(pair, nullptr);
  unsigned long pfn = page_to_pfn(pair);
  ASSERT_EQ(pfn % 2, 0ul);
  // Split it (split_page) and free the halves one at a time.
  __free_pages(pair + 1, 0);
  __free_pages(pair, 0);
  // Merged: the pair is one free block of order >= 1, whose head covers pfn.
  bool merged = false;
  for (int o = 1; o <= MAX_PAGE_ORDER && !merged; o++) {
    page* h = pfn_to_page(pfn & ~((1ul << o) - 1));
    merged = PageBuddy(h) && h->order >= o;
  }
  EXPECT_TRUE(merged);
  EXPECT_FALSE(PageBuddy(pfn_to_page(pfn + 1)));
  EXPECT_EQ(machine_frames_in_use(), 0ul);
}

TEST_F(Buddy, OutOfMemoryReturnsNullAndRecovers) {
  std::vector<page*> blocks;
  while (page* p = alloc_pages(0, 3)) blocks.push_back(p);
  EXPECT_GT(blocks.size(), 200ul);
  // What is left is smaller than 8 frames; folio_alloc fails the same way.
  EXPECT_EQ(folio_alloc(0, 3), nullptr);
  unsigned long freed = page_to_pfn(blocks.back());
  __free_pages(blocks.back(), 3);
  blocks.pop_back();
  folio* f = folio_alloc(0, 3);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(folio_pfn(f), freed);
  folio_put(f);
  for (page* p : blocks) __free_pages(p, 3);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
  // Everything merged back: a max-order block is available again.
  page* big = alloc_pages(0, MAX_PAGE_ORDER);
  ASSERT_NE(big, nullptr);
  __free_pages(big, MAX_PAGE_ORDER);
}

TEST_F(Buddy, FreedFramesArePoisonedAndZeroedOnRequest) {
  page* p = alloc_pages(0, 1);
  ASSERT_NE(p, nullptr);
  unsigned long pfn = page_to_pfn(p);
  frame_fill(pfn, 0x11);
  frame_fill(pfn + 1, 0x22);
  __free_pages(p, 1);
  for (unsigned off = 0; off < PAGE_SIZE; off += 97) {
    ASSERT_EQ(frame_read_byte(pfn, off), PAGE_POISON);
    ASSERT_EQ(frame_read_byte(pfn + 1, off), PAGE_POISON);
  }
  // Reused without __GFP_ZERO: the poison is still there; with it, zeroes.
  page* q = alloc_pages(0, 1);
  ASSERT_EQ(page_to_pfn(q), pfn);
  EXPECT_EQ(frame_read_byte(pfn, 5), PAGE_POISON);
  EXPECT_EQ(frame_read_byte(pfn + 1, 4000), PAGE_POISON);
  __free_pages(q, 1);
  page* z = alloc_pages(__GFP_ZERO, 1);
  ASSERT_EQ(page_to_pfn(z), pfn);
  for (unsigned off = 0; off < 2 * PAGE_SIZE; off += 97) ASSERT_EQ(frame_read_byte(pfn, off), 0);
  __free_pages(z, 1);
}

TEST(BuddyNoPoison, FreedFramesKeepTheirBytes) {
  machine_config c;
  c.frames = 2048;
  c.poison = false;
  ASSERT_EQ(machine_create(c), 0);
  page* p = alloc_pages(0, 0);
  ASSERT_NE(p, nullptr);
  frame_fill(page_to_pfn(p), 0x33);
  __free_pages(p, 0);
  EXPECT_EQ(frame_read_byte(page_to_pfn(p), 100), 0x33);
  machine_destroy();
}

TEST_F(Buddy, FreedPageTablesArePoisoned) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 7), 0);
  mm->mmap_lock.down_read();
  pmd_t* pmdp = mm_find_pmd(mm, a);
  unsigned long pte_table = pmdp ? pmd_pfn(pmdp_get(pmdp)) : 0;
  mm->mmap_lock.up_read();
  ASSERT_NE(pmdp, nullptr);
  EXPECT_TRUE(PageTable(pfn_to_page(pte_table)));
  ASSERT_EQ(vm_munmap(mm, a, PAGE_SIZE), 0);
  EXPECT_EQ(machine_frames_in_use(), 1ul);  // only the PGD is left; waits for RCU frees
  EXPECT_FALSE(PageTable(pfn_to_page(pte_table)));
  for (unsigned off = 0; off < PAGE_SIZE; off += 64) ASSERT_EQ(frame_read_byte(pte_table, off), PAGE_POISON);
}
