// The parser of herd7 C litmus tests, top level: the `C NAME` line, the Result lines of the
// comments, the initial state, the processes' headers, `locations`, `filter` and the final
// condition (herd_parse.h). The process bodies are herd_stmt.cpp's.
#include "herd/herd_parse.h"

#include <charconv>
#include <regex>

#include "explore/search.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

const token& cursor::expect(std::string_view p, std::string_view where) {
  if (!peek().is(p)) {
    const token& t = peek();
    std::string got = t.k == token::kind::end ? "the end of the file" : "'" + t.text + "'";
    throw parse_error(t.line, "expected '" + std::string(p) + "' " + std::string(where) + ", found " + got);
  }
  return take();
}

const token& cursor::expect_ident(std::string_view what) {
  if (peek().k != token::kind::ident) {
    const token& t = peek();
    throw parse_error(t.line, "expected " + std::string(what) + ", found " +
                                  (t.k == token::kind::end ? "the end of the file" : "'" + t.text + "'"));
  }
  return take();
}

void unsupported(int line, const std::string& what) { throw parse_error(line, "unsupported " + what); }

bool type_word(const token& t) {
  static constexpr std::string_view kWords[] = {
      "int", "long", "unsigned", "signed", "short", "char", "bool", "_Bool", "u8", "u16", "u32", "u64",
      "s8", "s16", "s32", "s64", "intptr_t", "uintptr_t", "atomic_t", "spinlock_t", "volatile", "const"};
  if (t.k != token::kind::ident) return false;
  for (std::string_view w : kWords)
    if (t.text == w) return true;
  return false;
}

int var_index(test& t, const std::string& name, int line) {
  for (size_t i = 0; i < t.vars.size(); i++)
    if (t.vars[i].name == name) return static_cast<int>(i);
  variable v;
  v.name = name;
  v.line = line;
  t.vars.push_back(v);
  return static_cast<int>(t.vars.size() - 1);
}

namespace {

constexpr std::string_view kUnsupportedTypes[] = {"atomic64_t", "atomic_long_t", "struct", "union", "srcu_struct",
                                                  "rwlock_t", "raw_spinlock_t", "seqlock_t"};

// Type words (and their stars) of a declaration; `lock`: spinlock_t was among them.
int declaration_type(cursor& c, bool* lock) {
  *lock = false;
  for (std::string_view bad : kUnsupportedTypes)
    if (c.peek().word(bad)) {
      std::string what = c.peek().text;
      if (what == "struct" || what == "union") what += " " + c.peek(1).text;
      unsupported(c.peek().line, "type " + what + (what.find("srcu") != std::string::npos ? " (SRCU)" : ""));
    }
  if (!type_word(c.peek())) throw parse_error(c.peek().line, "expected a type, found '" + c.peek().text + "'");
  while (type_word(c.peek())) *lock |= c.take().word("spinlock_t");
  int stars = 0;
  while (c.accept("*")) stars++;
  return stars;
}

class top_parser {
 public:
  top_parser(test& t, cursor& c) : t_(t), c_(c) {}

  void run() {
    init_state();
    while (c_.peek().k == token::kind::ident && c_.peek(1).is("(") && is_process_name(c_.peek().text)) process_();
    if (t_.procs.empty()) throw parse_error(c_.peek().line, "expected a process P0(...) { ... }");
    trailer();
    resolve_initial_values();
  }

 private:
  static bool is_process_name(const std::string& s) {
    if (s.size() < 2 || s[0] != 'P') return false;
    for (size_t i = 1; i < s.size(); i++)
      if (s[i] < '0' || s[i] > '9') return false;
    return true;
  }

