// The oracle itself (src/check): executions with a known verdict. Legal races must give no
// violation; each violation kind must be reported, with its exact name, for an execution
// that has it. Histories are made by real operations on the machine (entry writes reach
// the oracle through the page-table hooks), by deterministic injection at named yield
// points (tests/race/inject.h), and, where the machine cannot produce the bad history
// without a mutant, by telling the oracle directly what a broken GUP or device would.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "check/oracle.h"
#include "check/ops.h"
#include "gup/gup.h"
#include "machine/counters.h"
#include "machine/machine.h"
#include "race/inject.h"
#include "support/probe.h"

namespace {

using namespace gupfast;
using namespace gupfast::check;
using gupfast::test::mapped_pfn;
using gupfast_test::inject_once;

constexpr unsigned long A = 0x40000000ul;     // 2 MiB aligned: its own PTE table
constexpr unsigned long B = 0x80000000ul;     // another PMD table

struct oracle_case {
  table_strategy strategy;
  pte_mode pte;
  uint32_t unsafe = 0;
};

uint32_t unsafe_bits(std::initializer_list<unsafe_step> steps) {
  uint32_t m = 0;
  for (auto s : steps) m |= 1u << s;
  return m;
}

// A machine with the oracle on and one registered mm; the test's thread is a CPU.
class OracleFixture {
 public:
  void start(oracle_case c) {
    machine_config cfg;
    cfg.strategy = c.strategy;
    cfg.pte = c.pte;
    cfg.unsafe = c.unsafe;
    cfg.frames = 1ul << 21;  // 8 GiB: PAE sees frames above 4 GiB
    ASSERT_EQ(machine_create(cfg), 0);
    created_ = true;
    ASSERT_EQ(oracle_start({}), 0);
    cpu_ = std::make_unique<cpu_scope>();
    mm = op_mm_alloc();
    ASSERT_NE(mm, nullptr);
  }
  void stop() {
    if (mm) op_mm_put(mm);
    mm = nullptr;
    cpu_.reset();
    oracle_stop();
    if (created_) machine_destroy();
    created_ = false;
  }
  uint64_t count(violation_kind k) { return oracle_violation_count(k); }
  std::string first() {
    auto v = oracle_violations();
    return v.empty() ? "(none)" : v[0].detail();
  }
  mm_struct* mm = nullptr;

