// The report's rows, ratios and targets from the benchmark results, the machine it ran on,
// and its JSON form (report.h).
#include "report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>

#include <fmt/format.h>

#include "suite.h"

namespace gupfast::bench {

namespace {

const char* const STRATEGY_NAMES[] = {"ipi", "rcu", "seqcount"};
struct mutator_desc {
  const char* id;
  const char* what;  // the churn row's name
  const char* call;  // the call whose cost the mutator row reports
};
const mutator_desc MUTATORS[] = {
    {"munmap", "munmap + mmap of a 2 MiB neighbour", "munmap (frees one PTE table)"},
    {"reclaim", "reclaim 16 pages in a table it reads", "reclaim_range of 16 pages"},
    {"collapse", "collapse a 2 MiB neighbour", "collapse_pmd_range (frees one PTE table)"},
};

std::optional<double> div(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b <= 0) return std::nullopt;
  return *a / *b;
}

// Looks results up by id and builds rows; a row is made only for a benchmark that was
// selected, and compared only with benchmarks that were selected.
class builder {
 public:
  builder(const std::vector<bench_result>& results, report* r) : r_(*r) {
    for (const bench_result& b : results) by_id_[b.id] = &b;
  }

  bool ran(const std::string& id) const { return by_id_.count(id) != 0; }
  std::optional<double> counter(const std::string& id, const std::string& name) const {
    const bench_result* b = ok(id);
    if (!b) return std::nullopt;
    auto it = b->counters.find(name);
    if (it == b->counters.end()) return std::nullopt;
    return it->second;
  }
  std::optional<double> ns_per_page(const std::string& id) const {
    const bench_result* b = ok(id);
    auto pages = counter(id, PAGES_PER_ITER);
    if (!b || !pages || *pages <= 0) return std::nullopt;
    return b->ns_per_iter / *pages;
  }

  // A row for `id` (whose benchmark is `bench`), with `value`; its n/a reason from `bench`.
  row make(const std::string& section, const std::string& id, const std::string& name, const std::string& unit,
           std::optional<double> value, const std::string& bench) const {
    row x;
    x.id = id;
    x.section = section;
    x.name = name;
    x.unit = unit;
    x.value = value;
    if (!value) x.na = na(bench);
    if (const bench_result* b = ok(bench)) {
      x.counters = b->counters;
      auto pages = b->counters.find(PAGES_PER_ITER);
      if (pages != b->counters.end() && pages->second > 0)
        x.counters["wall_ns_per_page"] = b->wall_ns_per_iter / pages->second;
    }
    return x;
  }
  row make_ns(const std::string& section, const std::string& id, const std::string& name) const {
    return make(section, id, name, "ns/page", ns_per_page(id), id);
  }
  // "<ratio>x label" beside x, for `other` (ns/page) if it was selected; null if n/a.
  void vs(row& x, const std::string& label, const std::string& other) const {
    if (ran(other)) x.vs.emplace_back(label, div(x.value, ns_per_page(other)));
  }
  // Adds x to the report if benchmark `bench` was selected.
  void push_if_ran(const std::string& bench, row x) {
    if (ran(bench)) r_.rows.push_back(std::move(x));
  }
  void ratio(const std::string& key, std::optional<double> v) { r_.ratios.emplace_back(key, v); }
  std::optional<double> ratio_ns(const std::string& a, const std::string& b) const {
    return div(ns_per_page(a), ns_per_page(b));
  }

 private:
  const bench_result* ok(const std::string& id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() || !it->second->ok ? nullptr : it->second;
  }
  std::string na(const std::string& id) const {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return "n/a (not run)";
    const std::string& e = it->second->error;
    return e.rfind("n/a", 0) == 0 ? e : "n/a (" + e + ")";
  }

