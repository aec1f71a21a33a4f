// Page-table entries: bits and helpers, and PAE mode's two-halves discipline (writer
// order, the low/high/low lockless reader), with physical addresses above 4 GiB.
#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "foundation_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {
uint32_t lo(pteval_t v) { return uint32_t(v); }
uint32_t hi(pteval_t v) { return uint32_t(v >> 32); }
}  // namespace

TEST(PteBits, EncodeAndDecode) {
  unsigned long pfn = (1ul << 22) - 3;  // physical address above 4 GiB
  pte_t w = pfn_pte(pfn, pgprot::write);
  EXPECT_TRUE(pte_present(w));
  EXPECT_TRUE(pte_write(w));
  EXPECT_EQ(pte_pfn(w), pfn);
  EXPECT_TRUE(pte_access_permitted(w, true));
  EXPECT_FALSE(pte_special(w));
  pte_t r = pfn_pte(pfn, pgprot::read);
  EXPECT_TRUE(pte_access_permitted(r, false));
  EXPECT_FALSE(pte_access_permitted(r, true));
  EXPECT_EQ(pte_val(pte_wrprotect(w)), pte_val(r));
  pte_t n = pfn_pte(pfn, pgprot::none);
  EXPECT_TRUE(pte_present(n));  // the kernel's pte_present() includes protnone
  EXPECT_TRUE(pte_protnone(n));
  EXPECT_FALSE(pte_access_permitted(n, false));
  EXPECT_EQ(pte_pfn(n), pfn);
  EXPECT_TRUE(pte_none(__pte(0)));
  EXPECT_TRUE(pte_dirty(pte_mkdirty(r)));
  EXPECT_FALSE(pte_dirty(pte_mkclean(pte_mkdirty(r))));
  EXPECT_TRUE(pte_special(pte_mkspecial(r)));
  EXPECT_FALSE(pte_young(pte_mkold(r)));
  // The present bit is in the low half, the high pfn bits and NX in the high half.
  EXPECT_EQ(lo(pte_val(w)) & _PAGE_PRESENT, _PAGE_PRESENT);
  EXPECT_EQ(hi(pte_val(w)), uint32_t(pfn >> 20) | 0x80000000u);

  pmd_t leaf = pfn_pmd_leaf(512, pgprot::write);
  EXPECT_TRUE(pmd_leaf(leaf));
  EXPECT_TRUE(pmd_present(leaf));
  EXPECT_FALSE(pmd_table(leaf));
  EXPECT_EQ(pmd_pfn(leaf), 512ul);
  pmd_t table = pfn_pmd_table(77);
  EXPECT_TRUE(pmd_table(table));
  EXPECT_FALSE(pmd_leaf(table));
  EXPECT_EQ(pmd_pfn(table), 77ul);
}

TEST(PteBits, Geometry) {
  unsigned long a = 0x7f1234567000ul;
  EXPECT_EQ(pgd_index(a), 0xfeu);
  EXPECT_EQ(pud_index(a), 0x48u);
  EXPECT_EQ(pmd_index(a), 0x1a2u);
  EXPECT_EQ(pte_index(a), 0x167u);
  EXPECT_EQ(pmd_addr_end(0x200000 - PAGE_SIZE, 0x800000), 0x200000ul);
  EXPECT_EQ(pmd_addr_end(0x200000, 0x300000), 0x300000ul);
  // Near the top of the address space the boundary wraps to 0: end wins.
  EXPECT_EQ(pgd_addr_end(~0ul & PGDIR_MASK, ~0ul), ~0ul);
  EXPECT_EQ(TASK_SIZE, (1ul << 47) - PAGE_SIZE);
}

// ---- PAE ------------------------------------------------------------------------------

class Pae : public MachineTest {
 protected:
  machine_config config() override {
    machine_config c;
    c.frames = 1ul << 22;  // 16 GiB: frames above 4 GiB (pfn >= 2^20)
    c.pte = pte_mode::pae;
    return c;
  }
  void TearDown() override {
    sync::set_yield_hook(nullptr, nullptr);
    sync::set_amplify(false, 0);
    if (entry_page_) __free_pages(entry_page_, 0);
    MachineTest::TearDown();
  }
  // A page-table entry in a frame of the machine.
  pte_t* entry() {
    if (!entry_page_) entry_page_ = alloc_pages(__GFP_ZERO, 0);
    return reinterpret_cast<pte_t*>(page_address(entry_page_)) + 17;
  }
  page* entry_page_ = nullptr;
};

