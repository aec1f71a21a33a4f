// The address-space calls' bad inputs (docs/errors.md): kernel errnos, and nothing changes
// (the same VMAs, frames and data), plus the machine's own calls.
#include "check/oracle.h"
#include "mm/khugepaged.h"
#include "mm/mempolicy.h"
#include "mm/migrate.h"
#include "mm/vmscan.h"
#include "unit/foundation_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {
constexpr int RW = PROT_READ_ | PROT_WRITE_;

class MmErrors : public MachineTest {
 protected:
  void SetUp() override {
    MachineTest::SetUp();
    mm = new_mm();
    a = map(mm, 2 * PAGE_SIZE, RW, MAP_PRIVATE_, 0x20000000ul);
    gap_end = a + 3 * PAGE_SIZE;  // a hole of one page after the first VMA
    b = map(mm, PAGE_SIZE, RW, MAP_PRIVATE_, gap_end);
    ASSERT_EQ(mm_store(mm, a, 'a'), 0);
    ASSERT_EQ(mm_store(mm, a + PAGE_SIZE, 'A'), 0);
    ASSERT_EQ(mm_store(mm, b, 'b'), 0);
    before_layout = layout(mm);
    before_frames = machine_frames_in_use();
  }
  // Nothing changed: the same VMAs, frames and data, and the pages still writable.
  void expect_unchanged() {
    EXPECT_EQ(layout(mm), before_layout);
    EXPECT_EQ(machine_frames_in_use(), before_frames);
    EXPECT_EQ(load(mm, a), 'a');
    EXPECT_EQ(load(mm, a + PAGE_SIZE), 'A');
    EXPECT_EQ(load(mm, b), 'b');
    EXPECT_TRUE(pte_write(lookup_pte(mm, a)));
    EXPECT_TRUE(pte_write(lookup_pte(mm, b)));
    EXPECT_EQ(machine_frames_in_use(), before_frames);
  }
  mm_struct* mm = nullptr;
  unsigned long a = 0, b = 0, gap_end = 0;
  vma_layout before_layout;
  unsigned long before_frames = 0;
};

TEST_F(MmErrors, MmapBadArguments) {
  EXPECT_EQ(vm_mmap(mm, 0, 0, RW, MAP_PRIVATE_), -EINVAL);                      // empty
  EXPECT_EQ(vm_mmap(mm, 0, PAGE_SIZE, RW | 4, MAP_PRIVATE_), -EINVAL);          // PROT_EXEC etc.
  EXPECT_EQ(vm_mmap(mm, 0, PAGE_SIZE, RW, 0), -EINVAL);                         // neither
  EXPECT_EQ(vm_mmap(mm, 0, PAGE_SIZE, RW, MAP_PRIVATE_ | MAP_SHARED_), -EINVAL);  // both
  EXPECT_EQ(vm_mmap(mm, 0, PAGE_SIZE, RW, MAP_PRIVATE_ | 0x100), -EINVAL);      // unknown flag
  EXPECT_EQ(vm_mmap(mm, 0x30000001ul, PAGE_SIZE, RW, MAP_PRIVATE_), -EINVAL);   // unaligned
  EXPECT_EQ(vm_mmap(mm, TASK_SIZE, PAGE_SIZE, RW, MAP_PRIVATE_), -ENOMEM);      // above the user limit
  EXPECT_EQ(vm_mmap(mm, TASK_SIZE - PAGE_SIZE, 2 * PAGE_SIZE, RW, MAP_PRIVATE_), -ENOMEM);  // crosses it
  EXPECT_EQ(vm_mmap(mm, ~0ul & PAGE_MASK, PAGE_SIZE, RW, MAP_PRIVATE_), -ENOMEM);  // wraps
  EXPECT_EQ(vm_mmap(mm, 0, ~0ul, RW, MAP_PRIVATE_), -ENOMEM);                   // wraps when rounded
  EXPECT_EQ(vm_mmap(mm, 0, TASK_SIZE + 1, RW, MAP_PRIVATE_), -ENOMEM);
  EXPECT_EQ(vm_mmap(mm, PAGE_SIZE, PAGE_SIZE, RW, MAP_PRIVATE_), -EPERM);       // below mmap_min_addr
  expect_unchanged();
}

