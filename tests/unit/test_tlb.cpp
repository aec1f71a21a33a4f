// Per-CPU TLBs and shootdowns: a cached translation is really used until a flush, and no
// CPU uses it after one (both flush modes); teardown returns every frame under every
// table strategy, TLB mode and entry format.
#include <tuple>

#include "foundation_support.h"

using namespace gupfast;
using namespace gupfast::test;

namespace {
constexpr int RW = PROT_READ_ | PROT_WRITE_;

std::string config_name(table_strategy s, tlb_mode t, pte_mode p) {
  return std::string(to_string(s)) + "_" + to_string(t) + "_" + to_string(p);
}
}  // namespace

class Tlb : public MachineTest, public ::testing::WithParamInterface<tlb_mode> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = GetParam() == tlb_mode::ipi ? table_strategy::ipi : table_strategy::rcu;
    c.tlb = GetParam();
    return c;
  }
};

// A translation cached by another CPU is used by it until the flush (the TLB is real),
// and not after (the flush reached that CPU).
TEST_P(Tlb, FlushMakesAnotherCpusStaleTranslationUnusable) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 'o'), 0);
  cpu_thread other;
  ASSERT_GE(other.id(), 0);
  ASSERT_EQ(other.call([&] { return load(mm, a); }), 'o');
  uint64_t hits = counter_read(CNT_tlb_hits);
  ASSERT_EQ(other.call([&] { return load(mm, a); }), 'o');
  EXPECT_EQ(counter_read(CNT_tlb_hits), hits + 1);
  EXPECT_TRUE(mm_cpumask(mm).test_cpu(other.id()));

  // Remove the mapping by hand, without a flush: the other CPU still reaches the page.
  mm->mmap_lock.down_write();
  pmd_t* pmdp = mm_find_pmd(mm, a);
  sync::spinlock_t* ptl = nullptr;
  pte_t* ptep = pmdp ? pte_offset_map_lock(mm, pmdp, a, &ptl) : nullptr;
  pte_t old{0};
  if (ptep) {
    old = ptep_get_and_clear(ptep);
    sync::spin_unlock(ptl);
  }
  mm->mmap_lock.up_write();
  ASSERT_NE(ptep, nullptr);
  ASSERT_TRUE(pte_present(old));
  EXPECT_EQ(other.call([&] { return load(mm, a); }), 'o') << "the TLB did not cache the translation";

  // After the flush it walks the tables, finds nothing, and faults in the zero page.
  flush_tlb_mm(mm);
  EXPECT_EQ(other.call([&] { return load(mm, a); }), 0);
  EXPECT_EQ(mapped_pfn(mm, a), long(zero_pfn));

  // Put the page back (the zero page mapping holds no reference) and flush again.
  mm->mmap_lock.down_write();
  ptep = pte_offset_map_lock(mm, pmdp, a, &ptl);
  if (ptep) {
    set_pte(ptep, old);
    sync::spin_unlock(ptl);
  }
  mm->mmap_lock.up_write();
  ASSERT_NE(ptep, nullptr);
  flush_tlb_mm(mm);
  EXPECT_EQ(other.call([&] { return load(mm, a); }), 'o');
}

// munmap on one CPU: another CPU that cached the translation faults afterwards, and once
// something else is mapped there it sees the new contents, never the old frame.
TEST_P(Tlb, MunmapAndRemapAreSeenByAnotherCpu) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, 2 * PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 'o'), 0);
  ASSERT_EQ(mm_store(mm, a + PAGE_SIZE, 'p'), 0);
  cpu_thread other;
  ASSERT_EQ(other.call([&] { return load(mm, a); }), 'o');
  ASSERT_EQ(other.call([&] { return mm_store(mm, a + PAGE_SIZE, 'q'); }), 0);
  ASSERT_EQ(vm_munmap(mm, a, 2 * PAGE_SIZE), 0);
  EXPECT_EQ(other.call([&] { return load(mm, a); }), -EFAULT);
  EXPECT_EQ(other.call([&] { return mm_store(mm, a + PAGE_SIZE, 'r'); }), -EFAULT);
  // Same addresses, new contents: shared memory this time.
  ASSERT_EQ(vm_mmap(mm, a, 2 * PAGE_SIZE, RW, MAP_SHARED_), long(a));
  ASSERT_EQ(mm_store(mm, a, 'n'), 0);
  EXPECT_EQ(other.call([&] { return load(mm, a); }), 'n');
  EXPECT_EQ(other.call([&] { return load(mm, a + PAGE_SIZE); }), 0);
  ASSERT_EQ(other.call([&] { return mm_store(mm, a + PAGE_SIZE, 'm'); }), 0);
  EXPECT_EQ(load(mm, a + PAGE_SIZE), 'm');
}

