// A herd7 C litmus test (the format of the Linux kernel's tools/memory-model/litmus-tests),
// parsed: shared variables with their initial values, up to explore::MAX_THREADS processes
// of C statements over int and pointer registers, and the final condition.
//
//   C SB                              the test's name
//   (* Result: Sometimes *)           LKMM's verdict (herd7's Observation); our own files may
//                                     add Result-sc / Result-tso / Result-weak (herd_parse.h)
//   { x=1; int *p=y; spinlock_t s; }  the initial state: every variable is 0 unless given;
//                                     a variable's name as a value is its address
//   P0(int *x, int *y) { ... }        a process: its parameters are registers that hold the
//                                     address of the variable of the same name
//   exists (0:r0=0 /\ 1:r0=0)         the condition on the final state
//
// Every value is a 64-bit integer; an address is the address of a variable's slot in the
// run's memory (herd_exec.h), printed as the variable's name.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

// ---- expressions --------------------------------------------------------------------------
enum class unop : uint8_t { neg, lnot, bnot };
enum class binop : uint8_t { mul, div, mod, add, sub, shl, shr, lt, le, gt, ge, eq, ne, band, bxor, bor, land, lor };

struct expr {
  enum class kind : uint8_t {
    number,  // a constant
    reg,     // a register of the running process (index)
    address, // the address of variable `index` (&x, or a variable's name as a value)
    load,    // a plain load of the location at args[0] (*e); herd's plain access, here a
             // READ_ONCE (no data-race semantics)
    unary,
    binary,
    call,    // a kernel primitive (index: herd_prims.h's id); args as its roles say
  };
  kind k = kind::number;
  int line = 0;
  int64_t number = 0;
  int index = -1;
  unop uop = unop::neg;
  binop bop = binop::add;
  // A load (load, or a call that reads memory) whose value the process uses as an address:
  // the dependent accesses are ordered after it (sync::address_dependency, herd_exec.cpp).
  bool feeds_address = false;
  std::vector<expr> args;
};

// ---- statements ---------------------------------------------------------------------------
struct stmt {
  enum class kind : uint8_t {
    eval,      // e[0] for its effects (a primitive's call)
    set_reg,   // reg = e[0]
    store,     // *e[0] = e[1]: a plain store (herd's plain access, here a WRITE_ONCE)
    branch,    // if (e[0]) body else other
    block,     // { body }
  };
  kind k = kind::eval;
  int line = 0;
  int reg = -1;
  std::vector<expr> e;
  std::vector<stmt> body, other;
};

// ---- processes and variables -------------------------------------------------------------
struct reg_info {
  std::string name;
  int param_var = -1;  // a parameter: holds the address of this variable
  bool pointer = false;  // declared with a '*' (printing only: values print as names anyway)
};

struct process {
  int id = 0;
  int line = 0;
  std::vector<reg_info> regs;  // parameters first, then the locals in declaration order
  std::vector<stmt> body;
};

struct variable {
  std::string name;
  int line = 0;
  bool lock = false;       // spinlock_t: a sync::spinlock_t, not a word
  int64_t init = 0;
  int init_addr = -1;      // >= 0: the initial value is this variable's address
};

// ---- the final condition ------------------------------------------------------------------
// A location of the final state: process proc's register reg, or variable var's value.
struct location {
  int proc = -1, reg = -1;
  int var = -1;
  bool operator<(const location& o) const {
    return proc != o.proc ? proc < o.proc : reg != o.reg ? reg < o.reg : var < o.var;
  }
  bool operator==(const location& o) const { return proc == o.proc && reg == o.reg && var == o.var; }
};

// A value in the condition or the initial state: a number, or a variable's address.
struct value {
  int64_t number = 0;
  int var = -1;
};

struct prop {
  enum class kind : uint8_t { atom, truth, negation, conj, disj };
  kind k = kind::truth;
  bool truth = true;
  location loc;
  value val;
  std::vector<prop> kids;
};

enum class quantifier : uint8_t { exists, not_exists, forall };

// A register's initial value from the initial state ("0:r1=x;").
struct reg_init {
  int proc = 0, reg = 0;
  value val;
};

struct test {
  std::string file;  // as given, for messages
  std::string name;
  // "Result", "Result-sc", "Result-tso", "Result-weak" -> Never | Sometimes | Always
  std::map<std::string, std::string> results;
  std::vector<variable> vars;
  std::vector<process> procs;
  std::vector<reg_init> reg_inits;  // resolved once the processes are parsed
  std::vector<location> locations;  // the `locations [...]` line
  std::optional<prop> filter;
  quantifier quant = quantifier::exists;
  prop cond;
  int cond_line = 0;
};

}  // namespace explore::herd
GUPFAST_NS_END
