// Messages between the processes of a parallel search (explore/parallel.cpp): a type byte,
// a 32-bit length and a payload of varints and byte strings, over a stream socket (a
// socketpair to a forked worker, TCP to another machine's shard).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace explore::wire {

enum class msg : uint8_t {
  // coordinator -> worker
  unit = 1,  // bound, path: explore the subtree below these choices
  donate,    // give part of your unit away
  stop,      // the search is over: exhaustive, bound_reached, executions, violation (kind, message, token, preemptions)
  // worker -> coordinator
  hello = 16,  // shard index, its workers: a worker has joined
  additions,   // n x (path, tasks): alternatives found at shared nodes
  donated,     // n x (path, tasks) of newly shared nodes, then m units (paths)
  nothing,     // asked to donate, had nothing to give
  progress,    // executions, cut since the last report
  done,        // executions, cut, bound_cut: the unit is finished
  violation,   // kind, message, token, preemptions, executions, cut
};

class writer {
 public:
  explicit writer(msg type) { buf_.push_back(static_cast<uint8_t>(type)); buf_.resize(5); }
  writer& u(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  writer& bytes(const void* p, size_t n) {
    u(n);
    auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
    return *this;
  }
  writer& s(const std::string& v) { return bytes(v.data(), v.size()); }
  writer& path(const std::vector<uint8_t>& v) { return bytes(v.data(), v.size()); }
  // Send it whole (false: the peer is gone).
  bool send(int fd);

 private:
  std::vector<uint8_t> buf_;
};

class reader {
 public:
  reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  uint64_t u();
  std::string s();
  std::vector<uint8_t> path();
  bool ok() const { return ok_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// Buffered input from one peer: feed() what read() returned, then take messages whole.
class inbox {
 public:
  void feed(const uint8_t* p, size_t n) { buf_.insert(buf_.end(), p, p + n); }
  // The next complete message (its type and payload), or nullopt.
  std::optional<std::pair<msg, std::vector<uint8_t>>> next();

 private:
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
};

// Read what is there (blocking if `wait`) into box; false at EOF or on an error.
bool receive(int fd, inbox* box, bool wait);

}  // namespace explore::wire
GUPFAST_NS_END