TEST_F(Pae, HalvesOfSetClearAndAtomicOps) {
  ASSERT_TRUE(pae_mode());
  pte_t* p = entry();
  auto* halves = reinterpret_cast<uint32_t*>(p);
  pte_t v = pte_mkdirty(pfn_pte((1ul << 22) - 5, pgprot::write));
  ASSERT_NE(hi(pte_val(v)), 0u);
  set_pte(p, v);
  EXPECT_EQ(halves[0], lo(pte_val(v)));
  EXPECT_EQ(halves[1], hi(pte_val(v)));
  EXPECT_EQ(pte_val(ptep_get(p)), pte_val(v));
  EXPECT_EQ(pte_val(ptep_get_lockless(p)), pte_val(v));
  // wrprotect touches the low half only.
  ptep_set_wrprotect(p);
  EXPECT_EQ(pte_val(ptep_get(p)), pte_val(pte_wrprotect(v)));
  pte_t old = pte_wrprotect(v);
  EXPECT_TRUE(ptep_cmpxchg(p, old, v));
  pte_t stale = pte_wrprotect(v);
  EXPECT_FALSE(ptep_cmpxchg(p, stale, __pte(0)));
  EXPECT_EQ(pte_val(stale), pte_val(v)) << "failed cmpxchg reports the current value";
  pte_clear(p);
  EXPECT_EQ(halves[0], 0u);
  EXPECT_EQ(halves[1], 0u);
  set_pte_atomic(p, v);
  EXPECT_EQ(pte_val(ptep_get_and_clear(p)), pte_val(v));
  EXPECT_TRUE(pte_none(ptep_get(p)));
  // PMD entries use the same discipline.
  auto* pmdp = reinterpret_cast<pmd_t*>(p);
  pmd_t leaf = pfn_pmd_leaf((1ul << 22) - 512, pgprot::read);
  set_pmd(pmdp, leaf);
  EXPECT_EQ(pmd_val(pmdp_get_lockless(pmdp)), pmd_val(leaf));
  EXPECT_EQ(pmd_val(pmdp_huge_get_and_clear(pmdp)), pmd_val(leaf));
  EXPECT_TRUE(pmd_none(pmdp_get(pmdp)));
}

// A process in PAE mode: its frames sit above 4 GiB, so its PTEs have a non-zero high
// half; loads and stores work through them.
TEST_F(Pae, UserMemoryAboveFourGiB) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 8 * PAGE_SIZE);
  for (unsigned long i = 0; i < 8; i++) ASSERT_EQ(mm_store(mm, a + i * PAGE_SIZE + i, uint8_t(0xc0 + i)), 0);
  for (unsigned long i = 0; i < 8; i++) {
    pte_t pte = lookup_pte(mm, a + i * PAGE_SIZE);
    ASSERT_TRUE(pte_present(pte));
    EXPECT_GE(pte_pfn(pte), 1ul << 20);
    EXPECT_NE(hi(pte_val(pte)) & 0xf, 0u) << "pfn bits 20..23 live in the high half";
    EXPECT_EQ(frame_read_byte(pte_pfn(pte), i), 0xc0 + i);
    EXPECT_EQ(load(mm, a + i * PAGE_SIZE + i), int(0xc0 + i));
  }
  // Fork and COW work through high entries too.
  mm_struct* child = fork_mm(mm);
  ASSERT_EQ(mm_store(child, a, 1), 0);
  EXPECT_EQ(load(mm, a), 0xc0);
  EXPECT_EQ(load(child, a), 1);
  EXPECT_NE(mapped_pfn(child, a), mapped_pfn(mm, a));
}

namespace {

// A yield-point hook that runs `action` (once, or every time) on the thread that reaches
// the named point, with the entry's halves as they are at that instant.
struct at_point {
  const char* name;
  std::function<void()> action;
  bool once = true;
  int hits = 0;
  bool inside = false;
  static void hook(const char* n, void* ctx) {
    auto* self = static_cast<at_point*>(ctx);
    if (self->inside || std::strcmp(n, self->name) != 0) return;
    self->hits++;
    if (self->once && self->hits > 1) return;
    self->inside = true;  // the action's own yield points do not recurse
    self->action();
    self->inside = false;
  }
  void install() { sync::set_yield_hook(&at_point::hook, this); }
  ~at_point() { sync::set_yield_hook(nullptr, nullptr); }
};

struct halves {
  uint32_t low, high;
};
halves read_halves(pte_t* p) {
  auto* h = reinterpret_cast<uint32_t*>(p);
  return {h[0], h[1]};
}

const pte_t A = pte_mkdirty(pfn_pte((1ul << 22) - 7, pgprot::write));  // high half 3|NX
const pte_t B = pte_mkdirty(pfn_pte((1ul << 21) + 9, pgprot::write));  // high half 2|NX

}  // namespace