  // A value of the initial state or the condition: [-]N, or a variable's name (its address).
  value value_(bool init) {
    value v;
    bool neg = c_.accept("-");
    if (c_.peek().k == token::kind::number) {
      v.number = neg ? -c_.take().number : c_.take().number;
      return v;
    }
    if (!neg && (c_.accept("&") || c_.peek().k == token::kind::ident)) {
      const token& n = c_.expect_ident("a variable's name");
      if (init) {
        pending_.push_back({n.text, n.line});
        v.var = -2;  // resolved once every variable is known
      } else {
        v.var = known_var(n);
      }
      return v;
    }
    throw parse_error(c_.peek().line, "expected a value, found '" + c_.peek().text + "'");
  }

  int known_var(const token& n) {
    for (size_t i = 0; i < t_.vars.size(); i++)
      if (t_.vars[i].name == n.text) return static_cast<int>(i);
    throw parse_error(n.line, "unknown variable " + n.text);
  }

  // { x=1; int *p=y; spinlock_t s; 0:r1=2; }
  void init_state() {
    c_.expect("{", "to open the initial state");
    while (!c_.accept("}")) {
      if (c_.accept(";")) continue;
      if (c_.peek().k == token::kind::number && c_.peek(1).is(":")) {
        register_init();
      } else {
        bool lock = false;
        if (type_word(c_.peek()) || c_.peek(1).k == token::kind::ident || c_.peek().word("struct"))
          declaration_type(c_, &lock);
        const token& n = c_.expect_ident("a variable");
        int v = var_index(t_, n.text, n.line);
        t_.vars[static_cast<size_t>(v)].lock |= lock;
        if (c_.accept("=")) {
          if (lock) unsupported(n.line, "initial value of a spinlock_t");
          value val = value_(true);
          if (val.var == -2) pending_.back().var = v;
          t_.vars[static_cast<size_t>(v)].init = val.number;
        }
      }
      if (!c_.peek().is("}")) c_.expect(";", "after an initial value");
    }
  }

  void register_init() {
    int proc = static_cast<int>(c_.take().number);
    c_.expect(":", "after a process number");
    const token& r = c_.expect_ident("a register");
    c_.expect("=", "after a register");
    reg_inits_.push_back({proc, r.text, r.line, value_(true)});
    if (reg_inits_.back().val.var == -2) pending_.back().reg_init = reg_inits_.size();
  }

  void process_() {
    const token& name = c_.take();
    // from_chars, not stoi: P99999999999 is a parse error, not an exception out of the parser
    // (found by litmus_herd_fuzz: docs/fuzzing.md).
    int id = -1;
    auto [end, ec] = std::from_chars(name.text.data() + 1, name.text.data() + name.text.size(), id);
    if (ec != std::errc() || end != name.text.data() + name.text.size()) id = -1;
    if (id != static_cast<int>(t_.procs.size()))
      throw parse_error(name.line, "processes must be P0, P1, ... in order: found " + name.text);
    if (id >= MAX_THREADS)
      unsupported(name.line, std::to_string(id + 1) + " processes (the explorer runs at most " +
                                 std::to_string(MAX_THREADS) + ")");
    process p;
    p.id = id;
    p.line = name.line;
    c_.expect("(", "after the process name");
    if (!c_.accept(")")) {
      if (c_.peek().word("void") && c_.peek(1).is(")")) c_.take();
      else parameters(p);
      c_.expect(")", "after the parameters");
    }
    c_.expect("{", "to open the process body");
    t_.procs.push_back(std::move(p));
    process& q = t_.procs.back();
    q.body = parse_body(c_, t_, q);
    mark_address_dependencies(q);
  }

  void parameters(process& p) {
    do {
      bool lock = false;
      int stars = declaration_type(c_, &lock);
      const token& n = c_.expect_ident("a parameter name");
      if (stars == 0) unsupported(n.line, "parameter " + n.text + " that is not a pointer");
      int v = var_index(t_, n.text, n.line);
      variable& var = t_.vars[static_cast<size_t>(v)];
      if (lock && stars != 1) unsupported(n.line, "pointer to a pointer to a spinlock_t");
      var.lock |= lock;
      for (const reg_info& r : p.regs)
        if (r.name == n.text) throw parse_error(n.line, "parameter " + n.text + " given twice");
      p.regs.push_back({n.text, v, true});
    } while (c_.accept(","));
  }