TEST_F(MmErrors, MmapOverAnExistingMappingIsEexist) {
  EXPECT_EQ(vm_mmap(mm, a, PAGE_SIZE, RW, MAP_PRIVATE_), -EEXIST);
  EXPECT_EQ(vm_mmap(mm, a + PAGE_SIZE, PAGE_SIZE, RW, MAP_SHARED_), -EEXIST);
  EXPECT_EQ(vm_mmap(mm, a - PAGE_SIZE, 2 * PAGE_SIZE, RW, MAP_PRIVATE_), -EEXIST);  // overlaps the start
  EXPECT_EQ(vm_mmap(mm, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, RW, MAP_PRIVATE_), -EEXIST);  // hole + next
  expect_unchanged();
  // The hole itself can be mapped.
  EXPECT_EQ(vm_mmap(mm, a + 2 * PAGE_SIZE, PAGE_SIZE, PROT_READ_, MAP_PRIVATE_), long(a + 2 * PAGE_SIZE));
}

// A request larger than the space below the mmap base finds no room: -ENOMEM, never an
// address outside the user range.
TEST_F(MmErrors, MmapWithoutRoomIsEnomem) {
  long r = vm_mmap(mm, 0, TASK_SIZE, RW, MAP_PRIVATE_);
  EXPECT_EQ(r, -ENOMEM);
  r = vm_mmap(mm, 0, 0x7f0000000000ul, RW, MAP_PRIVATE_);
  EXPECT_EQ(r, -ENOMEM);
  expect_unchanged();
}

TEST_F(MmErrors, MunmapBadRanges) {
  EXPECT_EQ(vm_munmap(mm, a + 1, PAGE_SIZE), -EINVAL);        // unaligned
  EXPECT_EQ(vm_munmap(mm, a, 0), -EINVAL);                    // empty
  EXPECT_EQ(vm_munmap(mm, a, ~0ul - PAGE_SIZE), -EINVAL);     // wraps
  EXPECT_EQ(vm_munmap(mm, a, ~0ul), -EINVAL);                 // wraps when rounded
  EXPECT_EQ(vm_munmap(mm, TASK_SIZE, PAGE_SIZE), -EINVAL);    // above the user limit
  EXPECT_EQ(vm_munmap(mm, a, TASK_SIZE), -EINVAL);            // crosses it
  expect_unchanged();
}

TEST_F(MmErrors, MunmapOfAHoleIsNotAnError) {
  EXPECT_EQ(vm_munmap(mm, a + 2 * PAGE_SIZE, PAGE_SIZE), 0);   // the gap between the VMAs
  EXPECT_EQ(vm_munmap(mm, 0x60000000ul, 16 * PAGE_SIZE), 0);   // nothing anywhere near
  EXPECT_EQ(vm_munmap(mm, a - 8 * PAGE_SIZE, 8 * PAGE_SIZE), 0);  // ends right at a
  expect_unchanged();
}

TEST_F(MmErrors, MprotectOfAHoleIsEnomemAndChangesNothing) {
  // From the first VMA across the hole into the second: nothing is changed, not even the
  // part before the hole.
  EXPECT_EQ(do_mprotect(mm, a, 4 * PAGE_SIZE, PROT_READ_), -ENOMEM);
  EXPECT_EQ(do_mprotect(mm, a + PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ_), -ENOMEM);
  EXPECT_EQ(do_mprotect(mm, a + 2 * PAGE_SIZE, PAGE_SIZE, PROT_READ_), -ENOMEM);
  EXPECT_EQ(do_mprotect(mm, 0x60000000ul, PAGE_SIZE, PROT_READ_), -ENOMEM);
  expect_unchanged();
  ASSERT_EQ(mm_store(mm, a, 'x'), 0);
  ASSERT_EQ(mm_store(mm, a, 'a'), 0);
}

TEST_F(MmErrors, MprotectBadArguments) {
  EXPECT_EQ(do_mprotect(mm, a, PAGE_SIZE, 8), -EINVAL);
  EXPECT_EQ(do_mprotect(mm, a + 1, PAGE_SIZE, PROT_READ_), -EINVAL);
  EXPECT_EQ(do_mprotect(mm, a, 0, PROT_READ_), 0) << "empty: success, as the kernel";
  EXPECT_EQ(do_mprotect(mm, a, ~0ul, PROT_READ_), -ENOMEM) << "wraps";
  EXPECT_EQ(do_mprotect(mm, TASK_SIZE, PAGE_SIZE, PROT_READ_), -ENOMEM) << "nothing mapped there";
  EXPECT_EQ(do_mprotect(mm, a, TASK_SIZE, PROT_READ_), -ENOMEM) << "runs past the user range";
  expect_unchanged();
}