 private:
  bool created_ = false;
  std::unique_ptr<cpu_scope> cpu_;
};

class OracleSafe : public testing::TestWithParam<oracle_case>, public OracleFixture {
 protected:
  void SetUp() override { start(GetParam()); }
  void TearDown() override { stop(); }
};

// Pins, DMA writes, unpins, read-backs, remaps, a fork and a THP: no violation.
TEST_P(OracleSafe, LegalExecutionHasNoViolation) {
  ASSERT_EQ(op_mmap(mm, A, 4 * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  for (int i = 0; i < 4; i++) ASSERT_EQ(op_user_write(mm, A + i * PAGE_SIZE + 1000, 0x11), 0);
  held_pages h;
  ASSERT_EQ(op_gup(gup_call::pin_fast, mm, A, 4, FOLL_WRITE, &h), 4);
  op_dma_write(&h, 0, 0x1122334455667788ull);
  op_release(&h);
  held_pages g;
  ASSERT_EQ(op_gup(gup_call::get, mm, A, 2, 0, &g), 2);
  int err = 0;
  mm_struct* child = op_fork(mm, &err);
  ASSERT_NE(child, nullptr);
  ASSERT_EQ(op_user_write(child, A + 2000, 0x33), 0);
  op_mm_put(child);
  op_release(&g);
  ASSERT_EQ(op_readback(mm), 0);
  uint64_t w = 0;
  ASSERT_EQ(op_read_word(mm, A, &w), 0);
  EXPECT_EQ(w, 0x1122334455667788ull);
  // A remap of the process's own: the device's words lapse, nothing is lost.
  ASSERT_EQ(op_munmap(mm, A, PAGE_SIZE), 0);
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_readback(mm), 0);
  // A THP, pinned and reclaimed around.
  ASSERT_EQ(op_mmap(mm, B, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_HUGE_THP), long(B));
  ASSERT_EQ(op_user_write(mm, B + 4096, 1), 0);
  held_pages t;
  ASSERT_EQ(op_gup(gup_call::pin_fast, mm, B, 8, FOLL_WRITE, &t), 8);
  op_dma_write(&t, 1, 42);
  op_release(&t);
  op_reclaim(mm, B, PMD_SIZE);
  op_migrate(mm, A + PAGE_SIZE, 3 * PAGE_SIZE);
  ASSERT_EQ(op_readback(mm), 0);
  oracle_finish();
  EXPECT_EQ(oracle_violation_count(), 0u) << first();
}

// The kernel's accepted race: GUP started before the process's own munmap and returns the
// page that was mapped then. It was mapped at an instant of the call: legal. The same
// page claimed by a call that began after the munmap is a stale pin.
TEST_P(OracleSafe, OwnMunmapDuringTheCallIsLegalAfterItIsStale) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A, 1), 0);
  held_pages h;  // keeps the page allocated after the munmap, as GUP's reference would
  ASSERT_EQ(op_gup(gup_call::pin_fast, mm, A, 1, FOLL_WRITE, &h), 1);
  page* p = h.pages[0];
  uint64_t t0 = oracle_now();
  ASSERT_EQ(op_munmap(mm, A, PAGE_SIZE), 0);
  uint64_t t1 = oracle_now();
  uint64_t epoch;
  oracle_gup_returned(mm, A, &p, 1, t0, t1, true, &epoch);
  EXPECT_EQ(oracle_violation_count(), 0u) << first();
  oracle_gup_release(p, true);
  oracle_gup_returned(mm, A, &p, 1, t1, oracle_now(), true, &epoch);
  EXPECT_EQ(count(violation_kind::stale_pin), 1u);
  oracle_gup_release(p, true);
  op_release(&h);
}

// The page of another address returned for A: stale-pin, with the history in the message.
TEST_P(OracleSafe, PageOfAnotherAddressIsStalePin) {
  ASSERT_EQ(op_mmap(mm, A, 2 * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A, 1), 0);
  ASSERT_EQ(op_user_write(mm, A + PAGE_SIZE, 2), 0);
  page* other = pfn_to_page(mapped_pfn(mm, A + PAGE_SIZE));
  uint64_t t0 = oracle_now(), epoch;
  oracle_gup_returned(mm, A, &other, 1, t0, oracle_now(), true, &epoch);
  ASSERT_EQ(count(violation_kind::stale_pin), 1u);
  auto v = oracle_violations();
  EXPECT_EQ(v[0].addr, A);
  EXPECT_EQ(v[0].pfn, page_to_pfn(other));
  EXPECT_NE(v[0].message.find("mappings there"), std::string::npos);
  EXPECT_FALSE(v[0].events.empty());
  oracle_gup_release(other, true);
}

// An entry write in flight: its store is visible to walkers before the writer's
// page_table_check end hook records the new mapping. A GUP that returns the page the
// in-flight write maps is legal; once the write is over (here: put back), the same claim
// for a later call is a stale pin.
TEST_P(OracleSafe, EntryWriteInFlightIsVisibleBeforeItIsRecorded) {
  ASSERT_EQ(op_mmap(mm, A, 2 * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A, 1), 0);
  ASSERT_EQ(op_user_write(mm, A + PAGE_SIZE, 2), 0);
  pmd_t* pmdp = mm_find_pmd(mm, A);
  ASSERT_NE(pmdp, nullptr);
  pte_t* ptep = pte_offset_lockless(pmdp_get_lockless(pmdp), A);
  pte_t* other_ptep = pte_offset_lockless(pmdp_get_lockless(pmdp), A + PAGE_SIZE);
  pteval_t old = ptep_get_lockless(ptep).pte;
  page* other = pfn_to_page(mapped_pfn(mm, A + PAGE_SIZE));
  // A writer that has stored the new value (the other page) and not yet left its hook.
  page_table_check_entry_begin(&ptep->pte);
  sync::store(&ptep->pte, ptep_get_lockless(other_ptep).pte, sync::relaxed);
  uint64_t t0 = oracle_now(), epoch;
  oracle_gup_returned(mm, A, &other, 1, t0, oracle_now(), true, &epoch);
  EXPECT_EQ(oracle_violation_count(), 0u) << first();
  oracle_gup_release(other, true);
  sync::store(&ptep->pte, old, sync::relaxed);
  page_table_check_entry_end(&ptep->pte);
  t0 = oracle_now();
  oracle_gup_returned(mm, A, &other, 1, t0, oracle_now(), true, &epoch);
  EXPECT_EQ(count(violation_kind::stale_pin), 1u);
  oracle_gup_release(other, true);
}