// mprotect(PROT_READ) on one CPU: another CPU's cached writable translation is gone.
TEST_P(Tlb, MprotectIsSeenByAnotherCpu) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  cpu_thread other;
  ASSERT_EQ(other.call([&] { return mm_store(mm, a, 'w'); }), 0);
  ASSERT_EQ(other.call([&] { return mm_store(mm, a, 'x'); }), 0);
  ASSERT_EQ(do_mprotect(mm, a, PAGE_SIZE, PROT_READ_), 0);
  EXPECT_EQ(other.call([&] { return mm_store(mm, a, 'y'); }), -EFAULT);
  EXPECT_EQ(load(mm, a), 'x');
}

// fork on one CPU: another CPU of the parent that cached a writable translation must
// take the COW fault on its next store, so the child keeps the old data.
TEST_P(Tlb, ForkWriteProtectIsSeenByAnotherCpu) {
  mm_struct* parent = new_mm();
  unsigned long a = map(parent, PAGE_SIZE);
  cpu_thread other;
  ASSERT_EQ(other.call([&] { return mm_store(parent, a, '1'); }), 0);
  mm_struct* child = fork_mm(parent);
  ASSERT_EQ(other.call([&] { return mm_store(parent, a, '2'); }), 0);
  EXPECT_EQ(load(child, a), '1');
  EXPECT_EQ(load(parent, a), '2');
  EXPECT_EQ(other.call([&] { return load(child, a); }), '1');
}

// MADV_DONTNEED on one CPU: another CPU reads zeroes afterwards, not the freed frame.
TEST_P(Tlb, DontneedIsSeenByAnotherCpu) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  cpu_thread other;
  ASSERT_EQ(other.call([&] { return mm_store(mm, a, 'd'); }), 0);
  ASSERT_EQ(other.call([&] { return load(mm, a); }), 'd');
  ASSERT_EQ(do_madvise(mm, a, PAGE_SIZE, MADV_DONTNEED_), 0);
  EXPECT_EQ(other.call([&] { return load(mm, a); }), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, Tlb, ::testing::Values(tlb_mode::ipi, tlb_mode::broadcast),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// In ipi mode a flush waits for a CPU with irqs off; in broadcast mode it does not.
class TlbIrqsOff : public MachineTest, public ::testing::WithParamInterface<tlb_mode> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = table_strategy::rcu;
    c.tlb = GetParam();
    return c;
  }
};

TEST_P(TlbIrqsOff, FlushWaitsForIrqsOffOnlyInIpiMode) {
  mm_struct* mm = new_mm();
  unsigned long a = map(mm, PAGE_SIZE);
  ASSERT_EQ(mm_store(mm, a, 1), 0);
  std::atomic<int> stage{0};
  std::atomic<bool> flushed{false};
  std::atomic<bool> flushed_while_off{false};
  std::thread t([&] {
    cpu_scope cpu;
    uint8_t v;
    EXPECT_EQ(mm_load(mm, a, &v), 0);  // joins mm_cpumask
    unsigned long flags = sync::local_irq_save();
    stage = 1;
    while (stage.load() < 2) std::this_thread::yield();
    // The flusher had its chance; in ipi mode it cannot have finished.
    flushed_while_off = flushed.load();
    sync::local_irq_restore(flags);
  });
  while (stage.load() < 1) std::this_thread::yield();
  std::thread flusher([&] {
    flush_tlb_mm(mm);
    flushed = true;
  });
  if (GetParam() == tlb_mode::broadcast) {
    flusher.join();  // must finish while the other CPU still has irqs off
    EXPECT_TRUE(flushed.load());
    stage = 2;
    t.join();
    EXPECT_TRUE(flushed_while_off.load());
  } else {
    for (int i = 0; i < 200; i++) std::this_thread::yield();
    stage = 2;
    t.join();
    flusher.join();
    EXPECT_FALSE(flushed_while_off.load()) << "an ipi flush completed while a CPU had irqs off";
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, TlbIrqsOff, ::testing::Values(tlb_mode::ipi, tlb_mode::broadcast),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ---- teardown: every frame comes back, in every configuration ----------------------------

using teardown_param = std::tuple<table_strategy, tlb_mode, pte_mode>;

class Teardown : public MachineTest, public ::testing::WithParamInterface<teardown_param> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = std::get<0>(GetParam());
    c.tlb = std::get<1>(GetParam());
    c.pte = std::get<2>(GetParam());
    c.frames = c.pte == pte_mode::pae ? 1ul << 22 : 1ul << 21;  // PAE: frames above 4 GiB
    return c;
  }
};

