// The parser of a herd7 C litmus test's process bodies: declarations of int and pointer
// registers, assignments, plain stores, if / else, blocks, and C expressions with the
// kernel's primitives (herd_prims.h) as calls. Then which loads feed an address (the
// address dependencies the interpreter tells the memory model about).
#include <functional>
#include <set>

#include "herd/herd_parse.h"
#include "herd/herd_prims.h"

GUPFAST_NS_BEGIN
namespace explore::herd {
namespace {

struct binop_info {
  std::string_view text;
  binop op;
  int prec;  // C's: higher binds tighter
};
constexpr binop_info kBinops[] = {
    {"||", binop::lor, 1}, {"&&", binop::land, 2}, {"|", binop::bor, 3},  {"^", binop::bxor, 4},
    {"&", binop::band, 5}, {"==", binop::eq, 6},   {"!=", binop::ne, 6},  {"<", binop::lt, 7},
    {"<=", binop::le, 7},  {">", binop::gt, 7},    {">=", binop::ge, 7},  {"<<", binop::shl, 8},
    {">>", binop::shr, 8}, {"+", binop::add, 9},   {"-", binop::sub, 9},  {"*", binop::mul, 10},
    {"/", binop::div, 10}, {"%", binop::mod, 10},
};

const binop_info* binop_of(const token& t) {
  if (t.k != token::kind::punct) return nullptr;
  for (const binop_info& b : kBinops)
    if (t.text == b.text) return &b;
  return nullptr;
}

constexpr std::string_view kLoops[] = {"while", "for", "do", "goto", "switch", "return", "break", "continue"};

bool returns_value(const prim& p) {
  switch (p.op) {
    case prim_op::load:
    case prim_op::cmpxchg:
    case prim_op::add_unless:
    case prim_op::trylock:
    case prim_op::is_locked:
      return true;
    case prim_op::rmw:
      return p.result != ret::none;
    default:
      return false;
  }
}

class body_parser {
 public:
  body_parser(cursor& c, test& t, process& p) : c_(c), t_(t), p_(p) {}

  // Every nesting level (a unary operator, which parentheses also pass through, and a block)
  // counts: deeper than MAX_NESTING is a parse error, not a stack overflow of this recursive
  // parser (found by litmus_herd_fuzz: "!!!!...x" thousands deep; docs/fuzzing.md).
  static constexpr int MAX_NESTING = 64;
  class nest {
   public:
    nest(int& depth, int line) : depth_(depth) {
      if (++depth_ > MAX_NESTING)
        throw parse_error(line, "nested more than " + std::to_string(MAX_NESTING) + " levels deep");
    }
    ~nest() { depth_--; }
    nest(const nest&) = delete;
    nest& operator=(const nest&) = delete;

   private:
    int& depth_;
  };

  std::vector<stmt> block() {
    nest n(depth_, c_.peek().line);
    std::vector<stmt> out;
    while (!c_.accept("}")) {
      if (c_.peek().k == token::kind::end) throw parse_error(c_.peek().line, "missing '}' at the end of P" + std::to_string(p_.id));
      statement(out);
    }
    return out;
  }

 private:
  void statement(std::vector<stmt>& out) {
    const token& t = c_.peek();
    for (std::string_view w : kLoops)
      if (t.word(w)) unsupported(t.line, "statement '" + t.text + "'");
    if (c_.accept(";")) return;
    stmt s;
    s.line = t.line;
    if (c_.accept("{")) {
      s.k = stmt::kind::block;
      s.body = block();
    } else if (t.word("if")) {
      branch(s);
    } else if (type_word(t)) {
      declaration(out);
      return;
    } else {
      assignment_or_call(s);
    }
    out.push_back(std::move(s));
  }

  void branch(stmt& s) {
    c_.take();
    s.k = stmt::kind::branch;
    c_.expect("(", "after if");
    s.e.push_back(value_expr());
    c_.expect(")", "after the if condition");
    statement(s.body);
    if (c_.peek().word("else")) {
      c_.take();
      statement(s.other);
    }
  }

  // int r0; int *r1 = READ_ONCE(*p), r2;
  void declaration(std::vector<stmt>& out) {
    int line = c_.peek().line;
    bool lock = false;
    while (type_word(c_.peek())) lock |= c_.take().word("spinlock_t");
    if (lock) unsupported(line, "spinlock_t register");
    do {
      int stars = 0;
      while (c_.accept("*")) stars++;
      const token& n = c_.expect_ident("a register name");
      if (c_.peek().is("[")) unsupported(n.line, "array");
      for (const reg_info& r : p_.regs)
        if (r.name == n.text) throw parse_error(n.line, "register " + n.text + " declared twice");
      p_.regs.push_back({n.text, -1, stars > 0});
      if (c_.accept("=")) {
        stmt s;
        s.k = stmt::kind::set_reg;
        s.line = n.line;
        s.reg = static_cast<int>(p_.regs.size() - 1);
        s.e.push_back(value_expr());
        out.push_back(std::move(s));
      }
    } while (c_.accept(","));
    c_.expect(";", "after a declaration");
  }

