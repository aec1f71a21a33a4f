// The lexer of herd7 C litmus tests (herd_lex.h).
#include "herd/herd_lex.h"

#include <array>
#include <cctype>

GUPFAST_NS_BEGIN
namespace explore::herd {
namespace {

// Longest first: "/\" and "\/" are the condition's and / or.
constexpr std::array<std::string_view, 22> kPuncts = {
    "<<=", ">>=", "/\\", "\\/", "==", "!=", "<=", ">=", "<<", ">>", "&&", "||", "->", "++", "--",
    "+=", "-=", "*=", "/=", "|=", "&=", "^=",
};
constexpr std::string_view kSingles = "(){}[];,=+-*/%&|^!~<>:?.";

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class lexer {
 public:
  lexer(std::string_view s, size_t from, int line) : s_(s), i_(from), line_(line) {}

  lexed run() {
    while (skip_space_and_comments()) {
      if (i_ >= s_.size()) break;
      out_.tokens.push_back(next());
    }
    token end;
    end.line = line_;
    out_.tokens.push_back(end);
    return std::move(out_);
  }

 private:
  char at(size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  void advance() {
    if (s_[i_] == '\n') line_++;
    i_++;
  }

  // Skips blanks and comments; false at the end of the text.
  bool skip_space_and_comments() {
    for (;;) {
      while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) advance();
      if (i_ >= s_.size()) return false;
      if (at(i_) == '/' && at(i_ + 1) == '/') {
        size_t start = i_;
        while (i_ < s_.size() && s_[i_] != '\n') i_++;
        out_.comments.push_back({line_, std::string(s_.substr(start, i_ - start))});
      } else if (at(i_) == '/' && at(i_ + 1) == '*') {
        block_comment("/*", "*/", false);
      } else if (depth_ == 0 && at(i_) == '(' && at(i_ + 1) == '*') {
        block_comment("(*", "*)", true);
      } else {
        return true;
      }
    }
  }

  void block_comment(std::string_view open, std::string_view close, bool nests) {
    int first = line_;
    size_t start = i_;
    int level = 0;
    while (i_ < s_.size()) {
      if (s_.substr(i_, 2) == open && (nests || level == 0)) {
        level++;
        i_ += 2;
      } else if (s_.substr(i_, 2) == close) {
        i_ += 2;
        if (--level == 0) {
          out_.comments.push_back({first, std::string(s_.substr(start, i_ - start))});
          return;
        }
      } else {
        advance();
      }
    }
    throw parse_error(first, "unterminated comment");
  }

  token next() {
    token t;
    t.line = line_;
    char c = s_[i_];
    if (ident_start(c)) {
      size_t start = i_;
      while (i_ < s_.size() && ident_char(s_[i_])) i_++;
      t.k = token::kind::ident;
      t.text = std::string(s_.substr(start, i_ - start));
      return t;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return number(t);
    for (std::string_view p : kPuncts)
      if (s_.substr(i_, p.size()) == p) return punct(t, p.size());
    if (kSingles.find(c) != std::string_view::npos) {
      if (c == '{') depth_++;
      if (c == '}' && depth_ > 0) depth_--;
      return punct(t, 1);
    }
    throw parse_error(line_, std::string("unexpected character '") + c + "'");
  }

  token punct(token t, size_t n) {
    t.k = token::kind::punct;
    t.text = std::string(s_.substr(i_, n));
    i_ += n;
    return t;
  }

  token number(token t) {
    size_t start = i_;
    int base = 10;
    if (s_[i_] == '0' && (at(i_ + 1) == 'x' || at(i_ + 1) == 'X')) {
      base = 16;
      i_ += 2;
    }
    auto digit = [&](char d) {
      return base == 16 ? std::isxdigit(static_cast<unsigned char>(d)) : std::isdigit(static_cast<unsigned char>(d));
    };
    while (i_ < s_.size() && digit(s_[i_])) i_++;
    while (i_ < s_.size() && (s_[i_] == 'u' || s_[i_] == 'U' || s_[i_] == 'l' || s_[i_] == 'L')) i_++;  // 1UL
    t.k = token::kind::number;
    t.text = std::string(s_.substr(start, i_ - start));
    try {
      t.number = static_cast<int64_t>(std::stoull(t.text.substr(base == 16 ? 2 : 0), nullptr, base));
    } catch (const std::exception&) {
      throw parse_error(t.line, "bad number " + t.text);
    }
    if (i_ < s_.size() && ident_char(s_[i_])) throw parse_error(t.line, "bad number " + t.text + s_[i_]);
    return t;
  }

  std::string_view s_;
  size_t i_;
  int line_;
  int depth_ = 0;  // braces open
  lexed out_;
};

}  // namespace

lexed lex(std::string_view src, size_t from, int line) { return lexer(src, from, line).run(); }

}  // namespace explore::herd
GUPFAST_NS_END
