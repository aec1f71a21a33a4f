// The interpreter of herd7 C litmus tests on the sync seam (herd_exec.h).
#include "herd/herd_exec.h"

#include <string>

#include "explore/search.h"
#include "herd/herd_prims.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

machine::machine(const test& t)
    : t_(t),
      words_(new uint64_t[t.vars.size() + 1]()),
      locks_(new sync::spinlock_t[t.vars.size() + 1]),
      regs_(t.procs.size()) {
  for (size_t i = 0; i < t.procs.size(); i++) regs_[i].assign(t.procs[i].regs.size(), 0);
}

int64_t machine::address_of(int var) const {
  const void* p = t_.vars[static_cast<size_t>(var)].lock ? static_cast<const void*>(&locks_[static_cast<size_t>(var)])
                                                          : static_cast<const void*>(&words_[static_cast<size_t>(var)]);
  return static_cast<int64_t>(reinterpret_cast<uintptr_t>(p));
}

std::optional<int> machine::var_at(int64_t v) const {
  for (size_t i = 0; i < t_.vars.size(); i++)
    if (address_of(static_cast<int>(i)) == v) return static_cast<int>(i);
  return std::nullopt;
}

void machine::reset() {
  for (size_t i = 0; i < t_.vars.size(); i++) {
    const variable& v = t_.vars[i];
    words_[i] = static_cast<uint64_t>(v.init_addr >= 0 ? address_of(v.init_addr) : v.init);
    locks_[i] = sync::spinlock_t{};
  }
  for (size_t p = 0; p < t_.procs.size(); p++) {
    const process& proc = t_.procs[p];
    for (size_t r = 0; r < proc.regs.size(); r++)
      regs_[p][r] = proc.regs[r].param_var >= 0 ? address_of(proc.regs[r].param_var) : 0;
  }
  for (const reg_init& ri : t_.reg_inits)
    regs_[static_cast<size_t>(ri.proc)][static_cast<size_t>(ri.reg)] = ri.val.var >= 0 ? address_of(ri.val.var) : ri.val.number;
}

bool machine::holds(const prop& p) const {
  switch (p.k) {
    case prop::kind::truth:
      return p.truth;
    case prop::kind::atom:
      return value_of(p.loc) == (p.val.var >= 0 ? address_of(p.val.var) : p.val.number);
    case prop::kind::negation:
      return !holds(p.kids[0]);
    case prop::kind::conj:
      return holds(p.kids[0]) && holds(p.kids[1]);
    case prop::kind::disj:
      return holds(p.kids[0]) || holds(p.kids[1]);
  }
  return false;
}

// One process's body running on its explorer thread.
class process_run {
 public:
  process_run(machine& m, int tid)
      : m_(m), p_(m.t_.procs[static_cast<size_t>(tid)]), regs_(m.regs_[static_cast<size_t>(tid)]) {}

  void run() { exec(p_.body); }

 private:
  [[noreturn]] void error(int line, const std::string& what) const {
    fail(machine::runtime_error_kind, m_.t_.file + ":" + std::to_string(line) + ": " + what);
  }

  void exec(const std::vector<stmt>& body) {
    for (const stmt& s : body) exec(s);
  }

  void exec(const stmt& s) {
    switch (s.k) {
      case stmt::kind::eval:
        eval(s.e[0]);
        break;
      case stmt::kind::set_reg:
        regs_[static_cast<size_t>(s.reg)] = eval(s.e[0]);
        break;
      case stmt::kind::store: {
        uint64_t* w = word(eval(s.e[0]), s.line);
        sync::rt::store(w, static_cast<uint64_t>(eval(s.e[1])), sync::relaxed, sync::site::current());
        break;
      }
      case stmt::kind::branch:
        exec(eval(s.e[0]) ? s.body : s.other);
        break;
      case stmt::kind::block:
        exec(s.body);
        break;
    }
  }

  // The int variable at address a.
  uint64_t* word(int64_t a, int line) const {
    std::optional<int> v = m_.var_at(a);
    if (!v) error(line, "dereference of " + std::to_string(a) + ", which is no variable's address");
    if (m_.t_.vars[static_cast<size_t>(*v)].lock) error(line, m_.t_.vars[static_cast<size_t>(*v)].name + " is a spinlock_t");
    return &m_.words_[static_cast<size_t>(*v)];
  }

  sync::spinlock_t* lock(int64_t a, int line) const {
    std::optional<int> v = m_.var_at(a);
    if (!v || !m_.t_.vars[static_cast<size_t>(*v)].lock) error(line, "the lock argument is not a spinlock_t");
    return &m_.locks_[static_cast<size_t>(*v)];
  }

  // A load whose value the process uses as an address: what it points to is ordered after
  // it (an address dependency), told right after the load as the seam asks.
  int64_t loaded(const expr& e, uint64_t v) const {
    if (e.feeds_address)
      if (std::optional<int> var = m_.var_at(static_cast<int64_t>(v))) {
        bool lk = m_.t_.vars[static_cast<size_t>(*var)].lock;
        sync::address_dependency(reinterpret_cast<const void*>(static_cast<uintptr_t>(v)),
                                 lk ? sizeof(sync::spinlock_t) : sizeof(uint64_t));
      }
    return static_cast<int64_t>(v);
  }