  // locations [...], filter (...), then exists / ~exists / forall.
  void trailer() {
    for (;;) {
      const token& t = c_.peek();
      if (t.word("locations")) {
        c_.take();
        locations();
      } else if (t.word("filter")) {
        c_.take();
        t_.filter = prop_();
      } else {
        break;
      }
    }
    const token& q = c_.peek();
    t_.cond_line = q.line;
    if (c_.accept("~")) {
      if (!c_.peek().word("exists")) throw parse_error(q.line, "expected 'exists' after '~'");
      t_.quant = quantifier::not_exists;
    } else if (q.word("exists")) {
      t_.quant = quantifier::exists;
    } else if (q.word("forall")) {
      t_.quant = quantifier::forall;
    } else {
      std::string got = q.k == token::kind::end ? "the end of the file" : "'" + q.text + "'";
      throw parse_error(q.line, "expected the final condition (exists, ~exists or forall), found " + got);
    }
    c_.take();
    t_.cond = prop_();
    if (c_.peek().k != token::kind::end) throw parse_error(c_.peek().line, "unexpected '" + c_.peek().text + "' after the condition");
  }

  void locations() {
    c_.expect("[", "after locations");
    while (!c_.accept("]")) {
      t_.locations.push_back(location_());
      if (!c_.peek().is("]")) c_.expect(";", "between locations");
    }
  }

  // 0:r0 (a register) or x (a variable's final value).
  location location_() {
    location l;
    if (c_.peek().k == token::kind::number) {
      const token& n = c_.take();
      c_.expect(":", "after a process number");
      const token& r = c_.expect_ident("a register");
      if (n.number < 0 || n.number >= static_cast<int64_t>(t_.procs.size()))
        throw parse_error(n.line, "no process P" + n.text);
      const process& p = t_.procs[static_cast<size_t>(n.number)];
      l.proc = static_cast<int>(n.number);
      for (size_t i = 0; i < p.regs.size(); i++)
        if (p.regs[i].name == r.text) l.reg = static_cast<int>(i);
      if (l.reg < 0) throw parse_error(r.line, "P" + n.text + " has no register " + r.text);
      return l;
    }
    if (c_.peek().is("*") || c_.peek().is("[")) unsupported(c_.peek().line, "location form '" + c_.peek().text + "'");
    l.var = known_var(c_.expect_ident("a location"));
    if (t_.vars[static_cast<size_t>(l.var)].lock) unsupported(c_.peek().line, "spinlock_t in the condition");
    return l;
  }

  prop prop_() { return disjunction(); }

  prop disjunction() {
    prop p = conjunction();
    while (c_.peek().is("\\/")) {
      c_.take();
      p = combine(prop::kind::disj, std::move(p), conjunction());
    }
    return p;
  }

  prop conjunction() {
    prop p = unary();
    while (c_.peek().is("/\\")) {
      c_.take();
      p = combine(prop::kind::conj, std::move(p), unary());
    }
    return p;
  }

  static prop combine(prop::kind k, prop a, prop b) {
    prop p;
    p.k = k;
    p.kids.push_back(std::move(a));
    p.kids.push_back(std::move(b));
    return p;
  }

  prop unary() {
    prop p;
    if (c_.accept("~")) {
      p.k = prop::kind::negation;
      p.kids.push_back(unary());
    } else if (c_.accept("(")) {
      p = prop_();
      c_.expect(")", "to close the condition's parenthesis");
    } else if (c_.peek().word("true") || c_.peek().word("false")) {
      p.k = prop::kind::truth;
      p.truth = c_.take().text == "true";
    } else {
      p.k = prop::kind::atom;
      p.loc = location_();
      if (!c_.peek().is("=")) unsupported(c_.peek().line, "condition operator '" + c_.peek().text + "'");
      c_.take();
      p.val = value_(false);
    }
    return p;
  }