// [PAE-SET]: set_pte writes the high half, then the low half (which holds the present bit).
TEST_F(Pae, SetPteWritesHighThenLow) {
  pte_t* p = entry();
  ASSERT_NE(hi(pte_val(A)), hi(pte_val(B)));
  halves mid{~0u, ~0u};
  at_point pt{"set_pte:between_halves", [&] { mid = read_halves(p); }};
  pt.install();
  set_pte(p, A);
  EXPECT_EQ(pt.hits, 1);
  EXPECT_EQ(mid.high, hi(pte_val(A))) << "the high half is written first";
  EXPECT_EQ(mid.low, 0u) << "the low half (present bit) is written last";
  EXPECT_EQ(pte_val(ptep_get(p)), pte_val(A));
}

// [PAE-CLEAR]: pte_clear writes the low half to zero first, then the high half.
TEST_F(Pae, PteClearWritesLowThenHigh) {
  pte_t* p = entry();
  set_pte(p, A);
  halves mid{~0u, ~0u};
  at_point pt{"pte_clear:between_halves", [&] { mid = read_halves(p); }};
  pt.install();
  pte_clear(p);
  EXPECT_EQ(pt.hits, 1);
  EXPECT_EQ(mid.low, 0u) << "the low half (present bit) is cleared first";
  EXPECT_EQ(mid.high, hi(pte_val(A))) << "the high half is cleared last";
  EXPECT_TRUE(pte_none(ptep_get(p)));
}

// [PAE-READ]: the entry changes (clear, then set to another present value) between the
// reader's low and high loads. The reader rereads the low half, sees it changed, retries,
// and returns the new value, never the low half of A with the high half of B.
TEST_F(Pae, LocklessReaderRetriesWhenTheLowHalfChanges) {
  pte_t* p = entry();
  set_pte(p, A);
  at_point pt{"ptep_get_lockless:between_halves", [&] {
                pte_clear(p);
                set_pte(p, B);
              }};
  pt.install();
  pte_t got = ptep_get_lockless(p);
  EXPECT_EQ(pt.hits, 2) << "the reader did not retry";
  EXPECT_EQ(pte_val(got), pte_val(B));
}

TEST_F(Pae, LocklessReaderRetriesAcrossAClear) {
  pte_t* p = entry();
  set_pte(p, A);
  at_point pt{"ptep_get_lockless:between_halves", [&] { pte_clear(p); }};
  pt.install();
  pte_t got = ptep_get_lockless(p);
  EXPECT_EQ(pt.hits, 2);
  EXPECT_TRUE(pte_none(got)) << std::hex << pte_val(got);
  // The PMD reader is the same discipline.
  auto* pmdp = reinterpret_cast<pmd_t*>(p);
  set_pte(p, A);
  at_point pt2{"ptep_get_lockless:between_halves", [&] { pmd_clear(pmdp); }};
  pt2.install();
  EXPECT_TRUE(pmd_none(pmdp_get_lockless(pmdp)));
  EXPECT_EQ(pt2.hits, 2);
}

// Native mode: one 64-bit load, no halves, no retry loop.
TEST(PteNative, LocklessReadIsOneLoad) {
  machine_config c;
  c.frames = 2048;
  ASSERT_EQ(machine_create(c), 0);
  alignas(8) pte_t e{0};
  int hits = 0;
  sync::set_yield_hook(
      [](const char* n, void* ctx) {
        if (std::strstr(n, "between_halves")) ++*static_cast<int*>(ctx);
      },
      &hits);
  set_pte(&e, A);
  EXPECT_EQ(pte_val(ptep_get_lockless(&e)), pte_val(A));
  pte_clear(&e);
  EXPECT_TRUE(pte_none(ptep_get_lockless(&e)));
  sync::set_yield_hook(nullptr, nullptr);
  EXPECT_EQ(hits, 0);
  machine_destroy();
}

