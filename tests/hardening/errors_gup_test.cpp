// The GUP entry points' bad inputs (docs/errors.md): kernel errnos, nothing taken, the
// machine consistent afterwards (ContractTest: the oracle's refcount check and the leak
// check at teardown), under every strategy x pte mode.
#include <thread>

#include "hardening_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {

class GupErrors : public ContractTest {};
GUP_INSTANTIATE_ALL(GupErrors);

// An address nobody mapped.
TEST_P(GupErrors, UnmappedAddressFaults) {
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast(mm, 0x60000000ul, 1, 0, &p), -EFAULT);
  EXPECT_EQ(get_user_pages_fast(mm, 0x60000000ul, 1, FOLL_WRITE, &p), -EFAULT);
  EXPECT_EQ(pin_user_pages_unlocked(mm, 0x60000000ul, 1, 0, &p), -EFAULT);
  EXPECT_EQ(get_user_pages_fast_only(mm, 0x60000000ul, 1, 0, &p), 0);
  EXPECT_EQ(p, nullptr);
}

// A write pin of a read-only VMA fails with -EFAULT and pins nothing; a range running
// from a writable VMA into a read-only one returns the writable prefix.
TEST_P(GupErrors, WritePinOfReadOnlyVmaFaultsAndPinsNothing) {
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
TEST_P(GupErrors, RangeErrors) {
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
TEST_P(GupErrors, FlagErrorsAreEinval) {
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
TEST_P(GupErrors, NotACpuIsEinval) {
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
  put_got_page(p);
}

// FOLL_FORCE lets a debugger write a private read-only mapping (by COW), never a shared
// one; it reads PROT_NONE memory the VMA may read (VM_MAYREAD). check_vma_flags().
TEST_P(GupErrors, ForceWritesPrivateMappingsOnly) {
  constexpr unsigned long base = 0x71000000ul;
  ASSERT_EQ(map(PG, PROT_READ_, MAP_SHARED_, base), base);
  ASSERT_EQ(map(PG, PROT_READ_, MAP_PRIVATE_, base + PG), base + PG);
  page* p = nullptr;
  EXPECT_EQ(pin_user_pages_fast(mm, base, 1, FOLL_WRITE, &p), -EFAULT);
  EXPECT_EQ(pin_user_pages_fast(mm, base, 1, FOLL_WRITE | FOLL_FORCE, &p), -EFAULT) << "shared: no COW to break";
  EXPECT_EQ(p, nullptr);
  ASSERT_EQ(pin_user_pages_fast(mm, base + PG, 1, FOLL_WRITE | FOLL_FORCE, &p), 1) << "private: COW";
  unpin_user_page(p);
  EXPECT_FALSE(lookup(mm, base + PG).write) << "the PTE stays read-only";
  ASSERT_EQ(do_mprotect(mm, base + PG, PG, PROT_NONE_), 0);
  EXPECT_EQ(get_user_pages_unlocked(mm, base + PG, 1, 0, &p), -EFAULT);
  ASSERT_EQ(get_user_pages_unlocked(mm, base + PG, 1, FOLL_FORCE, &p), 1) << "VM_MAYREAD";
  put_got_page(p);
}

// FOLL_NOFAULT: the slow path may not fault a page in: the prefix, or -EFAULT.
TEST_P(GupErrors, NoFaultOnAMissingPageIsEfault) {
  unsigned long a = map(2 * PG);
  touch(a, 1);
  page* pages[2] = {};
  EXPECT_EQ(pin_user_pages_fast(mm, a + PG, 1, FOLL_NOFAULT, pages), -EFAULT);
  EXPECT_EQ(pages[0], nullptr);
  ASSERT_EQ(pin_user_pages_fast(mm, a, 2, FOLL_NOFAULT, pages), 1) << "the mapped prefix";
  unpin_user_page(pages[0]);
  EXPECT_EQ(mapped_pfn(mm, a + PG), -1) << "nothing faulted in";
}

// The slow entry points check like the fast ones.
TEST_P(GupErrors, SlowEntryPointsRefuseLikeTheFastOnes) {
  unsigned long a = map(PG);
  touch(a, 1);
  page* p = nullptr;
  mm->mmap_lock.down_read();
  EXPECT_EQ(pin_user_pages(mm, a, 1, FOLL_GET, &p), -EINVAL);
  EXPECT_EQ(pin_user_pages(mm, a, 1, 0, nullptr), -EINVAL);
  EXPECT_EQ(get_user_pages(mm, a, 1, FOLL_LONGTERM, &p), -EINVAL);
  EXPECT_EQ(get_user_pages(mm, a, 1, FOLL_TOUCH, &p), -EINVAL) << "FOLL_TOUCH is internal";
  EXPECT_EQ(get_user_pages(nullptr, a, 1, 0, &p), -EINVAL);
  EXPECT_EQ(get_user_pages(mm, a, -1, 0, &p), -EINVAL);
  EXPECT_EQ(get_user_pages(mm, TASK_SIZE, 1, 0, &p), -EFAULT);
  EXPECT_EQ(get_user_pages(mm, ~0ul & PAGE_MASK, 2, 0, &p), -EFAULT) << "wraps";
  EXPECT_EQ(pin_user_pages(mm, a, 0, 0, &p), 0);
  EXPECT_EQ(pin_user_pages(mm, TASK_SIZE, 0, 0, &p), 0) << "0 pages: done, whatever the address";
  EXPECT_EQ(pin_user_pages_fast(mm, TASK_SIZE + PG, 0, 0, &p), -EFAULT) << "the fast path checks the range first";
  mm->mmap_lock.up_read();
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(ref(pfn_to_page(mapped_pfn(mm, a))), 1);
}

}  // namespace
