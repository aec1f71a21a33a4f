// Live progress of `gupfast explore` on stderr, when stderr is a terminal: one line rewritten
// in place (as `gupfast stress` shows), erased before anything else is printed. Nothing of it
// reaches a pipe or a file.
#pragma once
#include <cstdint>
#include <string>

namespace gupfast::cli {

class progress_line {
 public:
  progress_line();  // on only if stderr is a terminal
  ~progress_line() { clear(); }
  bool on() const { return on_; }
  void show(const std::string& text);
  void clear();

 private:
  bool on_ = false;
  bool shown_ = false;
};

// "12,345 executions (23,100/s), bound 2" (+ ", stale reads 1" under weak memory (stale >= 0),
// ", 3 cut", ", 4 workers" when there are some).
std::string progress_text(uint64_t executions, uint64_t cut, int bound, int stale, double seconds, int workers);

}  // namespace gupfast::cli
