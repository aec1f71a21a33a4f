// In-process run of the selected benchmarks with a reporter that keeps every repetition,
// then one median per figure (runner.h).
#include "runner.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <regex>

namespace gupfast::bench {

namespace {

// Google Benchmark parses its flags once; we pass none and set the filter per run.
void initialize_once() {
  static bool done = false;
  if (done) return;
  done = true;
  static char arg0[] = "gupfast-bench";
  char* argv[] = {arg0, nullptr};
  int argc = 1;
  benchmark::Initialize(&argc, argv);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct repetition {
  bool error = false;
  std::string message;
  double ns_per_iter = 0;
  double wall_ns_per_iter = 0;
  std::map<std::string, double> counters;
};

// Keeps each repetition of each benchmark (by id: Google Benchmark's function name, without
// the "/min_time:.../real_time" suffixes); aggregates (mean, median, stddev) are ignored.
class collecting_reporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      repetition rep;
      rep.error = r.error_occurred;
      rep.message = r.error_message;
      // Every benchmark is registered in ns. Google Benchmark's CPU time is the measuring
      // thread's (CLOCK_THREAD_CPUTIME_ID): it leaves out the time the thread waited for a
      // core, which on a shared 2-core machine is most of the noise in the wall time.
      rep.ns_per_iter = r.GetAdjustedCPUTime();
      rep.wall_ns_per_iter = r.GetAdjustedRealTime();
      for (const auto& [name, c] : r.counters) rep.counters[name] = c.value;
      seen_[r.run_name.function_name].push_back(std::move(rep));
    }
  }
  const std::map<std::string, std::vector<repetition>>& seen() const { return seen_; }

 private:
  std::map<std::string, std::vector<repetition>> seen_;
};

// ERE-escape an id for Google Benchmark's filter.
std::string ere_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".[]()*+?{}|^$\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::vector<std::string> select_ids(const std::vector<std::string>& ids, const std::string& filter) {
  if (filter.empty()) return ids;
  std::regex re(filter, std::regex::ECMAScript);
  std::vector<std::string> out;
  for (const std::string& id : ids)
    if (std::regex_search(id, re)) out.push_back(id);
  return out;
}

std::vector<bench_result> run_selected(const std::vector<std::string>& selected) {
  std::vector<bench_result> out;
  if (selected.empty()) return out;
  initialize_once();
  // Exactly these ids, whatever suffixes Google Benchmark appends to the names.
  std::string spec = "^(";
  for (size_t i = 0; i < selected.size(); i++) spec += (i ? "|" : "") + ere_escape(selected[i]);
  spec += ")(/|$)";
  collecting_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep, spec);

  for (const std::string& id : selected) {
    bench_result r;
    r.id = id;
    auto it = rep.seen().find(id);
    if (it == rep.seen().end() || it->second.empty()) {
      r.error = "did not run";
      out.push_back(std::move(r));
      continue;
    }
    const std::vector<repetition>& reps = it->second;
    r.repetitions = static_cast<int>(reps.size());
    auto bad = std::find_if(reps.begin(), reps.end(), [](const repetition& x) { return x.error; });
    if (bad != reps.end()) {
      r.error = bad->message;
      out.push_back(std::move(r));
      continue;
    }
    r.ok = true;
    std::vector<double> t, w;
    std::map<std::string, std::vector<double>> c;
    for (const repetition& x : reps) {
      t.push_back(x.ns_per_iter);
      w.push_back(x.wall_ns_per_iter);
      for (const auto& [k, v] : x.counters) c[k].push_back(v);
    }
    r.ns_per_iter = median(t);
    r.wall_ns_per_iter = median(w);
    for (auto& [k, v] : c) r.counters[k] = median(std::move(v));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace gupfast::bench
