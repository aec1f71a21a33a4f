// The interpreter of a parsed herd7 C litmus test on the model backend of the sync seam: the
// test's shared memory (one 64-bit word per variable, a sync::spinlock_t per spinlock_t),
// each process's registers, and a process's body run as an explorer thread, every access
// through the seam (herd_prims.h says which call each primitive is).
//
// What it does not model: control dependencies (a store after an `if` on a loaded value is
// ordered by nothing; the weak model has no load buffering, so it never needs to be); plain
// accesses are READ_ONCE / WRITE_ONCE (no data races, as herd7 flags them, and no compiler
// transformations); rcu_dereference is an acquire load.
//
// Context: setup (reset) and finish run in the explorer's direct mode; run() is a thread.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "herd/herd_ast.h"
#include "sync/model.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

class machine {
 public:
  explicit machine(const test& t);

  // Every variable and register to its initial value (the explorer's setup, each execution).
  void reset();
  // Process tid's body (an explorer thread). A runtime error (a dereference of a value that
  // is no variable's address, a division by zero) ends the execution with explore::fail,
  // kind runtime_error_kind, message "FILE:LINE: ...".
  void run(int tid);

  int64_t reg(int proc, int r) const { return regs_[static_cast<size_t>(proc)][static_cast<size_t>(r)]; }
  int64_t final_value(int var) const { return static_cast<int64_t>(words_[static_cast<size_t>(var)]); }
  int64_t value_of(const location& l) const { return l.proc >= 0 ? reg(l.proc, l.reg) : final_value(l.var); }
  // Condition and filter: their truth in the final state.
  bool holds(const prop& p) const;

  int64_t address_of(int var) const;
  // The variable whose address v is, if any.
  std::optional<int> var_at(int64_t v) const;

  static constexpr const char* runtime_error_kind = "litmus-runtime";

 private:
  friend class process_run;
  const test& t_;
  std::unique_ptr<uint64_t[]> words_;
  std::unique_ptr<sync::spinlock_t[]> locks_;
  std::vector<std::vector<int64_t>> regs_;
};

}  // namespace explore::herd
GUPFAST_NS_END
