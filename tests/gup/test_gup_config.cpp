// The unsafe switches: every one defaults to safe, each is named, and the names parse.
#include <gtest/gtest.h>

#include "machine/machine.h"

using namespace gupfast;

namespace {

// The names are part of the command-line interface (--unsafe): renaming one is a change
// the stress and explorer issues must see.
const char* const kNames[] = {
    "no-pte-recheck",  "no-pmd-recheck",  "no-folio-recheck",  "no-leaf-recheck",
    "get-not-try-get", "no-wp-seq",       "no-table-sync",     "torn-pte-read",
    "no-reclaim-freeze", "no-flush-before-free", "no-collapse-sync", "no-seq-validate",
    "no-pin-mb",       "no-pae-rmb",      "no-pae-wmb",        "no-pt-reclaim-recheck",
    "no-pte-map-recheck", "torn-pmd-read",   "no-lazyfree-refcheck", "no-lazyfree-mb",
    "cow-reuse-mapcount", "no-pinned-swap-check", "no-unmap-pin-check",
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == NR_UNSAFE_STEPS);

TEST(GupUnsafe, DefaultsAreSafe) {
  machine_config c;
  EXPECT_EQ(c.unsafe, 0u);
  EXPECT_EQ(active_config{}.unsafe, 0u);
  ASSERT_EQ(machine_create(c), 0);
  EXPECT_EQ(g_cfg.unsafe, 0u);
  for (unsigned i = 0; i < NR_UNSAFE_STEPS; i++) EXPECT_FALSE(is_unsafe(static_cast<unsafe_step>(i))) << i;
  EXPECT_NE(machine_describe().find("unsafe=none"), std::string::npos) << machine_describe();
  machine_destroy();
}

TEST(GupUnsafe, EveryStepNamed) {
  for (unsigned i = 0; i < NR_UNSAFE_STEPS; i++) {
    EXPECT_STREQ(unsafe_steps[i].name, kNames[i]) << i;
    EXPECT_NE(unsafe_steps[i].check, nullptr);
    EXPECT_NE(unsafe_steps[i].race, nullptr);
    EXPECT_GT(std::string(unsafe_steps[i].check).size(), 0u);
    EXPECT_GT(std::string(unsafe_steps[i].race).size(), 0u);
  }
}

TEST(GupUnsafe, ParseEachNameToItsBit) {
  for (unsigned i = 0; i < NR_UNSAFE_STEPS; i++) {
    std::string bad = "untouched";
    auto m = parse_unsafe_list(kNames[i], &bad);
    ASSERT_TRUE(m.has_value()) << kNames[i];
    EXPECT_EQ(*m, 1u << i) << kNames[i];
    EXPECT_EQ(bad, "untouched");
    EXPECT_EQ(unsafe_mask_names(*m), kNames[i]);
  }
}

TEST(GupUnsafe, ParseAllNames) {
  std::string list;
  for (const char* n : kNames) list += std::string(list.empty() ? "" : ",") + n;
  std::string bad;
  auto m = parse_unsafe_list(list, &bad);
  ASSERT_TRUE(m.has_value()) << bad;
  EXPECT_EQ(*m, (1u << NR_UNSAFE_STEPS) - 1);
  EXPECT_EQ(unsafe_mask_names(*m), list) << "round trip";
  // Order and repetition do not matter; empty items are ignored.
  auto m2 = parse_unsafe_list("no-wp-seq,,no-pte-recheck,no-wp-seq", &bad);
  ASSERT_TRUE(m2.has_value());
  EXPECT_EQ(*m2, (1u << NO_WP_SEQ) | (1u << NO_PTE_RECHECK));
  auto empty = parse_unsafe_list("", &bad);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, 0u);
  EXPECT_EQ(unsafe_mask_names(0), "");
}

TEST(GupUnsafe, ParseRejectsUnknownNameAndReportsIt) {
  std::string bad;
  EXPECT_FALSE(parse_unsafe_list("no-pte-recheck,no-such-check", &bad).has_value());
  EXPECT_EQ(bad, "no-such-check");
  EXPECT_FALSE(parse_unsafe_list("NO-PTE-RECHECK", &bad).has_value()) << "names are exact";
  EXPECT_EQ(bad, "NO-PTE-RECHECK");
  EXPECT_FALSE(parse_unsafe_list("no-pte-recheck ", &bad).has_value());
  EXPECT_FALSE(parse_unsafe_list("pte-recheck", &bad).has_value());
  EXPECT_EQ(bad, "pte-recheck");
  EXPECT_FALSE(parse_unsafe_list("no-wp-seq,bogus,no-pte-recheck", nullptr).has_value()) << "bad may be null";
}

TEST(GupUnsafe, MachineReportsAndValidatesUnsafeMask) {
  machine_config c;
  c.unsafe = 1u << NR_UNSAFE_STEPS;
  EXPECT_EQ(machine_create(c), -EINVAL) << "unknown bit";
  c.unsafe = (1u << NO_PTE_RECHECK) | (1u << TORN_PTE_READ);
  ASSERT_EQ(machine_create(c), 0);
  EXPECT_TRUE(is_unsafe(NO_PTE_RECHECK));
  EXPECT_TRUE(is_unsafe(TORN_PTE_READ));
  EXPECT_FALSE(is_unsafe(NO_PMD_RECHECK));
  EXPECT_NE(machine_describe().find("unsafe=no-pte-recheck,torn-pte-read"), std::string::npos)
      << machine_describe();
  machine_destroy();
  EXPECT_EQ(g_cfg.unsafe, 0u) << "destroy restores the safe defaults";
}

TEST(GupUnsafe, StrategyIpiNeedsIpiFlushes) {
  machine_config c;
  c.strategy = table_strategy::ipi;
  c.tlb = tlb_mode::broadcast;
  EXPECT_EQ(machine_create(c), -EINVAL);
  c.tlb.reset();
  ASSERT_EQ(machine_create(c), 0);
  EXPECT_EQ(g_cfg.tlb, tlb_mode::ipi);
  machine_destroy();
  c.strategy = table_strategy::seqcount;
  ASSERT_EQ(machine_create(c), 0);
  EXPECT_EQ(g_cfg.tlb, tlb_mode::broadcast);
  machine_destroy();
}

}  // namespace