  // Values of the initial state that name a variable, and the registers it sets.
  void resolve_initial_values() {
    for (const pending& p : pending_) {
      int v = -1;
      for (size_t i = 0; i < t_.vars.size(); i++)
        if (t_.vars[i].name == p.name) v = static_cast<int>(i);
      if (v < 0) throw parse_error(p.line, "unknown variable " + p.name + " in the initial state");
      if (p.var >= 0) t_.vars[static_cast<size_t>(p.var)].init_addr = v;
      if (p.reg_init) reg_inits_[p.reg_init - 1].val.var = v;
    }
    for (const named_reg_init& r : reg_inits_) {
      if (r.proc < 0 || r.proc >= static_cast<int>(t_.procs.size())) throw parse_error(r.line, "no process P" + std::to_string(r.proc));
      const process& p = t_.procs[static_cast<size_t>(r.proc)];
      int reg = -1;
      for (size_t i = 0; i < p.regs.size(); i++)
        if (p.regs[i].name == r.reg) reg = static_cast<int>(i);
      if (reg < 0) throw parse_error(r.line, "P" + std::to_string(r.proc) + " has no register " + r.reg);
      t_.reg_inits.push_back({r.proc, reg, r.val});
    }
  }

  struct pending {
    std::string name;
    int line;
    int var = -1;         // the variable whose initial value it is, or -1
    size_t reg_init = 0;  // or 1 + the index in reg_inits_ of the register's
  };
  struct named_reg_init {
    int proc;
    std::string reg;
    int line;
    value val;
  };

  test& t_;
  cursor& c_;
  std::vector<pending> pending_;
  std::vector<named_reg_init> reg_inits_;
};

// `Result: Never` and our own `Result-weak: Never` lines of the comments.
void results_of(const std::vector<comment>& comments, test& t) {
  static const std::regex kLine(R"((Result(?:-(?:sc|tso|weak))?)[ \t]*:[ \t]*(Never|Sometimes|Always)\b)");
  for (const comment& c : comments)
    for (auto it = std::sregex_iterator(c.text.begin(), c.text.end(), kLine); it != std::sregex_iterator(); ++it)
      t.results.emplace((*it)[1].str(), (*it)[2].str());
}

}  // namespace

test parse_test(std::string_view text, const std::string& file) {
  test t;
  t.file = file;
  // The first line that is not blank: "C NAME" (herd7's architecture, then the name).
  size_t at = 0;
  int line = 1;
  for (;;) {
    if (at >= text.size()) throw parse_error(line, "empty file: expected 'C NAME'");
    size_t eol = text.find('\n', at);
    std::string_view l = text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    size_t b = l.find_first_not_of(" \t\r");
    if (b != std::string_view::npos) {
      l = l.substr(b);
      size_t sp = l.find_first_of(" \t");
      std::string_view arch = l.substr(0, sp);
      if (arch != "C") unsupported(line, "architecture '" + std::string(arch) + "' (only C litmus tests)");
      size_t nb = sp == std::string_view::npos ? sp : l.find_first_not_of(" \t\r", sp);
      if (nb == std::string_view::npos) throw parse_error(line, "expected the test's name after 'C'");
      std::string_view name = l.substr(nb);
      t.name = std::string(name.substr(0, name.find_last_not_of(" \t\r") + 1));
      // The next line only if there is one: a file that is just "C name" ends on line 1
      // (found by litmus_herd_fuzz: its end-of-file error named line 2).
      at = eol == std::string_view::npos ? text.size() : eol + 1;
      if (eol != std::string_view::npos) line++;
      break;
    }
    at = eol == std::string_view::npos ? text.size() : eol + 1;
    if (eol != std::string_view::npos) line++;
  }
  lexed lx = lex(text, at, line);
  results_of(lx.comments, t);
  cursor c;
  c.toks = &lx.tokens;
  top_parser(t, c).run();
  return t;
}

}  // namespace explore::herd
GUPFAST_NS_END