TEST_F(MmErrors, MadviseBadArgumentsAndHoles) {
  EXPECT_EQ(do_madvise(mm, a, PAGE_SIZE, 99), -EINVAL);
  EXPECT_EQ(do_madvise(mm, a + 1, PAGE_SIZE, MADV_DONTNEED_), -EINVAL);
  EXPECT_EQ(do_madvise(mm, a, 0, MADV_DONTNEED_), 0) << "empty: success, as the kernel";
  EXPECT_EQ(do_madvise(mm, a, ~0ul, MADV_DONTNEED_), -EINVAL) << "rounds to zero";
  EXPECT_EQ(do_madvise(mm, ~0ul & PAGE_MASK, 2 * PAGE_SIZE, MADV_DONTNEED_), -EINVAL) << "wraps";
  EXPECT_EQ(do_madvise(mm, TASK_SIZE, PAGE_SIZE, MADV_DONTNEED_), -ENOMEM) << "nothing mapped there";
  EXPECT_EQ(do_madvise(mm, a + 2 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED_), -ENOMEM);  // only the hole
  EXPECT_EQ(do_madvise(mm, 0x60000000ul, PAGE_SIZE, MADV_DONTNEED_), -ENOMEM);
  expect_unchanged();
  // Across a hole: -ENOMEM, and (as on Linux) the mapped parts are zapped; the VMAs stay.
  EXPECT_EQ(do_madvise(mm, a + PAGE_SIZE, 3 * PAGE_SIZE, MADV_DONTNEED_), -ENOMEM);
  EXPECT_EQ(layout(mm), before_layout);
  EXPECT_EQ(load(mm, a), 'a');
  EXPECT_EQ(load(mm, a + PAGE_SIZE), 0);
  EXPECT_EQ(load(mm, b), 0);
}

// A null address space is -EINVAL everywhere (the kernel has no such call: current->mm).
TEST_F(MmErrors, NullMmIsEinval) {
  uint8_t v = 0;
  int err = 0;
  EXPECT_EQ(vm_mmap(nullptr, 0, PAGE_SIZE, RW, MAP_PRIVATE_), -EINVAL);
  EXPECT_EQ(vm_munmap(nullptr, a, PAGE_SIZE), -EINVAL);
  EXPECT_EQ(do_mprotect(nullptr, a, PAGE_SIZE, PROT_READ_), -EINVAL);
  EXPECT_EQ(do_madvise(nullptr, a, PAGE_SIZE, MADV_DONTNEED_), -EINVAL);
  EXPECT_EQ(mm_load(nullptr, a, &v), -EINVAL);
  EXPECT_EQ(mm_store(nullptr, a, 1), -EINVAL);
  EXPECT_EQ(dup_mm(nullptr, &err), nullptr);
  EXPECT_EQ(err, -EINVAL);
  EXPECT_EQ(do_mbind(nullptr, a, PAGE_SIZE, MPOL_PREFERRED_, 0), -EINVAL);
  EXPECT_EQ(migrate_range(nullptr, a, PAGE_SIZE, nullptr), -EINVAL);
  EXPECT_EQ(reclaim_range(nullptr, a, PAGE_SIZE, nullptr), -EINVAL);
  EXPECT_EQ(collapse_pmd_range(nullptr, a, nullptr), -EINVAL);
  expect_unchanged();
}

// The process's own loads and stores: -EFAULT is SIGSEGV (no VMA, no permission, beyond the
// user limit); only a CPU may access memory.
TEST_F(MmErrors, LoadsAndStoresOutsideTheVmasFault) {
  uint8_t v = 0;
  EXPECT_EQ(mm_load(mm, a + 2 * PAGE_SIZE, &v), -EFAULT);  // the hole
  EXPECT_EQ(mm_store(mm, TASK_SIZE, 1), -EFAULT);
  EXPECT_EQ(mm_load(mm, ~0ul, &v), -EFAULT);
  ASSERT_EQ(do_mprotect(mm, b, PAGE_SIZE, PROT_READ_), 0);
  EXPECT_EQ(mm_store(mm, b, 1), -EFAULT);
  int r = 1;
  std::thread t([&] { r = mm_store(mm, a, 1); });
  t.join();
  EXPECT_EQ(r, -EINVAL) << "not a CPU";
  ASSERT_EQ(do_mprotect(mm, b, PAGE_SIZE, RW), 0);
  expect_unchanged();
}

