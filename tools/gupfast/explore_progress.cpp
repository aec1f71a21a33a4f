#include "explore_progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli.h"

namespace gupfast::cli {

progress_line::progress_line() : on_(isatty(STDERR_FILENO)) {}

void progress_line::show(const std::string& text) {
  if (!on_) return;
  std::fputs(("\r\033[K" + text).c_str(), stderr);
  std::fflush(stderr);
  shown_ = true;
}

void progress_line::clear() {
  if (!shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

std::string progress_text(uint64_t executions, uint64_t cut, int bound, int stale, double seconds, int workers) {
  std::string s = fmt::format("{} executions ({}/s), bound {}", grouped(executions),
                              grouped(static_cast<uint64_t>(seconds > 0 ? double(executions) / seconds : 0)), bound);
  if (stale >= 0) s += fmt::format(", stale reads {}", stale);
  if (cut) s += fmt::format(", {} cut", grouped(cut));
  if (workers > 1) s += fmt::format(", {} workers busy", workers);
  return s;
}

}  // namespace gupfast::cli
