// Shared helpers for the race and injection tests.
#pragma once
#include <gtest/gtest.h>

#include "gup/gup.h"
#include "machine/machine.h"
#include "support/probe.h"
#include "support/race_harness.h"

namespace gupfast_test {
using namespace gupfast;

using gupfast::test::apply_race_unsafe_env;
using gupfast::test::mapped_pfn;
using gupfast::test::pin_registry;
using gupfast::test::race_machine;

struct machine_guard {
  explicit machine_guard(const machine_config& cfg) { rc = machine_create(cfg); }
  ~machine_guard() {
    if (rc == 0) machine_destroy();
  }
  int rc;
};

inline machine_config make_config(table_strategy s, tlb_mode t, pte_mode p, uint32_t unsafe = 0) {
  machine_config cfg;
  cfg.strategy = s;
  cfg.tlb = t;
  cfg.pte = p;
  cfg.unsafe = unsafe;
  cfg.frames = 1ul << 21;  // 8 GiB: PAE sees physical addresses above 4 GiB
  return cfg;
}

inline uint32_t unsafe_bits(std::initializer_list<unsafe_step> steps) {
  uint32_t m = 0;
  for (auto s : steps) m |= 1u << s;
  return m;
}

}  // namespace gupfast_test