  std::map<std::string, const bench_result*> by_id_;
  report& r_;
};

void pin_sections(builder& b) {
  for (bool thp : {false, true}) {
    const std::string section = thp ? "pin + unpin, two 2 MiB THP folios (1024 pages), 1 thread: ns per 4 KiB page"
                                    : "pin + unpin, 1024 x 4 KiB pages, 1 thread: ns per page";
    const std::string p = thp ? "pin/thp/" : "pin/4k/";
    auto add = [&](const std::string& id, const std::string& name, bool vs_kernel) {
      row x = b.make_ns(section, id, name);
      if (vs_kernel) {
        b.vs(x, "io_uring", p + "kernel/io_uring");
        b.vs(x, "vmsplice", p + "kernel/vmsplice");
      }
      if (id != p + "floor") b.vs(x, "floor", p + "floor");
      if (thp && id.find("/fast/") != std::string::npos) b.vs(x, "4 KiB", "pin/4k/" + id.substr(p.size()));
      b.push_if_ran(id, std::move(x));
    };
    for (const char* s : STRATEGY_NAMES)
      add(p + "fast/" + s, fmt::format("fast path (pin_user_pages_fast), {}", s), true);
    add(p + "slow", "slow path (pin_user_pages, mmap_lock held)", true);
    add(p + "kernel/io_uring", "kernel: io_uring buffer register + unregister", false);
    add(p + "kernel/vmsplice", "kernel: vmsplice to a pipe + splice to /dev/null", false);
    add(p + "floor", thp ? "floor: atomic add + sub per folio, no walk"
                         : "floor: atomic add + sub per page, no walk",
        false);
  }
}

void breakdown_sections(builder& b) {
  for (bool thp : {false, true}) {
    const std::string section =
        fmt::format("where the {} fast path's time goes (rcu): ns per page", thp ? "THP" : "4 KiB");
    const std::string fast = thp ? "pin/thp/fast/rcu" : "pin/4k/fast/rcu";
    const std::string d = thp ? "breakdown/thp/" : "breakdown/4k/";
    auto add = [&](const std::string& id, const std::string& name) {
      row x = b.make_ns(section, id, name);
      b.vs(x, "fast path", fast);
      if (id.rfind("breakdown/4k/atomics", 0) == 0) b.vs(x, "floor", "pin/4k/floor");
      b.push_if_ran(id, std::move(x));
    };
    add(d + "walk", "walk only (irqs off + RCU, load entries, no grab)");
    add(d + "grab", thp ? "grab only (try_grab_folio_fast per folio + unpin)"
                        : "grab only (try_grab_folio_fast per page + unpin)");
    if (b.ran(fast) && b.ran(d + "walk") && b.ran(d + "grab")) {
      std::optional<double> rest;
      auto f = b.ns_per_page(fast), w = b.ns_per_page(d + "walk"), g = b.ns_per_page(d + "grab");
      if (f && w && g) rest = *f - *w - *g;
      row x = b.make(section, d + "rest", "rest = fast - walk - grab (rechecks, PG_referenced)",
                     "ns/page", rest, fast);
      if (!rest) x.na = "n/a (an input is n/a)";
      b.vs(x, "fast path", fast);
      b.push_if_ran(fast, std::move(x));
    }
    add(d + "core", "gup_fast() core + unpin (no entry checks)");
    if (!thp) {
      add("breakdown/4k/atomics", "protocol atomics only: CAS, add, smp_mb, OR, sub");
      add("breakdown/4k/atomics-no-fence", "the same without smp_mb (the kernel's x86 code)");
      add("breakdown/4k/atomics-3", "the same, PG_referenced tested before set: 3 RMW");
    }
  }
}

// "seq_changed 0.98, pte_changed 0.01" from a churn row's stop_*_per_call counters.
std::string stop_reasons(const row& x) {
  std::string out;
  const std::string pre = "stop_", suf = "_per_call";
  for (const auto& [k, v] : x.counters) {
    if (k.size() <= pre.size() + suf.size() || k.rfind(pre, 0) != 0 || v <= 0) continue;
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", k.substr(pre.size(), k.size() - pre.size() - suf.size()),
                       format_figure(v));
  }
  return out;
}

void churn_sections(builder& b) {
  const std::string section = "pin + unpin, 1024 x 4 KiB, a mutator CPU at 1000 ops/s: ns per page";
  for (const mutator_desc& m : MUTATORS) {
    for (const char* s : STRATEGY_NAMES) {
      const std::string id = fmt::format("churn/{}/{}", m.id, s);
      row x = b.make_ns(section, id, fmt::format("{}: {}", s, m.what));
      b.vs(x, "no churn", std::string("pin/4k/fast/") + s);
      if (std::string(s) != "rcu") b.vs(x, "rcu", fmt::format("churn/{}/rcu", m.id));
      if (x.value) {
        std::string reasons = stop_reasons(x);
        x.note = fmt::format("stops/call {}{}, slow-path pages/call {}",
                             format_figure(b.counter(id, "stops_per_call").value_or(0)),
                             reasons.empty() ? "" : " (" + reasons + ")",
                             format_figure(b.counter(id, "slow_pages_per_call").value_or(0)));
      }
      b.push_if_ran(id, std::move(x));
    }
  }
  const std::string cost = "the mutator's cost: wall time of the call that frees (or reclaims), us";
  for (const mutator_desc& m : MUTATORS) {
    const bool reclaim = std::string(m.id) == "reclaim";
    const char* key = reclaim ? "mutator_us_per_reclaim" : "mutator_us_per_table";
    const std::string rcu = fmt::format("churn/{}/rcu", m.id);
    for (const char* s : STRATEGY_NAMES) {
      const std::string id = fmt::format("churn/{}/{}", m.id, s);
      row x = b.make(cost, fmt::format("mutator/{}/{}", m.id, s), fmt::format("{}: {}", s, m.call), "us",
                     b.counter(id, key), id);
      if (std::string(s) != "rcu" && b.ran(rcu)) x.vs.emplace_back("rcu", div(x.value, b.counter(rcu, key)));
      if (x.value)
        x.note = fmt::format(
            "{:.0f} ops at {:.0f} ops/s, {:.0f} failed; tables freed/op {}; TLB IPIs/op {}; pinner on a core {:.0f}%",
            b.counter(id, "mutator_ops").value_or(0), b.counter(id, "mutator_ops_per_s").value_or(0),
            b.counter(id, "mutator_failures").value_or(0), format_figure(b.counter(id, "tables_freed_per_op").value_or(0)),
            format_figure(b.counter(id, "tlb_ipis_per_op").value_or(0)),
            100 * b.counter(id, "pinner_on_core_fraction").value_or(0));
      b.push_if_ran(id, std::move(x));
    }
  }
}

