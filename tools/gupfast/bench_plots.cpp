// `gupfast bench --plots DIR`: SVG plots of the report, drawn by gnuplot (fed one script on
// its stdin, the data inline as datablocks, so DIR receives only the SVGs):
//
//   pin.svg        ns per 4 KiB page: our fast path per strategy, our slow path, the
//                  kernel's io_uring and vmsplice paths, the floor; 4 KiB pages and THP
//   breakdown.svg  the 4 KiB fast path (rcu) taken apart: walk, grab, the rest, the atomics
//   churn.svg      ns per page per strategy with no churn and under each mutator
//   mutator.svg    the mutator's cost per table freed (reclaim: per call) per strategy
//   scaling.svg    ns per page seen by one CPU against the number of pinning CPUs
// A plot whose rows were all filtered out is not drawn.
#include <filesystem>

#include <fmt/format.h>

#include "bench.h"

namespace gupfast::cli {

namespace {

const char* const STRATEGIES[] = {"ipi", "rcu", "seqcount"};

std::string num(const bench::report& r, const std::string& id) {
  const bench::row* x = r.find(id);
  return x && x->value ? fmt::format("{:.6g}", *x->value) : "NaN";
}

bool any(const bench::report& r, std::initializer_list<std::string> prefixes) {
  for (const bench::row& x : r.rows)
    for (const std::string& p : prefixes)
      if (x.id.rfind(p, 0) == 0 && x.value) return true;
  return false;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? '\'' : c;
  return out + "\"";
}

std::string header(const std::string& dir, const std::string& file, const std::string& title) {
  std::string path = (std::filesystem::path(dir) / file).string();
  return fmt::format(
      "reset\n"
      "set terminal svg size 900,480 dynamic enhanced font 'sans,11' background '#ffffff'\n"
      "set output {}\n"
      "set title {} noenhanced\n"
      "set datafile missing 'NaN'\n"
      "set grid ytics\n"
      "set key noenhanced\n",
      quote(path), quote(title));
}

const char* const HISTOGRAM =
    "set style data histograms\n"
    "set style histogram clustered gap 1\n"
    "set style fill solid 0.85 border -1\n"
    "set boxwidth 0.9\n"
    "set xtics noenhanced nomirror\n";

std::string pin_plot(const bench::report& r, const std::string& dir, const std::string& subtitle) {
  std::string s = header(dir, "pin.svg", "pin + unpin of 1024 pages, 1 thread" + subtitle);
  s += "$d << EOD\n";
  for (const char* st : STRATEGIES)
    s += fmt::format("{} {} {}\n", quote(fmt::format("fast {}", st)), num(r, fmt::format("pin/4k/fast/{}", st)),
                     num(r, fmt::format("pin/thp/fast/{}", st)));
  for (const auto& [label, id] : std::initializer_list<std::pair<const char*, const char*>>{
           {"slow path", "slow"}, {"kernel io_uring", "kernel/io_uring"}, {"kernel vmsplice", "kernel/vmsplice"},
           {"floor (atomics)", "floor"}})
    s += fmt::format("{} {} {}\n", quote(label), num(r, fmt::format("pin/4k/{}", id)),
                     num(r, fmt::format("pin/thp/{}", id)));
  s += "EOD\n";
  s += HISTOGRAM;
  s += "set logscale y\nset ylabel 'ns per 4 KiB page (log scale)'\nset key top right\n"
       "plot $d using 2:xtic(1) title '4 KiB pages', '' using 3 title 'two 2 MiB THP folios'\n";
  return s;
}

std::string breakdown_plot(const bench::report& r, const std::string& dir, const std::string& subtitle) {
  std::string s = header(dir, "breakdown.svg", "where the 4 KiB fast path's time goes (rcu)" + subtitle);
  s += "$d << EOD\n";
  for (const auto& [label, id] : std::initializer_list<std::pair<const char*, const char*>>{
           {"fast path", "pin/4k/fast/rcu"},
           {"walk only", "breakdown/4k/walk"},
           {"grab+unpin only", "breakdown/4k/grab"},
           {"the rest", "breakdown/4k/rest"},
           {"gup_fast core", "breakdown/4k/core"},
           {"4 RMW + mb", "breakdown/4k/atomics"},
           {"4 RMW", "breakdown/4k/atomics-no-fence"},
           {"3 RMW", "breakdown/4k/atomics-3"},
           {"floor", "pin/4k/floor"}})
    s += fmt::format("{} {}\n", quote(label), num(r, id));
  s += "EOD\n";
  s += HISTOGRAM;
  s += "set ylabel 'ns per page'\nset yrange [0:*]\nset key off\n"
       "plot $d using 2:xtic(1) title 'ns per page'\n";
  return s;
}

std::string churn_plot(const bench::report& r, const std::string& dir, const std::string& subtitle) {
  std::string s = header(dir, "churn.svg", "pin + unpin of 1024 x 4 KiB under churn (mutator at 1000 ops/s)" + subtitle);
  s += "$d << EOD\n";
  s += fmt::format("{} {} {} {}\n", quote("no churn"), num(r, "pin/4k/fast/ipi"), num(r, "pin/4k/fast/rcu"),
                   num(r, "pin/4k/fast/seqcount"));
  for (const char* m : {"munmap", "reclaim", "collapse"})
    s += fmt::format("{} {} {} {}\n", quote(m), num(r, fmt::format("churn/{}/ipi", m)),
                     num(r, fmt::format("churn/{}/rcu", m)), num(r, fmt::format("churn/{}/seqcount", m)));
  s += "EOD\n";
  s += HISTOGRAM;
  s += "set ylabel 'ns per page'\nset yrange [0:*]\nset key top left\n"
       "plot $d using 2:xtic(1) title 'ipi', '' using 3 title 'rcu', '' using 4 title 'seqcount'\n";
  return s;
}

std::string mutator_plot(const bench::report& r, const std::string& dir, const std::string& subtitle) {
  std::string s = header(dir, "mutator.svg", "the mutator's cost per table freed (reclaim: per call)" + subtitle);
  s += "$d << EOD\n";
  for (const char* m : {"munmap", "collapse", "reclaim"})
    s += fmt::format("{} {} {} {}\n", quote(m), num(r, fmt::format("mutator/{}/ipi", m)),
                     num(r, fmt::format("mutator/{}/rcu", m)), num(r, fmt::format("mutator/{}/seqcount", m)));
  s += "EOD\n";
  s += HISTOGRAM;
  s += "set logscale y\nset ylabel 'us (log scale)'\nset key top right\n"
       "plot $d using 2:xtic(1) title 'ipi', '' using 3 title 'rcu', '' using 4 title 'seqcount'\n";
  return s;
}

std::string scaling_plot(const bench::report& r, const std::string& dir, const std::string& subtitle) {
  std::string s = header(dir, "scaling.svg", "pinning CPUs at once (rcu): ns per page seen by one CPU" + subtitle);
  const char* const kinds[] = {"distinct-4k", "shared-4k", "distinct-page", "shared-page"};
  std::string plot = "plot ";
  int n = 0;
  for (const char* k : kinds) {
    std::string points;
    for (const bench::row& x : r.rows) {
      std::string p = fmt::format("scaling/{}/", k);
      if (x.id.rfind(p, 0) == 0 && x.value) points += fmt::format("{} {:.6g}\n", x.id.substr(p.size()), *x.value);
    }
    if (points.empty()) continue;  // filtered out: no empty series (gnuplot would complain)
    s += fmt::format("$s{} << EOD\n{}EOD\n", n, points);
    plot += fmt::format("{}$s{} using 1:2 with linespoints lw 2 pt 7 ps 1.2 title {}", n ? ", " : "", n, quote(k));
    n++;
  }
  s += "set logscale y\nset ylabel 'ns per page (log scale)'\nset xlabel 'pinning CPUs'\n"
       "set xtics 1\nset key top left\n";
  return s + plot + "\n";
}

}  // namespace

std::string write_plots(const bench::report& r, const std::string& dir) {
  const std::string subtitle =
      fmt::format("\\n{}, {} cores, Linux {}, {} mode", r.machine.cpu_model, r.machine.cores, r.machine.kernel, r.mode);
  std::string script;
  if (any(r, {"pin/"})) script += pin_plot(r, dir, subtitle);
  if (any(r, {"breakdown/4k/"})) script += breakdown_plot(r, dir, subtitle);
  if (any(r, {"churn/"})) script += churn_plot(r, dir, subtitle);
  if (any(r, {"mutator/"})) script += mutator_plot(r, dir, subtitle);
  if (any(r, {"scaling/"})) script += scaling_plot(r, dir, subtitle);
  if (script.empty()) return "";
  child_result g = run_child({"gnuplot"}, 60, script);
  if (!g.started) return "cannot run gnuplot: " + g.err;
  if (g.timed_out) return "gnuplot ran past 60 s";
  if (g.exit_code != 0) {
    std::string first = g.err.substr(0, g.err.find('\n', g.err.find_first_not_of('\n')));
    return fmt::format("gnuplot exited {}: {}", g.exit_code, first);
  }
  return "";
}

}  // namespace gupfast::cli