  int64_t eval(const expr& e) {
    switch (e.k) {
      case expr::kind::number:
        return e.number;
      case expr::kind::reg:
        return regs_[static_cast<size_t>(e.index)];
      case expr::kind::address:
        return m_.address_of(e.index);
      case expr::kind::load: {
        uint64_t* w = word(eval(e.args[0]), e.line);
        return loaded(e, sync::rt::load(w, sync::relaxed, sync::site::current()));
      }
      case expr::kind::unary: {
        int64_t a = eval(e.args[0]);
        return e.uop == unop::neg ? -a : e.uop == unop::bnot ? ~a : !a;
      }
      case expr::kind::binary:
        return binary(e);
      case expr::kind::call:
        return call(e);
    }
    return 0;
  }

  int64_t binary(const expr& e) {
    int64_t a = eval(e.args[0]);
    if (e.bop == binop::land) return a && eval(e.args[1]);  // C's short circuit
    if (e.bop == binop::lor) return a || eval(e.args[1]);
    int64_t b = eval(e.args[1]);
    switch (e.bop) {
      case binop::mul: return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
      case binop::div:
      case binop::mod:
        if (b == 0) error(e.line, "division by zero");
        return e.bop == binop::div ? a / b : a % b;
      case binop::add: return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
      case binop::sub: return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
      case binop::shl: return static_cast<int64_t>(static_cast<uint64_t>(a) << (b & 63));
      case binop::shr: return a >> (b & 63);
      case binop::lt: return a < b;
      case binop::le: return a <= b;
      case binop::gt: return a > b;
      case binop::ge: return a >= b;
      case binop::eq: return a == b;
      case binop::ne: return a != b;
      case binop::band: return a & b;
      case binop::bxor: return a ^ b;
      case binop::bor: return a | b;
      case binop::land:
      case binop::lor: break;
    }
    return 0;
  }

  static uint64_t apply(alu fn, uint64_t old, uint64_t v) {
    switch (fn) {
      case alu::add: return old + v;
      case alu::sub: return old - v;
      case alu::band: return old & v;
      case alu::bor: return old | v;
      case alu::bxor: return old ^ v;
      case alu::andnot: return old & ~v;
      case alu::set: return v;
    }
    return old;
  }

  static int64_t result(ret r, uint64_t old, uint64_t updated) {
    switch (r) {
      case ret::old: return static_cast<int64_t>(old);
      case ret::updated: return static_cast<int64_t>(updated);
      case ret::is_zero: return updated == 0;
      case ret::is_negative: return static_cast<int64_t>(updated) < 0;
      default: return 0;
    }
  }

  int64_t call(const expr& e) {
    prim p = prim_at(e.index);
    int64_t a[3] = {0, 0, 0};
    for (size_t i = 0; i < e.args.size(); i++) a[i] = eval(e.args[i]);  // left to right
    size_t ptr = p.roles.find_first_not_of('V');  // the location's argument
    sync::site here = sync::site::current();
    switch (p.op) {
      case prim_op::load:
        return loaded(e, sync::rt::load(word(a[ptr], e.line), p.mo, here));
      case prim_op::store:
        sync::rt::store(word(a[ptr], e.line), static_cast<uint64_t>(a[1]), p.mo, here);
        return 0;
      case prim_op::fence:
        sync::rt::fence_point(p.fence, here);
        return 0;
      case prim_op::rmw: {
        uint64_t v = p.operand < 0 ? 1 : static_cast<uint64_t>(a[p.operand]);
        uint64_t old = sync::rt::rmw(word(a[ptr], e.line), [&](uint64_t o) { return apply(p.fn, o, v); }, p.mo, here);
        return loaded(e, static_cast<uint64_t>(result(p.result, old, apply(p.fn, old, v))));
      }
      case prim_op::cmpxchg: {
        auto expected = static_cast<uint64_t>(a[1]);
        sync::rt::cmpxchg(word(a[ptr], e.line), expected, static_cast<uint64_t>(a[2]), p.mo, here);
        return loaded(e, expected);  // the value read, whether it succeeded or not
      }
      case prim_op::add_unless:
        return add_unless(e, p, word(a[ptr], e.line), e.args.size() == 1 ? 1 : a[1], e.args.size() == 1 ? 0 : a[2]);
      case prim_op::lock:
        lock(a[0], e.line)->lock(here);
        return 0;
      case prim_op::unlock:
        lock(a[0], e.line)->unlock(here);
        return 0;
      case prim_op::trylock:
        return lock(a[0], e.line)->try_lock(here);
      case prim_op::is_locked:
        return lock(a[0], e.line)->is_locked(here);
      case prim_op::rcu_read_lock:
        sync::rcu_read_lock(here);
        return 0;
      case prim_op::rcu_read_unlock:
        sync::rcu_read_unlock(here);
        return 0;
      case prim_op::synchronize_rcu:
        sync::synchronize_rcu(here);
        return 0;
    }
    return 0;
  }

  // atomic_add_unless(v, a, u): a relaxed read, then fully ordered cmpxchgs until one adds
  // or reads u (the kernel's loop; a failed attempt orders nothing).
  int64_t add_unless(const expr& e, const prim& p, uint64_t* w, int64_t add, int64_t unless) {
    sync::site here = sync::site::current();
    uint64_t seen = sync::rt::load(w, sync::relaxed, here);
    while (static_cast<int64_t>(seen) != unless)
      if (sync::rt::cmpxchg(w, seen, seen + static_cast<uint64_t>(add), sync::seq_cst, here))
        return loaded(e, p.result == ret::old ? seen : 1);
    return loaded(e, p.result == ret::old ? seen : 0);
  }

  machine& m_;
  const process& p_;
  std::vector<int64_t>& regs_;
};

void machine::run(int tid) { process_run(*this, tid).run(); }

}  // namespace explore::herd
GUPFAST_NS_END