void scaling_section(builder& b, const std::vector<bench_result>& results) {
  const std::string section = "scaling (rcu): ns per page seen by one CPU, T CPUs pinning at once";
  const std::map<std::string, std::string> what = {
      {"distinct-4k", "each CPU its own 1024 x 4 KiB pages"},
      {"shared-4k", "all CPUs the same 1024 x 4 KiB pages"},
      {"distinct-page", "each CPU its own 4 KiB page, 1 page per call"},
      {"shared-page", "all CPUs one shared 4 KiB folio, 1 page per call"},
  };
  for (const bench_result& r : results) {
    if (r.id.rfind("scaling/", 0) != 0) continue;
    std::string rest = r.id.substr(8);
    std::string kind = rest.substr(0, rest.find('/'));
    std::string threads = rest.substr(rest.find('/') + 1);
    auto it = what.find(kind);
    row x = b.make_ns(section, r.id, fmt::format("T={}: {}", threads, it == what.end() ? kind : it->second));
    if (threads != "1") b.vs(x, "T=1", "scaling/" + kind + "/1");
    if (kind.rfind("shared-", 0) == 0) b.vs(x, "distinct", "scaling/distinct-" + kind.substr(7) + "/" + threads);
    if (auto agg = b.counter(r.id, "aggregate_mpages_per_s"))
      x.note = fmt::format("all CPUs: {} Mpages/s of wall-clock time; the threads were on a core {:.0f}% of it",
                           format_figure(*agg), 100 * b.counter(r.id, "on_core_fraction").value_or(0));
    b.push_if_ran(r.id, std::move(x));
  }
}

void memory_section(builder& b) {
  const std::string section = "memory";
  b.push_if_ran("memory/struct_page",
                b.make(section, "memory/struct_page", "struct page: metadata per 4 KiB frame", "bytes",
                       b.counter("memory/struct_page", "bytes"), "memory/struct_page"));
  row machine = b.make(section, "memory/rss_machine", "RSS of a 16 GiB machine (4M frames), created",
                       "MiB", b.counter("memory/rss", "rss_mib_machine"), "memory/rss");
  row touched = b.make(section, "memory/rss_touched", "the same after faulting in 1 GiB of anon memory", "MiB",
                       b.counter("memory/rss", "rss_mib_touched"), "memory/rss");
  if (touched.value) {
    touched.note = fmt::format("{} MiB beyond the 1024 MiB of data; {} ns per first-touch fault",
                               format_figure(*touched.value - 1024),
                               format_figure(b.counter("memory/rss", "touch_ns_per_page").value_or(0)));
    machine.note = fmt::format("the memmap, were it all resident: {} MiB",
                               format_figure(b.counter("memory/rss", "memmap_mib_if_resident").value_or(0)));
  }
  b.push_if_ran("memory/rss", std::move(machine));
  b.push_if_ran("memory/rss", std::move(touched));
}

