// Deterministic injection for tests: run an operation at a named yield point, once, on the
// thread that reaches it. The injected operation must be one that could really run there
// (a racing writer on another CPU); in particular nothing that waits for this CPU's irqs.
#pragma once
#include <cstring>
#include <functional>

#include "sync/sync.h"

namespace gupfast_test {

class inject_once {
 public:
  inject_once(const char* point, std::function<void()> action) : point_(point), action_(std::move(action)) {
    current() = this;
    gupfast::sync::set_yield_hook(&inject_once::hook, nullptr);
  }
  ~inject_once() {
    gupfast::sync::set_yield_hook(nullptr, nullptr);
    current() = nullptr;
  }
  inject_once(const inject_once&) = delete;
  int fired() const { return fired_; }

 private:
  static inject_once*& current() {
    static inject_once* p = nullptr;
    return p;
  }
  static void hook(const char* name, void*) {
    inject_once* self = current();
    if (!self || self->fired_ || std::strcmp(name, self->point_) != 0) return;
    self->fired_++;  // before the action: its own yield points must not fire again
    self->action_();
  }
  const char* point_;
  std::function<void()> action_;
  int fired_ = 0;
};

}  // namespace gupfast_test