  void assignment_or_call(stmt& s) {
    expr lhs = expression();
    const token& t = c_.peek();
    if (t.is("++") || t.is("--") || (t.k == token::kind::punct && t.text.size() >= 2 && t.text.back() == '=' &&
                                     t.text != "==" && t.text != "!=" && t.text != "<=" && t.text != ">="))
      unsupported(t.line, "operator '" + t.text + "'");
    if (c_.accept("=")) {
      if (lhs.k == expr::kind::reg) {
        s.k = stmt::kind::set_reg;
        s.reg = lhs.index;
      } else if (lhs.k == expr::kind::load) {
        s.k = stmt::kind::store;
        s.e.push_back(std::move(lhs.args[0]));
      } else {
        throw parse_error(t.line, "cannot assign to this expression");
      }
      s.e.push_back(value_expr());
    } else {
      if (lhs.k != expr::kind::call) throw parse_error(s.line, "a statement that does nothing");
      for (const expr& a : lhs.args) require_values(a);
      s.k = stmt::kind::eval;
      s.e.push_back(std::move(lhs));
    }
    c_.expect(";", "at the end of a statement");
  }

  // An expression whose value is used: every call in it returns one.
  expr value_expr() {
    expr e = expression();
    require_values(e);
    return e;
  }

  static void require_values(const expr& e) {
    if (e.k == expr::kind::call && !returns_value(prim_at(e.index)))
      throw parse_error(e.line, std::string(prim_at(e.index).name) + "() has no value");
    for (const expr& a : e.args) require_values(a);
  }

  expr expression(int min_prec = 1) {
    expr lhs = unary();
    for (;;) {
      const token& t = c_.peek();
      if (t.is("?")) unsupported(t.line, "operator '?:'");
      const binop_info* b = binop_of(t);
      if (!b || b->prec < min_prec) return lhs;
      c_.take();
      expr e;
      e.k = expr::kind::binary;
      e.line = t.line;
      e.bop = b->op;
      e.args.push_back(std::move(lhs));
      e.args.push_back(expression(b->prec + 1));
      lhs = std::move(e);
    }
  }

  expr unary() {
    const token& t = c_.peek();
    int line = t.line;
    nest n(depth_, line);
    if (t.is("++") || t.is("--")) unsupported(line, "operator '" + t.text + "'");
    expr e;
    e.line = line;
    if (t.is("!") || t.is("-") || t.is("~")) {
      const std::string& op = c_.take().text;
      e.uop = op == "-" ? unop::neg : op == "~" ? unop::bnot : unop::lnot;
      e.k = expr::kind::unary;
      e.args.push_back(unary());
      return e;
    }
    if (c_.accept("+")) return unary();
    if (c_.accept("*")) {
      e.k = expr::kind::load;
      e.args.push_back(unary());
      return e;
    }
    if (c_.accept("&")) {
      const token& n = c_.expect_ident("a variable after '&'");
      if (reg_of(n.text) >= 0) unsupported(n.line, "address of register " + n.text);
      e.k = expr::kind::address;
      e.index = known_var(n);
      return e;
    }
    return postfix(primary());
  }

  expr postfix(expr e) {
    const token& t = c_.peek();
    if (t.is("[") || t.is("->") || t.is(".")) unsupported(t.line, "operator '" + t.text + "' (arrays and structs)");
    return e;
  }

  expr primary() {
    const token& t = c_.take();
    expr e;
    e.line = t.line;
    if (t.k == token::kind::number) {
      e.number = t.number;
      return e;
    }
    if (t.is("(")) {
      if (type_word(c_.peek())) unsupported(t.line, "cast");
      e = expression();
      c_.expect(")", "to close a parenthesis");
      return e;
    }
    if (t.k != token::kind::ident) {
      throw parse_error(t.line, t.k == token::kind::end ? "unexpected end of the file" : "unexpected '" + t.text + "'");
    }
    if (c_.peek().is("(")) return call(t);
    int r = reg_of(t.text);
    if (r >= 0) {
      e.k = expr::kind::reg;
      e.index = r;
      return e;
    }
    // A variable by its name (not through a parameter): a plain access of it.
    expr a;
    a.k = expr::kind::address;
    a.line = t.line;
    a.index = known_var(t);
    e.k = expr::kind::load;
    e.args.push_back(std::move(a));
    return e;
  }

