// The one table `gupfast bench` prints: a header naming the machine and the mode, then each
// section's rows with their figure and the ratios to the rows they are compared with, then
// the targets, met or missed.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report.h"

namespace gupfast::bench {

std::string format_figure(double v) {
  double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1000) return fmt::format("{:.0f}", v);
  if (a >= 100) return fmt::format("{:.1f}", v);
  if (a >= 10) return fmt::format("{:.2f}", v);
  if (a >= 0.1) return fmt::format("{:.3f}", v);
  return fmt::format("{:.2g}", v);
}

namespace {

std::string format_ratio(std::optional<double> v) {
  if (!v) return "n/a";
  return format_figure(*v) + "x";
}

std::string value_text(const row& x) {
  if (!x.value) return x.na;
  if (x.unit == "ns/page") return format_figure(*x.value);
  return format_figure(*x.value) + " " + x.unit;
}

}  // namespace

std::string report_table(const report& r) {
  std::string out =
      fmt::format("gupfast bench ({} mode, {} repetition{}, medians; CPU time of the measuring thread)\n", r.mode,
                  r.repetitions, r.repetitions == 1 ? "" : "s");
  out += fmt::format("machine: {}, {} cores, Linux {}, THP {}; {}\n", r.machine.cpu_model, r.machine.cores,
                     r.machine.kernel, r.machine.thp.empty() ? "unknown" : r.machine.thp, r.date);
  out += "ratios compare rows of this run: \"0.39x io_uring\" = this row's figure / the io_uring row's\n";

  size_t name_w = 0;
  for (const row& x : r.rows) name_w = std::max(name_w, x.name.size());
  name_w = std::min<size_t>(name_w, 76);

  std::string section;
  for (const row& x : r.rows) {
    if (x.section != section) {
      section = x.section;
      out += "\n" + section + "\n";
    }
    std::string vs;
    for (const auto& [label, v] : x.vs) vs += fmt::format("  {} {}", format_ratio(v), label);
    std::string value = value_text(x);
    if (!x.value) {  // an n/a reason is long: own column, no ratios
      out += fmt::format("  {:<{}}  {}{}\n", x.name, name_w, value, vs.empty() ? "" : "  (ratios n/a)");
    } else {
      out += fmt::format("  {:<{}}  {:>10}{}\n", x.name, name_w, value, vs);
    }
    if (!x.note.empty()) out += fmt::format("  {:<{}}  {:>10}  {}\n", "", name_w, "", x.note);
  }

  bool measured = false;
  for (const target& t : r.targets) measured |= r.ratio(t.ratio).has_value();
  if (measured) {
    out += "\ntargets (issue 7)\n";
    size_t w = 0;
    for (const target& t : r.targets) w = std::max(w, t.what.size());
    for (const target& t : r.targets) {
      std::optional<double> v = r.ratio(t.ratio);
      std::string verdict = !v ? "n/a (not measured in this run)"
                               : *v <= t.limit ? "met"
                                               : fmt::format("missed by {}x", format_figure(*v / t.limit));
      out += fmt::format("  {:<{}}  want <= {:<5}  got {:<7}  {}\n", t.what, w, format_figure(t.limit),
                         v ? format_figure(*v) : "-", verdict);
    }
  }
  return out;
}

}  // namespace gupfast::bench
