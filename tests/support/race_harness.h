// Shared pieces of the real-thread race tests: a registry of outstanding pins checked by
// the allocator's free hook (pinned-freed), and the GUPFAST_RACE_UNSAFE experiment knob that
// runs the same races against a mutant (docs/gup.md, section 3).
#pragma once
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "machine/machine.h"

namespace gupfast::test {

// Pins outstanding per frame; the free hook counts frames freed while pinned.
struct pin_registry {
  std::vector<std::atomic<int>> pins;
  std::atomic<int> freed_while_pinned{0};
  explicit pin_registry(unsigned long frames) : pins(frames) {}
  static void frame_freed(void* ctx, unsigned long pfn, int order) {
    auto* r = static_cast<pin_registry*>(ctx);
    for (unsigned long i = 0; i < (1ul << order); i++)
      if (r->pins[pfn + i].load(std::memory_order_relaxed) > 0) r->freed_while_pinned.fetch_add(1);
  }
};

// Apply GUPFAST_RACE_UNSAFE=name[,name...] to cfg (a fatal failure for an unknown name).
inline void apply_race_unsafe_env(machine_config& cfg) {
  const char* u = std::getenv("GUPFAST_RACE_UNSAFE");
  if (!u) return;
  std::string bad;
  auto mask = parse_unsafe_list(u, &bad);
  ASSERT_TRUE(mask) << "unknown unsafe step " << bad;
  cfg.unsafe = *mask;
}

}  // namespace gupfast::test
