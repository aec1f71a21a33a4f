// HTML text for the pages gupfast writes (explore --html, the demo's index.html).
#pragma once
#include <string>

namespace gupfast::cli {

// s with &, <, > and " replaced by their entities: safe in text and in quoted attributes.
inline std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

}  // namespace gupfast::cli