// A process store, a DMA word lapsing by the process's own store, and a device write that
// did not reach the page the process reads (another page got it): lost-write only then.
TEST_P(OracleSafe, LostWriteOnlyWithoutTheProcessChangingTheWord) {
  ASSERT_EQ(op_mmap(mm, A, 2 * PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A + 1000, 1), 0);
  ASSERT_EQ(op_user_write(mm, A + PAGE_SIZE + 1000, 1), 0);
  held_pages h;
  ASSERT_EQ(op_gup(gup_call::pin_fast, mm, A, 2, FOLL_WRITE, &h), 2);
  op_dma_write(&h, 0, 0xabcdef);
  op_release(&h);
  ASSERT_EQ(op_user_write(mm, A, 0x55), 0);  // the process's own store to page 0's word
  // Page 1's word changes under the process, as if the DMA went to another page.
  frame_write_word(mapped_pfn(mm, A + PAGE_SIZE), 0, 0x999);
  ASSERT_EQ(op_readback(mm), 0);
  EXPECT_EQ(count(violation_kind::lost_write), 1u) << first();
  EXPECT_EQ(oracle_violation_count(), 1u) << first();
}

// A device write through a pin whose frame was recycled since GUP returned it: frame-uaf.
TEST_P(OracleSafe, DmaToARecycledFrameIsFrameUaf) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A + 1000, 1), 0);
  held_pages h;
  ASSERT_EQ(op_gup(gup_call::pin_fast, mm, A, 1, FOLL_WRITE, &h), 1);
  uint64_t good = h.epochs[0];
  h.epochs[0] = good - 1;  // the incarnation before: a pin that outlived its frame
  op_dma_write(&h, 0, 1);
  EXPECT_EQ(count(violation_kind::frame_uaf), 1u);
  h.epochs[0] = good;
  op_dma_write(&h, 0, 2);
  EXPECT_EQ(oracle_violation_count(), 1u) << first();
  op_release(&h);
}

// A page freed while a pin is held (a refcount bug, made by hand): pinned-freed at the free,
// and the dangling accounting is a refcount violation at the end.
TEST_P(OracleSafe, FreeWhilePinnedIsPinnedFreedThenRefcount) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A + 1000, 1), 0);
  held_pages h;
  ASSERT_EQ(op_gup(gup_call::get_fast, mm, A, 1, 0, &h), 1);
  ASSERT_EQ(op_munmap(mm, A, PAGE_SIZE), 0);  // our get is the last reference now
  folio_put(page_folio(h.pages[0]));          // a put that is not the holder's
  EXPECT_EQ(count(violation_kind::pinned_freed), 1u) << first();
  oracle_finish();
  EXPECT_EQ(count(violation_kind::refcount), 1u);
}