  expr call(const token& name) {
    std::optional<int> id = find_prim(name.text);
    if (!id) {
      if (name.text.rfind("srcu_", 0) == 0 || name.text.find("srcu") != std::string::npos)
        unsupported(name.line, "primitive " + name.text + " (SRCU)");
      unsupported(name.line, "primitive " + name.text);
    }
    prim p = prim_at(*id);
    expr e;
    e.k = expr::kind::call;
    e.line = name.line;
    e.index = *id;
    c_.expect("(", "after a primitive's name");
    if (!c_.accept(")")) {
      do e.args.push_back(expression());
      while (c_.accept(","));
      c_.expect(")", "after the arguments");
    }
    if (e.args.size() != p.roles.size())
      throw parse_error(name.line, name.text + "() takes " + std::to_string(p.roles.size()) + " argument" +
                                       (p.roles.size() == 1 ? "" : "s") + ", not " + std::to_string(e.args.size()));
    for (size_t i = 0; i < e.args.size(); i++)
      if (p.roles[i] == 'L') e.args[i] = location_arg(std::move(e.args[i]), name.text);
    return e;
  }

  // READ_ONCE(*x): the address of the lvalue.
  static expr location_arg(expr a, const std::string& prim_name) {
    if (a.k != expr::kind::load)
      throw parse_error(a.line, prim_name + "() needs a location such as *x, not a value");
    return std::move(a.args[0]);
  }

  int reg_of(const std::string& name) const {
    for (size_t i = 0; i < p_.regs.size(); i++)
      if (p_.regs[i].name == name) return static_cast<int>(i);
    return -1;
  }

  int known_var(const token& n) const {
    for (size_t i = 0; i < t_.vars.size(); i++)
      if (t_.vars[i].name == n.text) return static_cast<int>(i);
    throw parse_error(n.line, "unknown name " + n.text);
  }

  cursor& c_;
  test& t_;
  process& p_;
  int depth_ = 0;  // nest()
};

// ---- address dependencies -----------------------------------------------------------------
// Calls with an argument in an address role: the expressions that are addresses.
template <class F>
void address_args(expr& e, F&& f) {
  if (e.k == expr::kind::load) f(e.args[0]);
  if (e.k == expr::kind::call) {
    prim p = prim_at(e.index);
    for (size_t i = 0; i < e.args.size(); i++)
      if (p.roles[i] != 'V') f(e.args[i]);
  }
}

void regs_in(const expr& e, std::set<int>& out) {
  if (e.k == expr::kind::reg) out.insert(e.index);
  for (const expr& a : e.args) regs_in(a, out);
}

// Every expression and statement of the body, in no particular order.
template <class FE, class FS>
void walk(std::vector<stmt>& body, FE&& on_expr, FS&& on_stmt) {
  for (stmt& s : body) {
    on_stmt(s);
    for (expr& e : s.e) on_expr(e);
    walk(s.body, on_expr, on_stmt);
    walk(s.other, on_expr, on_stmt);
  }
}

void each_expr(expr& e, const std::function<void(expr&)>& f) {
  f(e);
  for (expr& a : e.args) each_expr(a, f);
}

void mark_loads(expr& e) {
  each_expr(e, [](expr& x) {
    if (x.k == expr::kind::load || (x.k == expr::kind::call && reads_memory(prim_at(x.index)))) x.feeds_address = true;
  });
}

}  // namespace

std::vector<stmt> parse_body(cursor& c, test& t, process& p) { return body_parser(c, t, p).block(); }

// The registers used as addresses, to a fixpoint through assignments (r1 = r0; *r1), then
// every load whose value flows into one: herd7's addr relation, for registers (a value
// through memory is not followed: herd7 follows plain accesses; here they are READ_ONCEs).
void mark_address_dependencies(process& p) {
  std::set<int> used;
  for (size_t n = SIZE_MAX; n != used.size();) {
    n = used.size();
    walk(
        p.body,
        [&](expr& e) { each_expr(e, [&](expr& x) { address_args(x, [&](expr& a) { regs_in(a, used); }); }); },
        [&](stmt& s) {
          if (s.k == stmt::kind::store) regs_in(s.e[0], used);
          if (s.k == stmt::kind::set_reg && used.count(s.reg)) regs_in(s.e[0], used);
        });
  }
  walk(
      p.body,
      [&](expr& e) { each_expr(e, [&](expr& x) { address_args(x, [&](expr& a) { mark_loads(a); }); }); },
      [&](stmt& s) {
        if (s.k == stmt::kind::store) mark_loads(s.e[0]);
        if (s.k == stmt::kind::set_reg && used.count(s.reg)) mark_loads(s.e[0]);
      });
}

}  // namespace explore::herd
GUPFAST_NS_END