// The replacers' range calls (reclaim, migration, collapse, mbind): bad ranges are -EINVAL,
// ranges without a VMA -ENOMEM / -EFAULT / -EINVAL as each documents.
TEST_F(MmErrors, ReplacerRangeErrors) {
  EXPECT_EQ(reclaim_range(mm, a + 1, PAGE_SIZE, nullptr), -EINVAL);
  EXPECT_EQ(reclaim_range(mm, a, 0, nullptr), -EINVAL);
  EXPECT_EQ(reclaim_range(mm, TASK_SIZE, PAGE_SIZE, nullptr), -EINVAL);
  EXPECT_EQ(reclaim_range(mm, 0x60000000ul, PAGE_SIZE, nullptr), -ENOMEM);
  EXPECT_EQ(migrate_range(mm, a + 1, PAGE_SIZE, nullptr), -EINVAL);
  EXPECT_EQ(migrate_range(mm, a, ~0ul, nullptr), -EINVAL);
  EXPECT_EQ(migrate_range(mm, 0x60000000ul, PAGE_SIZE, nullptr), -ENOMEM);
  EXPECT_EQ(collapse_pmd_range(mm, 0x60000000ul, nullptr), -EINVAL);
  EXPECT_EQ(collapse_pmd_range(mm, TASK_SIZE, nullptr), -EINVAL);
  EXPECT_EQ(do_mbind(mm, a + 1, PAGE_SIZE, MPOL_PREFERRED_, 0), -EINVAL);
  EXPECT_EQ(do_mbind(mm, a, PAGE_SIZE, 99, 0), -EINVAL);
  EXPECT_EQ(do_mbind(mm, a, PAGE_SIZE, MPOL_PREFERRED_, 5), -EINVAL);
  EXPECT_EQ(do_mbind(mm, a, 4 * PAGE_SIZE, MPOL_PREFERRED_, 0), -EFAULT);
  expect_unchanged();
}

}  // namespace

// ---- the machine ----------------------------------------------------------------------------

TEST(Machine, BadConfigsAreRefusedWithEinval) {
  machine_config c;
  c.frames = 0;
  EXPECT_EQ(machine_create(c), -EINVAL);
  c.frames = PHYSMEM_MIN_FRAMES - 1;
  EXPECT_EQ(machine_create(c), -EINVAL);
  c.frames = (1ul << 24) + 1;  // beyond 36-bit physical addresses (PAE)
  EXPECT_EQ(machine_create(c), -EINVAL);
  c = machine_config{};
  c.strategy = table_strategy::ipi;
  c.tlb = tlb_mode::broadcast;  // the ipi strategy needs IPI flushes
  EXPECT_EQ(machine_create(c), -EINVAL);
  c = machine_config{};
  c.unsafe = 1u << NR_UNSAFE_STEPS;  // no such step
  EXPECT_EQ(machine_create(c), -EINVAL);
  // None of them left a machine behind: a good config works now.
  EXPECT_FALSE(physmem_active());
  c = machine_config{};
  c.frames = 2048;
  ASSERT_EQ(machine_create(c), 0);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
  machine_destroy();
}

TEST(Machine, SecondMachineIsBusyAndTheFirstIsUntouched) {
  machine_config c;
  c.frames = 4096;
  c.pte = pte_mode::pae;
  c.strategy = table_strategy::seqcount;
  ASSERT_EQ(machine_create(c), 0);
  page* p = alloc_pages(0, 0);
  ASSERT_NE(p, nullptr);
  machine_config other;
  other.strategy = table_strategy::ipi;
  EXPECT_EQ(machine_create(other), -EBUSY);
  // The running machine kept its size, its configuration and its allocations.
  EXPECT_EQ(physmem_get_stats().nr_frames, 4096ul);
  std::string d = machine_describe();
  EXPECT_NE(d.find("strategy=seqcount"), std::string::npos) << d;
  EXPECT_NE(d.find("tlb=broadcast"), std::string::npos) << d;
  EXPECT_NE(d.find("pte=pae"), std::string::npos) << d;
  EXPECT_EQ(machine_frames_in_use(), 1ul);
  __free_pages(p, 0);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
  machine_destroy();
  // After destroy a new machine may be created.
  ASSERT_EQ(machine_create(other), 0);
  d = machine_describe();
  EXPECT_NE(d.find("strategy=ipi tlb=ipi pte=native"), std::string::npos) << d;
  EXPECT_NE(d.find("unsafe=none"), std::string::npos) << d;
  machine_destroy();
}

// The oracle: one at a time, and only on a machine.
TEST(Machine, OracleNeedsAMachineAndIsAlone) {
  EXPECT_EQ(check::oracle_start({}), -EINVAL);
  machine_config c;
  c.frames = 2048;
  ASSERT_EQ(machine_create(c), 0);
  ASSERT_EQ(check::oracle_start({}), 0);
  EXPECT_EQ(check::oracle_start({}), -EBUSY);
  check::oracle_stop();
  machine_destroy();
}