// torn-entry: GUP returned a frame whose number mixes the halves of two values stored in the
// entry (PAE); any other unmapped frame is a stale pin.
TEST_P(OracleSafe, MixOfStoredHalvesIsTornEntry) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A + 1000, 1), 0);
  unsigned long x = mapped_pfn(mm, A);  // above 4 GiB: the high half is nonzero
  ASSERT_GE(x, 1ul << 20);
  page* mix = pfn_to_page(x & ((1ul << 20) - 1));  // low(X) | high(none)
  uint64_t epoch;
  oracle_gup_returned(mm, A, &mix, 1, 0, oracle_now(), false, &epoch);
  oracle_gup_release(mix, false);
  if (GetParam().pte == pte_mode::pae) {
    EXPECT_EQ(count(violation_kind::torn_entry), 1u) << first();
  } else {
    EXPECT_EQ(count(violation_kind::stale_pin), 1u) << first();
  }
}

// torn-entry at the read: a lockless walker's PAE read must return a value stored in the
// entry ([PAE-READ]). The value mapped now and an old one (the page before a remap) are
// legal reads; low(now) | high(old), a value never stored, is torn-entry in PAE mode. In
// native mode an entry is one word and the check is off.
TEST_P(OracleSafe, LocklessReadOfAMixOfHalvesIsTornEntry) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A, 1), 0);
  mm->mmap_lock.down_read();
  pmd_t* pmdp = mm_find_pmd(mm, A);
  ASSERT_NE(pmdp, nullptr);
  pte_t* ptep = pte_offset_lockless(pmdp_get(pmdp), A);
  mm->mmap_lock.up_read();
  pteval_t before = ptep_get(ptep).pte;
  // Migration maps a new frame; the old value stays a legal (stale) read. Frames of this
  // 8 GiB machine are handed out from the top, above 4 GiB: their high half is nonzero.
  ASSERT_EQ(op_migrate(mm, A, PAGE_SIZE), 1);
  pteval_t after = ptep_get(ptep).pte;
  ASSERT_NE(pte_pfn({after}), pte_pfn({before}));
  ASSERT_GE(pte_pfn({after}), 1ul << 20);
  page_table_check_walk_begin();
  page_table_check_walk_read(ptep, after);
  page_table_check_walk_read(ptep, before);  // a stale value that was stored: legal
  EXPECT_EQ(oracle_violation_count(), 0u) << first();
  // low(after) with a cleared high half: as pte_clear() leaves the entry between its halves.
  page_table_check_walk_read(ptep, after & 0xffffffffull);
  if (GetParam().pte == pte_mode::pae) {
    EXPECT_EQ(count(violation_kind::torn_entry), 1u) << first();
  } else {
    EXPECT_EQ(oracle_violation_count(), 0u) << first();
  }
}

std::string case_name(const testing::TestParamInfo<oracle_case>& i) {
  return std::string(to_string(i.param.strategy)) + "_" + to_string(i.param.pte);
}

INSTANTIATE_TEST_SUITE_P(Oracle, OracleSafe,
                         testing::Values(oracle_case{table_strategy::ipi, pte_mode::native},
                                         oracle_case{table_strategy::rcu, pte_mode::native},
                                         oracle_case{table_strategy::seqcount, pte_mode::native},
                                         oracle_case{table_strategy::rcu, pte_mode::pae}),
                         case_name);

// ---- real races, injected: the oracle names the mutant's bad outcome, and only that ------
class OracleInject : public testing::TestWithParam<oracle_case>, public OracleFixture {
 protected:
  void SetUp() override { start(GetParam()); }
  void TearDown() override { stop(); }
  bool mutant() const { return GetParam().unsafe != 0; }
};

