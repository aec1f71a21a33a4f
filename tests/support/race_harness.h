// Shared pieces of the real-thread race tests: a registry of outstanding pins checked by
// the allocator's free hook (pinned-freed), and the GUPFAST_RACE_UNSAFE experiment knob that
// runs the same races against a mutant (docs/gup.md, section 3).
#pragma once
#include <atomic>
#include <memory>
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

// The machine of one real-thread race test: GUPFAST_RACE_UNSAFE applied to cfg, a pin
// registry on the allocator's free hook, yield points amplified with seed. For a fixture's
// SetUp/TearDown.
class race_machine {
 public:
  void start(machine_config cfg, uint64_t seed) {
    apply_race_unsafe_env(cfg);
    ASSERT_EQ(machine_create(cfg), 0);
    started_ = true;
    reg_ = std::make_unique<pin_registry>(cfg.frames);
    physmem_set_hooks({pin_registry::frame_freed, nullptr, reg_.get()});
    sync::set_amplify(true, seed);
  }
  void stop() {
    if (!started_) return;
    sync::set_amplify(false, 0);
    physmem_set_hooks({});
    machine_destroy();
    started_ = false;
  }
  pin_registry* reg() { return reg_.get(); }

 private:
  bool started_ = false;
  std::unique_ptr<pin_registry> reg_;
};

}  // namespace gupfast::test