void ratios_and_targets(builder& b, report* r) {
  const std::string fast = "pin/4k/fast/rcu";
  b.ratio("fast_vs_kernel_io_uring", b.ratio_ns(fast, "pin/4k/kernel/io_uring"));
  b.ratio("fast_vs_kernel_vmsplice", b.ratio_ns(fast, "pin/4k/kernel/vmsplice"));
  b.ratio("fast_vs_floor", b.ratio_ns(fast, "pin/4k/floor"));
  b.ratio("thp_vs_4k", b.ratio_ns("pin/thp/fast/rcu", fast));
  b.ratio("seqcount_vs_rcu", b.ratio_ns("pin/4k/fast/seqcount", fast));
  b.ratio("ipi_vs_rcu", b.ratio_ns("pin/4k/fast/ipi", fast));
  b.ratio("slow_vs_fast", b.ratio_ns("pin/4k/slow", fast));
  b.ratio("fast_vs_protocol_atomics", b.ratio_ns(fast, "breakdown/4k/atomics"));
  b.ratio("protocol_atomics_vs_floor", b.ratio_ns("breakdown/4k/atomics", "pin/4k/floor"));
  b.ratio("kernel_x86_atomics_vs_floor", b.ratio_ns("breakdown/4k/atomics-no-fence", "pin/4k/floor"));
  b.ratio("three_rmw_atomics_vs_floor", b.ratio_ns("breakdown/4k/atomics-3", "pin/4k/floor"));
  b.ratio("thp_fast_vs_kernel_io_uring", b.ratio_ns("pin/thp/fast/rcu", "pin/thp/kernel/io_uring"));
  b.ratio("thp_fast_vs_floor", b.ratio_ns("pin/thp/fast/rcu", "pin/thp/floor"));
  for (const mutator_desc& m : MUTATORS) {
    const std::string rcu = fmt::format("churn/{}/rcu", m.id);
    b.ratio(fmt::format("seqcount_vs_rcu_churn_{}", m.id), b.ratio_ns(fmt::format("churn/{}/seqcount", m.id), rcu));
    b.ratio(fmt::format("ipi_vs_rcu_churn_{}", m.id), b.ratio_ns(fmt::format("churn/{}/ipi", m.id), rcu));
  }
  r->targets = {
      {"4 KiB fast path (rcu) / kernel io_uring pin path, per page", "fast_vs_kernel_io_uring", 0.5},
      {"4 KiB fast path (rcu) / floor (2 atomics per page)", "fast_vs_floor", 1.5},
      {"THP / 4 KiB fast path (rcu), per 4 KiB page", "thp_vs_4k", 0.1},
      {"seqcount / rcu read side, no churn", "seqcount_vs_rcu", 1.10},
  };
}

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json opt_json(std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

}  // namespace

machine_info this_machine() {
  machine_info m;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      m.cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  m.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  utsname u{};
  if (uname(&u) == 0) m.kernel = u.release;
  std::string thp = read_first_line("/sys/kernel/mm/transparent_hugepage/enabled");
  if (auto a = thp.find('['), z = thp.find(']'); a != std::string::npos && z > a) m.thp = thp.substr(a + 1, z - a - 1);
  return m;
}

const row* report::find(const std::string& id) const {
  for (const row& x : rows)
    if (x.id == id) return &x;
  return nullptr;
}

std::optional<double> report::ratio(const std::string& key) const {
  for (const auto& [k, v] : ratios)
    if (k == key) return v;
  return std::nullopt;
}

report build_report(const std::vector<bench_result>& results, bool quick, int repetitions) {
  report r;
  r.mode = quick ? "quick" : "full";
  r.date = utc_now();
  r.repetitions = repetitions;
  r.machine = this_machine();
  builder b(results, &r);
  pin_sections(b);
  breakdown_sections(b);
  churn_sections(b);
  scaling_section(b, results);
  memory_section(b);
  ratios_and_targets(b, &r);
  return r;
}

nlohmann::json report_json(const report& r) {
  nlohmann::json j;
  j["mode"] = r.mode;
  j["date"] = r.date;
  j["repetitions"] = r.repetitions;
  j["machine"] = {{"cpu_model", r.machine.cpu_model},
                  {"cores", r.machine.cores},
                  {"kernel", r.machine.kernel},
                  {"thp", r.machine.thp}};
  nlohmann::json rows = nlohmann::json::array();
  for (const row& x : r.rows) {
    nlohmann::json o = {{"id", x.id}, {"section", x.section}, {"name", x.name}, {"unit", x.unit}};
    o[x.unit == "ns/page" ? "ns_per_page" : "value"] = opt_json(x.value);
    if (!x.na.empty()) o["na"] = x.na;
    nlohmann::json vs = nlohmann::json::object();
    for (const auto& [k, v] : x.vs) vs[k] = opt_json(v);
    o["vs"] = vs;
    if (!x.note.empty()) o["note"] = x.note;
    o["counters"] = x.counters;
    rows.push_back(std::move(o));
  }
  j["rows"] = std::move(rows);
  nlohmann::json ratios = nlohmann::json::object();
  for (const auto& [k, v] : r.ratios) ratios[k] = opt_json(v);
  j["ratios"] = std::move(ratios);
  nlohmann::json targets = nlohmann::json::array();
  for (const target& t : r.targets) {
    std::optional<double> v = r.ratio(t.ratio);
    targets.push_back({{"what", t.what},
                       {"ratio", t.ratio},
                       {"limit", t.limit},
                       {"value", opt_json(v)},
                       {"met", v ? nlohmann::json(*v <= t.limit) : nlohmann::json(nullptr)}});
  }
  j["targets"] = std::move(targets);
  return j;
}

}  // namespace gupfast::bench