// Between GUP-fast's PTE load and its grab, A is zapped and its frame reused for B. The
// safe walker's recheck drops its transient reference on B's page (legal) and falls back;
// without the recheck it returns B's page for A: stale-pin.
class OraclePteRecheck : public OracleInject {};
TEST_P(OraclePteRecheck, ReusedFrameIsStalePinOnlyWithoutTheRecheck) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_mmap(mm, B, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(B));
  ASSERT_EQ(op_user_write(mm, A + 1000, 0x11), 0);
  held_pages h;
  {
    inject_once inj("gup_fast:after_pte_load", [&] {
      ASSERT_EQ(op_madvise(mm, A, PAGE_SIZE, MADV_DONTNEED_), 0);
      ASSERT_EQ(op_user_write(mm, B + 1000, 0x22), 0);
    });
    ASSERT_EQ(op_gup(gup_call::pin_fast, mm, A, 1, FOLL_WRITE, &h), 1);
    ASSERT_EQ(inj.fired(), 1);
  }
  op_release(&h);
  if (mutant())
    EXPECT_EQ(count(violation_kind::stale_pin), 1u) << first();
  else
    EXPECT_EQ(oracle_violation_count(), 0u) << first();
}
INSTANTIATE_TEST_SUITE_P(Oracle, OraclePteRecheck,
                         testing::Values(oracle_case{table_strategy::rcu, pte_mode::native},
                                         oracle_case{table_strategy::rcu, pte_mode::native, unsafe_bits({NO_PTE_RECHECK})}),
                         [](const testing::TestParamInfo<oracle_case>& i) {
                           return i.param.unsafe ? "no_pte_recheck" : "safe";
                         });

// Between GUP-fast's PMD load and its PTE read, the whole PTE table is unlinked and freed.
// Under RCU the free waits for the walker's grace period; without it the walker reads a
// freed table: table-uaf.
class OracleTableSync : public OracleInject {};
TEST_P(OracleTableSync, FreedTableUnderTheWalkerIsTableUaf) {
  ASSERT_EQ(op_mmap(mm, A, PMD_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A + 1000, 0x11), 0);
  held_pages h;
  {
    inject_once inj("gup_fast:after_pmd_load", [&] { ASSERT_EQ(op_munmap(mm, A, PMD_SIZE), 0); });
    op_gup(gup_call::pin_fast, mm, A, 1, FOLL_WRITE, &h);
    ASSERT_EQ(inj.fired(), 1);
  }
  op_release(&h);
  if (mutant())
    EXPECT_GE(count(violation_kind::table_uaf), 1u) << first();
  else
    EXPECT_EQ(count(violation_kind::table_uaf), 0u) << first();
}
INSTANTIATE_TEST_SUITE_P(Oracle, OracleTableSync,
                         testing::Values(oracle_case{table_strategy::rcu, pte_mode::native},
                                         oracle_case{table_strategy::rcu, pte_mode::native, unsafe_bits({NO_TABLE_SYNC})}),
                         [](const testing::TestParamInfo<oracle_case>& i) {
                           return i.param.unsafe ? "no_table_sync" : "safe";
                         });

// Between page_folio() and the grab, A's page is freed. Add-unless-zero refuses; a plain
// add resurrects it, and the put after the failed recheck frees it twice: refcount.
class OracleTryGet : public OracleInject {};
TEST_P(OracleTryGet, ResurrectedFolioIsRefcount) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A + 1000, 0x11), 0);
  held_pages h;
  {
    inject_once inj("try_get_folio:before_ref",
                    [&] { ASSERT_EQ(op_madvise(mm, A, PAGE_SIZE, MADV_DONTNEED_), 0); });
    op_gup(gup_call::pin_fast, mm, A, 1, FOLL_WRITE, &h);
    ASSERT_EQ(inj.fired(), 1);
  }
  op_release(&h);
  if (mutant())
    EXPECT_GE(count(violation_kind::refcount), 1u) << first();
  else
    EXPECT_EQ(oracle_violation_count(), 0u) << first();
}
INSTANTIATE_TEST_SUITE_P(Oracle, OracleTryGet,
                         testing::Values(oracle_case{table_strategy::rcu, pte_mode::native},
                                         oracle_case{table_strategy::rcu, pte_mode::native, unsafe_bits({GET_NOT_TRY_GET})}),
                         [](const testing::TestParamInfo<oracle_case>& i) {
                           return i.param.unsafe ? "get_not_try_get" : "safe";
                         });

