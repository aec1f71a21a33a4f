// Shared helpers of the GUP tests: a machine fixture (one machine per test, the main thread
// registered as a CPU, a leak check at teardown), the strategy x pte-mode parameter, and
// page-table lookups done under mmap_lock.
#pragma once
#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gup/gup.h"
#include "machine/machine.h"
#include "mm/mm.h"

#include "support/mm_owner.h"
#include "support/probe.h"

namespace gupfast::test {

inline constexpr unsigned long PG = PAGE_SIZE;

inline int ref(page* p) { return folio_ref_count(page_folio(p)); }
inline int ref_pfn(unsigned long pfn) { return ref(pfn_to_page(pfn)); }


// The machine for one test. TearDown puts every mm the test made and checks that every
// frame came back to the allocator (machine_frames_in_use() == 0).
class GupFixture : public ::testing::Test, public mm_owner {
 protected:
  virtual machine_config config() { return machine_config{}; }

  void SetUp() override {
    int err = machine_create(config());
    ASSERT_EQ(err, 0) << "machine_create";
    created_ = true;
    cpu_.emplace();
    ASSERT_GE(cpu_->id(), 0);
    mm = new_mm();
    ASSERT_NE(mm, nullptr);
  }

  void TearDown() override {
    put_all_mms();
    if (created_) {
      EXPECT_EQ(machine_frames_in_use(), 0ul) << "leak at teardown: " << machine_describe();
    }
    cpu_.reset();
    if (created_) machine_destroy();
  }

  unsigned long map(unsigned long len, int prot = PROT_READ_ | PROT_WRITE_, int flags = MAP_PRIVATE_,
                    unsigned long addr = 0, mm_struct* m = nullptr) {
    long a = vm_mmap(m ? m : mm, addr, len, prot, flags);
    EXPECT_GT(a, 0) << "vm_mmap returned " << a;
    return static_cast<unsigned long>(a);
  }
  // Fault pages in by writing `byte + i` to the first byte of page i.
  void touch(unsigned long addr, long npages, uint8_t byte = 0x10, mm_struct* m = nullptr) {
    for (long i = 0; i < npages; i++) ASSERT_EQ(mm_store(m ? m : mm, addr + i * PG, uint8_t(byte + i)), 0);
  }

  mm_struct* mm = nullptr;
  std::optional<cpu_scope> cpu_;
  bool created_ = false;
};

// strategy x pte mode; tlb left to its default (ipi for strategy ipi, else broadcast).
using gup_param = std::tuple<table_strategy, pte_mode>;

inline std::string param_name(const ::testing::TestParamInfo<gup_param>& info) {
  return std::string(to_string(std::get<0>(info.param))) + "_" + to_string(std::get<1>(info.param));
}

class GupParamTest : public GupFixture, public ::testing::WithParamInterface<gup_param> {
 protected:
  machine_config config() override {
    machine_config c;
    c.strategy = std::get<0>(GetParam());
    c.pte = std::get<1>(GetParam());
    return c;
  }
};

#define GUP_INSTANTIATE_ALL(suite)                                                                    \
  INSTANTIATE_TEST_SUITE_P(                                                                          \
      AllModes, suite,                                                                               \
      ::testing::Combine(::testing::Values(table_strategy::ipi, table_strategy::rcu, table_strategy::seqcount), \
                         ::testing::Values(pte_mode::native, pte_mode::pae)),                        \
      ::gupfast::test::param_name)

}  // namespace gupfast::test