namespace {

// Entry i of the writer's sequence. Every value has a distinct low half (so a reader that
// sees low half l_i knows which store it came from: no ABA, which the kernel excludes by
// the not-present step plus TLB flush between two present values) and a high half that
// differs from its neighbours' and from zero.
pteval_t seq_value(uint32_t i) {
  uint32_t low = (i << 1) | uint32_t(_PAGE_PRESENT);
  uint32_t high = (i % 15) + 1;  // pfn bits 20..23: physical addresses above 4 GiB
  return pteval_t(high) << 32 | low;
}

struct race_result {
  long reads = 0, present = 0, not_present = 0, torn = 0;
  pteval_t first_torn = 0;
};

// A writer makes the entry present with a new value and clears it, again and again
// (set_pte / pte_clear); a reader hammers ptep_get_lockless. Every present value the
// reader returns must be one the writer stored. Stops at max_reads, or at the first torn
// value if stop_at_torn.
race_result race_reader_writer(pte_t* p, long max_reads, bool stop_at_torn) {
  std::atomic<bool> stop{false}, writer_started{false};
  std::thread writer([&] {
    writer_started = true;
    // Dwell a little in each state so that the reader sees present and not-present
    // entries alike, and its window between halves often spans a change. The writer also
    // gives up its core now and then in either state: when both threads share one core
    // (a loaded machine), the reader would otherwise run only while the writer sits in a
    // yield point between two halves, where the entry is never present.
    auto dwell = [](bool yield) {
      for (int k = 0; k < 64; k++) __builtin_ia32_pause();
      if (yield) std::this_thread::yield();
    };
    for (uint32_t i = 1; !stop.load(std::memory_order_relaxed) && i < (1u << 30); i++) {
      set_pte(p, __pte(seq_value(i)));
      dwell(i % 4 == 0);
      pte_clear(p);
      dwell(i % 4 == 2);
    }
  });
  while (!writer_started.load()) std::this_thread::yield();
  race_result r;
  for (; r.reads < max_reads; r.reads++) {
    pteval_t v = pte_val(ptep_get_lockless(p));
    uint32_t low = lo(v);
    if (!(low & _PAGE_PRESENT)) {
      // Not present: the low half is written last by set and first by clear, so the
      // reader may see a high half alone; a not-present value is never acted on.
      EXPECT_EQ(low, 0u);
      r.not_present++;
      continue;
    }
    r.present++;
    if (v != seq_value(low >> 1)) {
      if (!r.torn) r.first_torn = v;
      r.torn++;
      if (stop_at_torn) break;
    }
  }
  stop = true;
  writer.join();
  return r;
}

}  // namespace

// [PAE-SET]/[PAE-CLEAR] with [PAE-READ]: the lockless reader never returns a present
// value that was never stored. A writer that wrote the low half first on set, or last on
// clear, or a reader without the low reread (next test), would produce one.
TEST_F(Pae, LocklessReaderNeverSeesATornEntry) {
  sync::set_amplify(true, 1);  // widen the windows between halves on both sides
  race_result r = race_reader_writer(entry(), 10000, false);
  EXPECT_EQ(r.torn, 0) << "torn value " << std::hex << r.first_torn;
  EXPECT_EQ(r.reads, 10000);
  EXPECT_GT(r.present, 0) << "the reader never saw a present entry: the race did not run";
}

// The same race with the reader's retry removed (mutant torn-pte-read): the reader acts
// on a low half from one store and a high half from another. This shows the previous test
// can fail.
class PaeTorn : public Pae {
 protected:
  machine_config config() override {
    machine_config c = Pae::config();
    c.unsafe = 1u << TORN_PTE_READ;
    return c;
  }
};

// Deterministically: the same injected change as LocklessReaderRetriesWhenTheLowHalfChanges,
// and the reader without the retry returns A's low half with B's high half: a present
// entry that was never stored, mapping a frame that neither A nor B maps.
TEST_F(PaeTorn, ReaderWithoutRetryReturnsAValueNeverStored) {
  pte_t* p = entry();
  set_pte(p, A);
  at_point pt{"ptep_get_lockless:between_halves", [&] {
                pte_clear(p);
                set_pte(p, B);
              }};
  pt.install();
  pte_t got = ptep_get_lockless(p);
  EXPECT_EQ(pt.hits, 1);
  EXPECT_EQ(lo(pte_val(got)), lo(pte_val(A)));
  EXPECT_EQ(hi(pte_val(got)), hi(pte_val(B)));
  EXPECT_TRUE(pte_present(got));
  EXPECT_NE(pte_pfn(got), pte_pfn(A));
  EXPECT_NE(pte_pfn(got), pte_pfn(B));
}

TEST_F(PaeTorn, ReaderWithoutRetrySeesATornEntry) {
  sync::set_amplify(true, 1);
  race_result r = race_reader_writer(entry(), 2000000, true);
  EXPECT_GT(r.torn, 0) << "no torn value in " << r.reads << " reads (" << r.present << " present)";
  if (r.torn) {
    // The torn value pairs a stored low half with a high half that store did not write.
    uint32_t i = lo(r.first_torn) >> 1;
    EXPECT_NE(hi(r.first_torn), hi(seq_value(i)));
  }
}
