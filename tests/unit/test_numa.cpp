// NUMA nodes (memmap/memmap.h): the two-node layout with node 1 from 4 GiB up, the hole
// between the nodes, the zonelist fallback, allocation on a given node, migration to the
// other node, and the page copies into frames nobody can reach yet.
#include <cstring>

#include "foundation_support.h"
#include "mm/mempolicy.h"
#include "mm/migrate.h"

using namespace gupfast;
using namespace gupfast::test;

TEST(NumaLayout, HasAHoleUpToFourGiB) {
  ASSERT_EQ(physmem_init(2048, false, 2), 0);
  EXPECT_EQ(nr_online_nodes, 2);
  // Node 0 holds three quarters, node 1 a quarter, starting at 4 GiB.
  EXPECT_EQ(NODE_DATA(0)->node_start_pfn, 0ul);
  EXPECT_EQ(NODE_DATA(0)->node_present_pages, 1536ul);
  EXPECT_EQ(NODE_DATA(1)->node_start_pfn, 1ul << 20);
  EXPECT_EQ(NODE_DATA(1)->node_present_pages, 512ul);
  EXPECT_EQ(max_pfn, (1ul << 20) + 512);
  EXPECT_EQ(physmem_get_stats().nr_frames, 2048ul);
  EXPECT_EQ(pfn_to_nid(0), 0);
  EXPECT_EQ(pfn_to_nid(1535), 0);
  EXPECT_EQ(pfn_to_nid(1536), -1);  // the hole: no RAM, pfn_valid says so
  EXPECT_FALSE(pfn_valid((1ul << 20) - 1));
  EXPECT_EQ(pfn_to_nid(1ul << 20), 1);
  EXPECT_TRUE(pfn_valid((1ul << 20) + 511));
  EXPECT_FALSE(pfn_valid((1ul << 20) + 512));
  physmem_exit();
  // Bad node counts.
  EXPECT_EQ(physmem_init(2048, false, 0), -EINVAL);
  EXPECT_EQ(physmem_init(2048, false, MAX_NUMNODES + 1), -EINVAL);
  EXPECT_FALSE(physmem_active());
  // A large machine: node 1 starts right after node 0 when node 0 reaches past 4 GiB.
  ASSERT_EQ(physmem_init(1ul << 21, false, 2), 0);
  EXPECT_EQ(NODE_DATA(1)->node_start_pfn, 3ul << 19);
  EXPECT_EQ(max_pfn, 1ul << 21);
  physmem_exit();
}

class Numa : public MachineTest {
 protected:
  machine_config config() override {
    machine_config c;
    c.frames = 2048;
    c.nodes = 2;
    c.poison = true;
    return c;
  }
};

TEST_F(Numa, AllocationsPreferNodeZeroThenFallBack) {
  EXPECT_NE(machine_describe().find("nodes=2"), std::string::npos) << machine_describe();
  std::vector<page*> got;
  // Node 0 first (the zero page took one of its frames), then node 1, then nothing.
  for (int i = 0; i < 1535; i++) {
    page* p = alloc_pages(0, 0);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(pfn_to_nid(page_to_pfn(p)), 0) << i;
    got.push_back(p);
  }
  for (int i = 0; i < 512; i++) {
    page* p = alloc_pages(0, 0);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(pfn_to_nid(page_to_pfn(p)), 1) << i;
    got.push_back(p);
  }
  EXPECT_EQ(alloc_pages(0, 0), nullptr);
  // Frees go back to their own node: a node-1 frame is the next node-1 allocation.
  unsigned long last = page_to_pfn(got.back());
  __free_pages(got.back(), 0);
  got.pop_back();
  page* again = alloc_pages_node(1, 0, 0);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(page_to_pfn(again), last);
  got.push_back(again);
  for (page* p : got) __free_pages(p, 0);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
}

TEST_F(Numa, FolioOnAGivenNodeAndBadNodes) {
  // Node 1's 512 frames are one naturally aligned order-9 block: a THP fits there.
  folio* f = __folio_alloc_node(0, HPAGE_PMD_ORDER, 1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(folio_pfn(f), 1ul << 20);
  EXPECT_EQ(folio_nid(f), 1);
  // Node 1 is full now: an allocation there falls back to node 0.
  folio* g = __folio_alloc_node(0, 0, 1);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(folio_nid(g), 0);
  EXPECT_EQ(alloc_pages_node(2, 0, 0), nullptr);
  EXPECT_EQ(alloc_pages_node(-1, 0, 0), nullptr);
  folio_put(f);
  folio_put(g);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
}

TEST_F(Numa, MigrationMovesThePageToTheOtherNodeAndBack) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a + 7, 0x5a), 0);
  long first = mapped_pfn(mm, a);
  ASSERT_EQ(pfn_to_nid(first), 0);
  ASSERT_EQ(migrate_range(mm, a, PAGE_SIZE, nullptr), 1);
  long moved = mapped_pfn(mm, a);
  EXPECT_EQ(pfn_to_nid(moved), 1);
  EXPECT_EQ(load(mm, a + 7), 0x5a);
  ASSERT_EQ(migrate_range(mm, a, PAGE_SIZE, nullptr), 1);
  // Back on node 0, in the frame it left (the allocator reuses freed frames first): the
  // ABA of pae-aba.litmus. The data came along both ways.
  EXPECT_EQ(mapped_pfn(mm, a), first);
  EXPECT_EQ(load(mm, a + 7), 0x5a);
}

