// The kernel primitives of herd7's C litmus tests (herd_prims.h has the mapping and why).
#include "herd/herd_prims.h"

#include <array>

GUPFAST_NS_BEGIN
namespace explore::herd {
namespace {

using mo = std::memory_order;
constexpr mo relaxed = std::memory_order_relaxed;
constexpr mo acquire = std::memory_order_acquire;
constexpr mo release = std::memory_order_release;
constexpr mo full = std::memory_order_seq_cst;  // the kernel's fully ordered: smp_mb each side

// One primitive; `variants`: it also exists as NAME_relaxed, NAME_acquire, NAME_release (the
// value-returning atomics), which change only its order.
struct entry {
  prim p;
  bool variants = false;
};

constexpr prim load(std::string_view n, std::string_view roles, mo o) { return {n, prim_op::load, roles, o}; }
constexpr prim store(std::string_view n, std::string_view roles, mo o) { return {n, prim_op::store, roles, o}; }
constexpr prim fence(std::string_view n, memory::fence f) { return {n, prim_op::fence, "", relaxed, f}; }
constexpr prim rmw(std::string_view n, std::string_view roles, mo o, alu fn, ret r, int operand) {
  return {n, prim_op::rmw, roles, o, memory::fence::full, fn, r, operand};
}
constexpr prim simple(std::string_view n, prim_op op, std::string_view roles, ret r = ret::none) {
  return {n, op, roles, full, memory::fence::full, alu::add, r};
}

constexpr std::array kTable = {
    // plain accesses and their ordered forms
    entry{load("READ_ONCE", "L", relaxed)},
    entry{store("WRITE_ONCE", "LV", relaxed)},
    entry{load("smp_load_acquire", "P", acquire)},
    entry{store("smp_store_release", "PV", release)},
    entry{store("smp_store_mb", "LV", full)},  // sync::smp_store_mb: the store, then smp_mb
    entry{load("rcu_dereference", "L", acquire)},
    entry{store("rcu_assign_pointer", "LV", release)},
    // fences
    entry{fence("smp_mb", memory::fence::full)},
    entry{fence("smp_rmb", memory::fence::read)},
    entry{fence("smp_wmb", memory::fence::write)},
    entry{fence("smp_mb__before_atomic", memory::fence::before_atomic)},
    entry{fence("smp_mb__after_atomic", memory::fence::after_atomic)},
    entry{fence("smp_mb__after_spinlock", memory::fence::full)},
    entry{fence("smp_mb__after_unlock_lock", memory::fence::full)},
    entry{fence("barrier", memory::fence::compiler)},
    // atomic_t: plain accesses
    entry{load("atomic_read", "P", relaxed)},
    entry{store("atomic_set", "PV", relaxed)},
    entry{load("atomic_read_acquire", "P", acquire)},
    entry{store("atomic_set_release", "PV", release)},
    // non-returning RMWs: unordered
    entry{rmw("atomic_add", "VP", relaxed, alu::add, ret::none, 0)},
    entry{rmw("atomic_sub", "VP", relaxed, alu::sub, ret::none, 0)},
    entry{rmw("atomic_inc", "P", relaxed, alu::add, ret::none, -1)},
    entry{rmw("atomic_dec", "P", relaxed, alu::sub, ret::none, -1)},
    entry{rmw("atomic_and", "VP", relaxed, alu::band, ret::none, 0)},
    entry{rmw("atomic_or", "VP", relaxed, alu::bor, ret::none, 0)},
    entry{rmw("atomic_xor", "VP", relaxed, alu::bxor, ret::none, 0)},
    entry{rmw("atomic_andnot", "VP", relaxed, alu::andnot, ret::none, 0)},
    // value-returning RMWs: fully ordered, and the _relaxed / _acquire / _release variants
    entry{rmw("atomic_add_return", "VP", full, alu::add, ret::updated, 0), true},
    entry{rmw("atomic_sub_return", "VP", full, alu::sub, ret::updated, 0), true},
    entry{rmw("atomic_inc_return", "P", full, alu::add, ret::updated, -1), true},
    entry{rmw("atomic_dec_return", "P", full, alu::sub, ret::updated, -1), true},
    entry{rmw("atomic_fetch_add", "VP", full, alu::add, ret::old, 0), true},
    entry{rmw("atomic_fetch_sub", "VP", full, alu::sub, ret::old, 0), true},
    entry{rmw("atomic_fetch_inc", "P", full, alu::add, ret::old, -1), true},
    entry{rmw("atomic_fetch_dec", "P", full, alu::sub, ret::old, -1), true},
    entry{rmw("atomic_fetch_and", "VP", full, alu::band, ret::old, 0), true},
    entry{rmw("atomic_fetch_or", "VP", full, alu::bor, ret::old, 0), true},
    entry{rmw("atomic_fetch_xor", "VP", full, alu::bxor, ret::old, 0), true},
    entry{rmw("atomic_fetch_andnot", "VP", full, alu::andnot, ret::old, 0), true},
    entry{rmw("atomic_xchg", "PV", full, alu::set, ret::old, 1), true},
    entry{rmw("xchg", "PV", full, alu::set, ret::old, 1), true},
    entry{{"atomic_cmpxchg", prim_op::cmpxchg, "PVV", full, memory::fence::full, alu::set, ret::old}, true},
    entry{{"cmpxchg", prim_op::cmpxchg, "PVV", full, memory::fence::full, alu::set, ret::old}, true},
    entry{rmw("atomic_inc_and_test", "P", full, alu::add, ret::is_zero, -1)},
    entry{rmw("atomic_dec_and_test", "P", full, alu::sub, ret::is_zero, -1)},
    entry{rmw("atomic_sub_and_test", "VP", full, alu::sub, ret::is_zero, 0)},
    entry{rmw("atomic_add_negative", "VP", full, alu::add, ret::is_negative, 0)},
    entry{simple("atomic_add_unless", prim_op::add_unless, "PVV", ret::success)},
    entry{simple("atomic_fetch_add_unless", prim_op::add_unless, "PVV", ret::old)},
    entry{simple("atomic_inc_not_zero", prim_op::add_unless, "P", ret::success)},
    // spinlock_t
    entry{simple("spin_lock", prim_op::lock, "P")},
    entry{simple("spin_unlock", prim_op::unlock, "P")},
    entry{simple("spin_trylock", prim_op::trylock, "P", ret::success)},
    entry{simple("spin_is_locked", prim_op::is_locked, "P", ret::success)},
    // RCU
    entry{simple("rcu_read_lock", prim_op::rcu_read_lock, "")},
    entry{simple("rcu_read_unlock", prim_op::rcu_read_unlock, "")},
    entry{simple("synchronize_rcu", prim_op::synchronize_rcu, "")},
    entry{simple("synchronize_rcu_expedited", prim_op::synchronize_rcu, "")},
};

// An id is entry * 4 + variant: 0 as the entry is, 1 _relaxed, 2 _acquire, 3 _release.
constexpr std::array<std::pair<std::string_view, mo>, 3> kVariants = {{
    {"_relaxed", relaxed}, {"_acquire", acquire}, {"_release", release}}};

std::optional<int> exact(std::string_view name, bool variant) {
  for (size_t i = 0; i < kTable.size(); i++)
    if (kTable[i].p.name == name && (!variant || kTable[i].variants)) return static_cast<int>(i);
  return std::nullopt;
}

}  // namespace

std::optional<int> find_prim(std::string_view name) {
  if (auto i = exact(name, false)) return *i * 4;
  for (size_t v = 0; v < kVariants.size(); v++) {
    std::string_view suffix = kVariants[v].first;
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix)
      if (auto i = exact(name.substr(0, name.size() - suffix.size()), true)) return *i * 4 + static_cast<int>(v) + 1;
  }
  return std::nullopt;
}

prim prim_at(int id) {
  prim p = kTable[static_cast<size_t>(id / 4)].p;
  if (id % 4) p.mo = kVariants[static_cast<size_t>(id % 4 - 1)].second;
  return p;
}

bool reads_memory(const prim& p) {
  return p.op == prim_op::load || p.op == prim_op::cmpxchg || p.op == prim_op::add_unless ||
         (p.op == prim_op::rmw && p.result != ret::none);
}

}  // namespace explore::herd
GUPFAST_NS_END