// Another CPU holds A's translation in its TLB. With the mutant, munmap frees A's frame
// before the flush; it is reused by another owner, and the other CPU's load through its
// stale entry reaches that owner's page: frame-uaf. Safe: the flush comes first and that window does not exist.
class OracleFlushBeforeFree : public OracleInject {};
TEST_P(OracleFlushBeforeFree, StaleTlbReachingARecycledFrameIsFrameUaf) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_mmap(mm, B, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(B));
  ASSERT_EQ(op_user_write(mm, A + 1000, 0x11), 0);
  std::atomic<int> phase{0};  // 1: reader's TLB is filled; 2: read again; 3: done
  page* reused = nullptr;
  std::thread reader([&] {
    cpu_scope cpu;
    uint8_t v;
    op_user_read(mm, A + 1000, &v);
    phase.store(1);
    while (phase.load() < 2 && phase.load() != 9) std::this_thread::yield();
    if (phase.load() == 2) op_user_read(mm, A + 1000, &v);
    phase.store(3);
  });
  while (phase.load() < 1) std::this_thread::yield();
  {
    inject_once inj("tlb_flush_mmu:freed_before_flush", [&] {
      reused = alloc_pages(GFP_KERNEL, 0);  // someone else gets A's freed frame (LIFO)
      phase.store(2);
      while (phase.load() < 3) std::this_thread::yield();
    });
    ASSERT_EQ(op_munmap(mm, A, PAGE_SIZE), 0);
    EXPECT_EQ(inj.fired(), mutant() ? 1 : 0);
  }
  if (phase.load() < 2) phase.store(9);
  reader.join();
  if (reused) __free_pages(reused, 0);
  if (mutant())
    EXPECT_EQ(count(violation_kind::frame_uaf), 1u) << first();
  else
    EXPECT_EQ(oracle_violation_count(), 0u) << first();
}
INSTANTIATE_TEST_SUITE_P(Oracle, OracleFlushBeforeFree,
                         testing::Values(oracle_case{table_strategy::rcu, pte_mode::native},
                                         oracle_case{table_strategy::rcu, pte_mode::native, unsafe_bits({NO_FLUSH_BEFORE_FREE})}),
                         [](const testing::TestParamInfo<oracle_case>& i) {
                           return i.param.unsafe ? "no_flush_before_free" : "safe";
                         });

// CVE-2020-29374's shape: after fork the child takes a read reference on the shared page and
// unmaps; the parent writes. With the refcount rule the parent copies (no violation); with
// the old mapcount rule (cow-reuse-mapcount) it writes the page the child holds: cow-leak.
// The child's own write before its munmap breaks COW to a copy of its own under both rules.
class OracleCowLeak : public OracleInject {};
TEST_P(OracleCowLeak, ParentWriteReachingTheChildsReferenceIsCowLeak) {
  ASSERT_EQ(op_mmap(mm, A, PAGE_SIZE, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_), long(A));
  ASSERT_EQ(op_user_write(mm, A + 8, 0x11), 0);
  int err = 0;
  mm_struct* child = op_fork(mm, &err);
  ASSERT_NE(child, nullptr) << err;
  held_pages h;
  ASSERT_EQ(op_gup(gup_call::get_fast, child, A, 1, 0, &h), 1);
  ASSERT_EQ(op_user_write(child, A + 16, 0x33), 0);
  ASSERT_EQ(op_munmap(child, A, PAGE_SIZE), 0);
  ASSERT_EQ(op_user_write(mm, A + 8, 0x22), 0);
  if (mutant())
    EXPECT_EQ(count(violation_kind::cow_leak), 1u) << first();
  else
    EXPECT_EQ(oracle_violation_count(), 0u) << first();
  op_release(&h);
  op_mm_put(child);
}
INSTANTIATE_TEST_SUITE_P(Oracle, OracleCowLeak,
                         testing::Values(oracle_case{table_strategy::rcu, pte_mode::native},
                                         oracle_case{table_strategy::rcu, pte_mode::native, unsafe_bits({COW_REUSE_MAPCOUNT})}),
                         [](const testing::TestParamInfo<oracle_case>& i) {
                           return i.param.unsafe ? "cow_reuse_mapcount" : "safe";
                         });

}  // namespace
