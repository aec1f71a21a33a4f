// Helpers of the reclaim, migration and split tests (tests/replacers/reclaim_*.cpp,
// migrate_*.cpp, split_*.cpp, replace_race_test.cpp): a machine fixture whose teardown also
// checks that every swap slot and LRU entry is gone, a byte pattern per page, and probes
// of what a PTE holds.
#pragma once
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gup/gup.h"
#include "machine/machine.h"
#include "mm/migrate.h"
#include "mm/split.h"
#include "mm/swap.h"
#include "mm/vmscan.h"
#include "support/mm_owner.h"
#include "support/probe.h"

namespace gupfast::test {

inline constexpr unsigned long REGION = 0x20000000ul;   // small pages
inline constexpr unsigned long HREGION = 0x40000000ul;  // 2 MiB aligned: one THP

// The pattern byte of page i at offset off (never 0: a zero-filled page differs).
inline uint8_t pat(int i, unsigned off, uint8_t salt) {
  return static_cast<uint8_t>((i * 7 + off * 3 + salt) % 251 + 1);
}
inline unsigned pat_off(int i, int k) { return k == 0 ? 0u : static_cast<unsigned>((i * 97 + k * 1031) % PAGE_SIZE); }
inline constexpr int PAT_BYTES = 3;

// Write the pattern through the process's stores (faulting pages in).
inline void fill(mm_struct* mm, unsigned long base, int npages, uint8_t salt) {
  for (int i = 0; i < npages; i++)
    for (int k = 0; k < PAT_BYTES; k++) {
      unsigned off = pat_off(i, k);
      ASSERT_EQ(mm_store(mm, base + i * PAGE_SIZE + off, pat(i, off, salt)), 0);
    }
}

// Read it back through the process's loads: the first page that differs, or -1.
inline int check(mm_struct* mm, unsigned long base, int npages, uint8_t salt) {
  for (int i = 0; i < npages; i++)
    for (int k = 0; k < PAT_BYTES; k++) {
      unsigned off = pat_off(i, k);
      if (load(mm, base + i * PAGE_SIZE + off) != pat(i, off, salt)) return i;
    }
  return -1;
}

// The PTE for addr (0 if there is no PTE table), read under mmap_lock.
inline pte_t pte_at(mm_struct* mm, unsigned long addr) {
  pte_t r{0};
  mm->mmap_lock.down_read();
  if (pmd_t* pmdp = mm_find_pmd(mm, addr)) {
    pmd_t pmd = pmdp_get(pmdp);
    if (pmd_table(pmd)) r = ptep_get(pte_offset_lockless(pmd, addr));
  }
  mm->mmap_lock.up_read();
  return r;
}
inline bool swapped_out(mm_struct* mm, unsigned long addr) {
  pte_t p = pte_at(mm, addr);
  return is_swap_pte(p) && !non_swap_entry(pte_to_swp_entry(p));
}

inline folio* folio_at(mm_struct* mm, unsigned long addr) {
  long pfn = mapped_pfn(mm, addr);
  return pfn < 0 ? nullptr : page_folio(pfn_to_page(static_cast<unsigned long>(pfn)));
}

// A machine per test; teardown puts every mm and checks that frames, swap slots and the
// LRU are all empty again.
class ReplaceFixture : public ::testing::Test, public mm_owner {
 protected:
  virtual machine_config config() { return machine_config{}; }

  void SetUp() override {
    ASSERT_EQ(machine_create(config()), 0);
    created_ = true;
    cpu_.emplace();
    ASSERT_GE(cpu_->id(), 0);
    mm = new_mm();
  }
  void TearDown() override {
    sync::set_yield_hook(nullptr, nullptr);
    put_all_mms();
    if (created_ && check_leaks_) {
      EXPECT_EQ(machine_frames_in_use(), 0ul) << "frame leak: " << machine_describe();
      EXPECT_EQ(swap_slots_in_use(), 0ul) << "swap slot leak";
      EXPECT_EQ(lru_nr_folios(), 0ul) << "LRU entries left";
    }
    cpu_.reset();
    if (created_) machine_destroy();
  }

  unsigned long map(unsigned long addr, unsigned long len, int flags = MAP_PRIVATE_, mm_struct* m = nullptr) {
    long a = vm_mmap(m ? m : mm, addr, len, PROT_READ_ | PROT_WRITE_, flags);
    EXPECT_EQ(a, static_cast<long>(addr));
    return static_cast<unsigned long>(a);
  }

  mm_struct* mm = nullptr;
  std::optional<cpu_scope> cpu_;
  bool created_ = false;
  bool check_leaks_ = true;  // mutant tests leave a broken machine behind
};

using replace_param = std::tuple<table_strategy, pte_mode>;
inline std::string replace_param_name(const ::testing::TestParamInfo<replace_param>& info) {
  return std::string(to_string(std::get<0>(info.param))) + "_" + to_string(std::get<1>(info.param));
}

class ReplaceParamTest : public ReplaceFixture, public ::testing::WithParamInterface<replace_param> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = std::get<0>(GetParam());
    c.pte = std::get<1>(GetParam());
    c.frames = 1ul << 21;  // 8 GiB: PAE sees physical addresses above 4 GiB
    return c;
  }
};

#define REPLACE_INSTANTIATE_ALL(suite)                                                                  \
  INSTANTIATE_TEST_SUITE_P(                                                                            \
      AllModes, suite,                                                                                 \
      ::testing::Combine(::testing::Values(table_strategy::ipi, table_strategy::rcu, table_strategy::seqcount), \
                         ::testing::Values(pte_mode::native, pte_mode::pae)),                          \
      ::gupfast::test::replace_param_name)

}  // namespace gupfast::test