TEST_P(Teardown, EveryFrameComesBack) {
  mm_struct* parent = new_mm();
  cpu_thread other;
  // A private region over two PMD tables, a shared one, a read-only one.
  unsigned long priv = map(parent, 600 * PAGE_SIZE, RW, MAP_PRIVATE_, 0x40000000ul - 300 * PAGE_SIZE);
  unsigned long shared = map(parent, 16 * PAGE_SIZE, RW, MAP_SHARED_);
  unsigned long ro = map(parent, 8 * PAGE_SIZE, PROT_READ_);
  for (unsigned long i = 0; i < 600; i += 2) ASSERT_EQ(mm_store(parent, priv + i * PAGE_SIZE, uint8_t(i)), 0);
  for (unsigned long i = 1; i < 600; i += 10) ASSERT_EQ(load(parent, priv + i * PAGE_SIZE), 0);
  for (unsigned long i = 0; i < 16; i++)
    ASSERT_EQ(other.call([&] { return mm_store(parent, shared + i * PAGE_SIZE, uint8_t(i)); }), 0);
  ASSERT_EQ(load(parent, ro), 0);
  EXPECT_GT(machine_frames_in_use(), 300ul + 16);

  mm_struct* child = fork_mm(parent);
  for (unsigned long i = 0; i < 100; i += 2)
    ASSERT_EQ(other.call([&] { return mm_store(child, priv + i * PAGE_SIZE, 0xcc); }), 0);
  for (unsigned long i = 100; i < 200; i += 2) ASSERT_EQ(mm_store(parent, priv + i * PAGE_SIZE, 0xdd), 0);
  ASSERT_EQ(mm_store(child, shared, 0xee), 0);
  EXPECT_EQ(other.call([&] { return load(parent, shared); }), 0xee);
  EXPECT_EQ(load(parent, priv), 0);
  EXPECT_EQ(load(child, priv), 0xcc);
  EXPECT_EQ(load(child, priv + 100 * PAGE_SIZE), 100);
  EXPECT_EQ(counter_read(CNT_cow_copies), 100u);

  // Every mutator once: madvise, mprotect, partial munmap (VMA split, table free).
  ASSERT_EQ(do_madvise(child, priv + 10 * PAGE_SIZE, 20 * PAGE_SIZE, MADV_DONTNEED_), 0);
  ASSERT_EQ(do_mprotect(parent, priv + 50 * PAGE_SIZE, 10 * PAGE_SIZE, PROT_READ_), 0);
  ASSERT_EQ(vm_munmap(parent, priv + 250 * PAGE_SIZE, 100 * PAGE_SIZE), 0);
  ASSERT_EQ(vm_munmap(child, shared + 4 * PAGE_SIZE, 4 * PAGE_SIZE), 0);
  EXPECT_EQ(load(parent, priv + 250 * PAGE_SIZE), -EFAULT);
  EXPECT_EQ(other.call([&] { return load(child, priv + 250 * PAGE_SIZE); }), 250);
  EXPECT_EQ(load(parent, priv + 252 * PAGE_SIZE), -EFAULT);

  // The child exits on the other CPU; the parent still holds frames.
  other.call([&] { put_mm(child); });
  EXPECT_GT(machine_frames_in_use(), 250ul);
  EXPECT_EQ(load(parent, shared), 0xee);
  EXPECT_EQ(load(parent, priv + 100 * PAGE_SIZE), 0xdd);
  put_mm(parent);
  EXPECT_EQ(machine_frames_in_use(), 0ul);
  EXPECT_EQ(counter_read(CNT_tables_allocated), counter_read(CNT_tables_freed));
}

INSTANTIATE_TEST_SUITE_P(
    Configs, Teardown,
    ::testing::Values(teardown_param{table_strategy::ipi, tlb_mode::ipi, pte_mode::native},
                      teardown_param{table_strategy::ipi, tlb_mode::ipi, pte_mode::pae},
                      teardown_param{table_strategy::rcu, tlb_mode::broadcast, pte_mode::native},
                      teardown_param{table_strategy::rcu, tlb_mode::broadcast, pte_mode::pae},
                      teardown_param{table_strategy::rcu, tlb_mode::ipi, pte_mode::native},
                      teardown_param{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::native},
                      teardown_param{table_strategy::seqcount, tlb_mode::broadcast, pte_mode::pae},
                      teardown_param{table_strategy::seqcount, tlb_mode::ipi, pte_mode::pae}),
    [](const auto& info) {
      return config_name(std::get<0>(info.param), std::get<1>(info.param), std::get<2>(info.param));
    });
