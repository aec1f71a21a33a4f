// Fuzz target for the two litmus parsers (docs/fuzzing.md): our mm format
// (src/explore/litmus.h) and herd7's C format (src/herd). Any input either parses or is
// refused with a `FILE:LINE: message` error whose line lies inside the input; no other
// exception, no crash, no hang (libFuzzer's -timeout). GUPFAST_LITMUS_FORMAT picks the parser.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "explore/litmus.h"
#include "herd/herd_parse.h"

namespace {

int lines_of(std::string_view t) {
  int n = 1;
  for (char c : t) n += c == '\n';
  return n;
}

[[noreturn]] void bad(const std::string& what) {
  std::fprintf(stderr, "litmus_fuzz: %s\n", what.c_str());
  std::abort();
}

void check_line(int line, const std::string& message, std::string_view text) {
  if (line < 1 || line > lines_of(text)) bad("error line " + std::to_string(line) + " outside the input: " + message);
  if (message.empty()) bad("empty error message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
#if GUPFAST_LITMUS_FORMAT_HERD
  try {
    (void)gupfast::explore::herd::parse_test(text, "fuzz.litmus");
  } catch (const gupfast::explore::herd::parse_error& e) {
    check_line(e.line, e.what(), text);
  }
#else
  gupfast::litmus::parse_error err;
  auto f = gupfast::litmus::parse(text, "fuzz.litmus", &err);
  if (!f) {
    check_line(err.line, err.message, text);
    std::string w = err.what(), want = "fuzz.litmus:" + std::to_string(err.line) + ": ";
    if (w.rfind(want, 0) != 0) bad("error not FILE:LINE: " + w);
  }
#endif
  return 0;
}
