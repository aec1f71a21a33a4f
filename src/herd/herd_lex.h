// The tokens of a herd7 C litmus test, with their lines.
//
// Comments: OCaml's (* ... *) (nested, as herd7 reads them) outside braces, where the test's
// header comment, a `locations` line's or the condition's note sit; inside a process body
// `(*x)` is C, so there only C's // and /* */ are comments. Every comment's text is kept:
// the Result lines are in one.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

// A bad test: reported as "FILE:LINE: message" (line 0: "FILE: message").
struct parse_error : std::runtime_error {
  int line;
  parse_error(int l, const std::string& what) : std::runtime_error(what), line(l) {}
};

struct token {
  enum class kind : uint8_t { ident, number, punct, end };
  kind k = kind::end;
  std::string text;
  int64_t number = 0;
  int line = 0;
  bool is(std::string_view p) const { return k == kind::punct && text == p; }
  bool word(std::string_view w) const { return k == kind::ident && text == w; }
};

struct comment {
  int line = 0;
  std::string text;
};

struct lexed {
  std::vector<token> tokens;  // ends with one kind::end
  std::vector<comment> comments;
};

// Tokens of src from byte `from` on, which is on line `line`.
lexed lex(std::string_view src, size_t from, int line);

}  // namespace explore::herd
GUPFAST_NS_END
