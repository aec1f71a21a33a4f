// The parser of herd7 C litmus tests (herd_ast.h has the format). It reports the first
// problem as a parse_error with its line: a syntax error, or a construct the interpreter
// does not run ("unsupported <what>": loops, casts, structs, srcu, more than MAX_THREADS
// processes, ...).
//
// The verdicts a file states, from its comments: herd7's `Result: Never|Sometimes|Always`
// (LKMM's), and our own files' `Result-sc:`, `Result-tso:`, `Result-weak:` where a model of
// ours must differ (test::results).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "herd/herd_ast.h"
#include "herd/herd_lex.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

test parse_test(std::string_view text, const std::string& file);

// ---- shared by the parser's files ----------------------------------------------------------
struct cursor {
  const std::vector<token>* toks = nullptr;
  size_t i = 0;

  const token& peek(size_t k = 0) const {
    size_t j = i + k;
    return j < toks->size() ? (*toks)[j] : toks->back();
  }
  const token& take() {
    const token& t = peek();
    if (i < toks->size() - 1) i++;
    return t;
  }
  bool accept(std::string_view p) {
    if (!peek().is(p)) return false;
    take();
    return true;
  }
  const token& expect(std::string_view p, std::string_view where);
  const token& expect_ident(std::string_view what);
};

[[noreturn]] void unsupported(int line, const std::string& what);
// Is this word part of a C type (int, unsigned, spinlock_t, atomic_t, volatile, ...)?
bool type_word(const token& t);
// Index of variable `name`, created (as an int, initially 0) if new.
int var_index(test& t, const std::string& name, int line);

// A process's body, from after its '{' to its '}' (taken).
std::vector<stmt> parse_body(cursor& c, test& t, process& p);
// Marks the loads whose value the process uses as an address (expr::feeds_address).
void mark_address_dependencies(process& p);

}  // namespace explore::herd
GUPFAST_NS_END
