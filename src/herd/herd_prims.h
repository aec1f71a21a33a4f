// The kernel primitives a herd7 C litmus test may call, and what each is on the sync seam
// (sync/model.h), after herd7's linux.def and Documentation/atomic_t.txt:
//
//   READ_ONCE(*x), WRITE_ONCE(*x, v)        relaxed load / store
//   smp_load_acquire(x), smp_store_release(x, v), smp_store_mb(*x, v)
//                                           acquire / release / store then smp_mb
//   rcu_dereference(*p)                     an acquire load: conservative (LKMM orders only
//                                           the accesses that depend on it; the seam keeps
//                                           no dependency of a register's value)
//   rcu_assign_pointer(*p, v)               smp_store_release
//   smp_mb, smp_rmb, smp_wmb, smp_mb__{before,after}_atomic, barrier
//   smp_mb__after_spinlock, smp_mb__after_unlock_lock
//                                           smp_mb (a full fence: what LKMM gives them)
//   atomic_read / atomic_set (relaxed), atomic_read_acquire / atomic_set_release
//   atomic_{add,sub,inc,dec,and,or,xor,andnot}   non-returning: relaxed RMWs
//   atomic_{add,sub,inc,dec}_return, atomic_fetch_{add,sub,inc,dec,and,or,xor,andnot},
//   atomic_xchg, atomic_cmpxchg, xchg, cmpxchg   fully ordered (seq_cst) RMWs, and their
//                                           _relaxed / _acquire / _release variants
//   atomic_{inc,dec,sub}_and_test, atomic_add_negative   fully ordered
//   atomic_add_unless, atomic_fetch_add_unless, atomic_inc_not_zero
//                                           a relaxed read, then a fully ordered cmpxchg
//                                           until it succeeds or reads the excluded value
//                                           (a failed one is unordered, as the kernel's)
//   spin_lock, spin_unlock, spin_trylock, spin_is_locked   sync::spinlock_t
//   rcu_read_lock, rcu_read_unlock, synchronize_rcu(_expedited)   sync:: RCU
//
// Argument roles: a location (READ_ONCE(*x): the address of the lvalue), a pointer (smp_load_
// acquire(x): its value is the address), a value. Anything else (srcu, call_rcu, smp_cond_
// load_*, atomic64_*) is reported as unsupported.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "memory/memory_model.h"
#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

enum class prim_op : uint8_t {
  load, store, fence,
  rmw,         // *p = alu(*p, v); result as `ret` says
  cmpxchg,     // (p, old, new): returns the value read
  add_unless,  // (p, a, u): add a unless *p == u
  lock, unlock, trylock, is_locked,
  rcu_read_lock, rcu_read_unlock, synchronize_rcu,
};
enum class alu : uint8_t { add, sub, band, bor, bxor, andnot, set };
enum class ret : uint8_t { none, old, updated, is_zero, is_negative, success };

// Roles of the arguments, one letter each: L location, P pointer, V value.
struct prim {
  std::string_view name;
  prim_op op = prim_op::load;
  std::string_view roles;
  std::memory_order mo = std::memory_order_relaxed;
  memory::fence fence = memory::fence::full;
  alu fn = alu::add;
  ret result = ret::none;
  int operand = -1;  // rmw: the argument that is the operand (-1: the constant 1)
};

// The primitive called `name`, or nullopt; its id (expr::index) names it in the AST.
std::optional<int> find_prim(std::string_view name);
prim prim_at(int id);
// Does a call of it read memory (its value can be used as an address)?
bool reads_memory(const prim& p);

}  // namespace explore::herd
GUPFAST_NS_END
