// The built-in litmus scenarios (the files of tests/litmus, embedded at build time by
// embed_litmus.cmake) and how a command finds a scenario by path or by name.
#pragma once
#include <optional>
#include <span>
#include <string>

#include "explore/litmus.h"

namespace gupfast::cli {

struct builtin_scenario {
  const char* name;  // the file's stem, also its `litmus` name
  const char* path;  // "tests/litmus/NAME.litmus", for messages
  const char* text;
};
// Generated: builtin_litmus.cpp, in file-name order.
std::span<const builtin_scenario> builtin_scenarios();

// FILE (an existing path) or NAME (a built-in). On failure: nullopt and *err is one line,
// either "'x' is neither a file nor a built-in scenario ..." (*parse_failed = false) or
// "FILE:LINE: message" (*parse_failed = true).
std::optional<litmus::file> load_scenario(const std::string& arg, std::string* err, bool* parse_failed);

}  // namespace gupfast::cli