// mbind(MPOL_PREFERRED): faults in the range allocate on the preferred node, the rest of the
// mapping (split off) keeps the default; bad input is refused with the kernel's errors and
// changes nothing.
TEST_F(Numa, MbindPlacesFaultsOnThePreferredNode) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 4 * PAGE_SIZE);
  EXPECT_EQ(do_mbind(mm, a + 1, PAGE_SIZE, MPOL_PREFERRED_, 1), -EINVAL) << "unaligned";
  EXPECT_EQ(do_mbind(mm, a, 0, MPOL_PREFERRED_, 1), -EINVAL) << "empty";
  EXPECT_EQ(do_mbind(mm, a, PAGE_SIZE, MPOL_PREFERRED_, 2), -EINVAL) << "no node 2";
  EXPECT_EQ(do_mbind(mm, a, PAGE_SIZE, 7, 1), -EINVAL) << "unknown mode";
  EXPECT_EQ(do_mbind(mm, a, 8 * PAGE_SIZE, MPOL_PREFERRED_, 1), -EFAULT) << "a hole";
  ASSERT_EQ(do_mbind(mm, a + PAGE_SIZE, 2 * PAGE_SIZE, MPOL_PREFERRED_, 1), 0);
  for (int i = 0; i < 4; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE, 1), 0);
  EXPECT_EQ(pfn_to_nid(mapped_pfn(mm, a)), 0);
  EXPECT_EQ(pfn_to_nid(mapped_pfn(mm, a + PAGE_SIZE)), 1);
  EXPECT_EQ(pfn_to_nid(mapped_pfn(mm, a + 2 * PAGE_SIZE)), 1);
  EXPECT_EQ(pfn_to_nid(mapped_pfn(mm, a + 3 * PAGE_SIZE)), 0);
  // Back to the default: pages already there stay, later faults are local again.
  ASSERT_EQ(do_mbind(mm, a, 4 * PAGE_SIZE, MPOL_DEFAULT_, 0), 0);
  ASSERT_EQ(mm_store(mm, a + 2 * PAGE_SIZE, 2), 0);
  EXPECT_EQ(pfn_to_nid(mapped_pfn(mm, a + 2 * PAGE_SIZE)), 1) << "pages already there stay";
  ASSERT_EQ(do_madvise(mm, a + PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED_), 0);
  ASSERT_EQ(mm_store(mm, a + PAGE_SIZE, 3), 0);
  EXPECT_EQ(pfn_to_nid(mapped_pfn(mm, a + PAGE_SIZE)), 0);
}

TEST_F(Numa, CopiesIntoNewFramesCopyAndClear) {
  page* src = alloc_pages(0, 0);
  page* dst = alloc_pages(0, 0);
  ASSERT_TRUE(src && dst);
  frame_fill(page_to_pfn(src), 0x3c);
  frame_write_byte(page_to_pfn(src), 4095, 0x77);
  copy_user_highpage(page_to_pfn(dst), page_to_pfn(src));
  EXPECT_EQ(std::memcmp(page_address(dst), page_address(src), PAGE_SIZE), 0);
  clear_user_highpage(page_to_pfn(dst));
  for (unsigned off = 0; off < PAGE_SIZE; off += 511) EXPECT_EQ(frame_read_byte(page_to_pfn(dst), off), 0) << off;
  __free_pages(src, 0);
  __free_pages(dst, 0);
}

// A machine whose size is no multiple of a max-order block: blocks are carved naturally
// aligned from the top (an order-n block starts at a multiple of 2^n, which the buddy
// merge's pfn ^ (1 << order) relies on), and every frame is handed out and comes back.
TEST(NumaLayout, OddSizedMachineCarvesAlignedBlocks) {
  ASSERT_EQ(physmem_init(3000, false, 1), 0);
  page* big = alloc_pages(0, MAX_PAGE_ORDER);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(page_to_pfn(big) % (1ul << MAX_PAGE_ORDER), 0ul);
  __free_pages(big, MAX_PAGE_ORDER);
  std::vector<page*> all;
  while (page* p = alloc_pages(0, 0)) all.push_back(p);
  EXPECT_EQ(all.size(), 3000ul - 1);  // all but the zero page
  for (page* p : all) __free_pages(p, 0);
  EXPECT_EQ(physmem_get_stats().nr_free, 3000ul - 1);
  // Merged back: two max-order blocks fit again ([0, 1024) and [1024, 2048)).
  page* a = alloc_pages(0, MAX_PAGE_ORDER);
  page* b = alloc_pages(0, MAX_PAGE_ORDER);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(page_to_pfn(a) % (1ul << MAX_PAGE_ORDER), 0ul);
  EXPECT_EQ(page_to_pfn(b) % (1ul << MAX_PAGE_ORDER), 0ul);
  __free_pages(a, MAX_PAGE_ORDER);
  __free_pages(b, MAX_PAGE_ORDER);
  physmem_exit();
}
