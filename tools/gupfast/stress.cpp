// `gupfast stress`: the stress harness (src/stress/stress.h) on the command line.
//
// Parses the options, runs one stress run, prints a live progress line on stderr when it is
// a terminal, one line per violation as the oracle finds it (the first ones), and a summary
// table; writes the JSON report with --json. Exit 0: no violation; 1: violations (the first
// printed in full) or the run could not be set up; 2: misuse (cli.h).
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "stress/stress.h"

namespace gupfast::cli {

namespace {

struct stress_cli {
  machine_options machine;
  unsigned threads = 2;
  std::string mutators = "all";
  double seconds = 0;
  uint64_t ops = 0;
  uint64_t seed = 1;
  std::string unsafe;
  bool amplify = false;
  bool keep_going = false;
  std::string json;
  bool list_unsafe = false;
  stress::options opts;  // filled when parsing finished
};

constexpr double DEFAULT_SECONDS = 10;
constexpr unsigned MAX_PRINTED = 10;  // violation lines printed as they come

const char* const stop_names[] = {"pte_changed", "pmd_changed",  "folio_changed", "ref_zero",
                                  "seq_changed", "not_present",  "permission",    "unshare",
                                  "special",     "longterm",     "table_gone",    "bad_pfn"};
const counter_id stop_ids[] = {CNT_stop_pte_changed, CNT_stop_pmd_changed, CNT_stop_folio_changed,
                               CNT_stop_ref_zero,    CNT_stop_seq_changed, CNT_stop_not_present,
                               CNT_stop_permission,  CNT_stop_unshare,     CNT_stop_special,
                               CNT_stop_longterm,    CNT_stop_table_gone,  CNT_stop_bad_pfn};
static_assert(std::size(stop_names) == std::size(stop_ids));

const char* const gup_call_names[stress::NR_GUP_CALLS] = {"pin_fast", "get_fast", "pin", "get"};

// stderr is shared by the progress line and the violation lines (from any thread).
std::mutex g_err_lock;
bool g_progress_shown = false;

void clear_progress_locked() {
  if (g_progress_shown) std::fputs("\r\033[K", stderr);
  g_progress_shown = false;
}

void print_progress(const stress::progress& p) {
  std::lock_guard lk(g_err_lock);
  std::string target = p.ops_target ? fmt::format("{}/{} ops", p.ops, p.ops_target)
                                    : fmt::format("{:.0f}/{:.0f} s, {} ops", p.elapsed, p.seconds_target, p.ops);
  fmt::print(stderr, "\r\033[Kstress: {:.1f} s  {}  {:.0f} ops/s  violations {}", p.elapsed, target,
             p.elapsed > 0 ? double(p.ops) / p.elapsed : 0.0, p.violations);
  std::fflush(stderr);
  g_progress_shown = true;
}

void print_violation_line(const check::violation& v, uint64_t nth) {
  std::lock_guard lk(g_err_lock);
  clear_progress_locked();
  if (nth < MAX_PRINTED)
    fmt::print(stderr, "violation: {}: {}\n", check::to_string(v.kind), v.message);
  else if (nth == MAX_PRINTED)
    fmt::print(stderr, "violation: (more violations are counted, not printed)\n");
}

nlohmann::json to_json(const stress_cli& c, const stress::report& r) {
  using nlohmann::json;
  json j;
  j["machine"] = r.machine;
  j["strategy"] = to_string(r.strategy);
  j["tlb"] = to_string(r.tlb);
  j["pte"] = to_string(r.pte);
  j["seed"] = c.seed;
  j["seconds"] = r.seconds;
  j["ops_requested"] = c.opts.ops;
  j["seconds_requested"] = c.opts.ops ? 0.0 : c.opts.seconds;
  j["threads"] = c.threads;
  j["amplify"] = c.amplify;
  j["stopped_early"] = r.stopped_early;
  json mut = json::array();
  for (unsigned m = 0; m < stress::NR_MUTATORS; m++)
    if (c.opts.mutators >> m & 1) mut.push_back(to_string(stress::mutator(m)));
  j["mutators"] = mut;
  json unsafe = json::array();
  for (unsigned i = 0; i < NR_UNSAFE_STEPS; i++)
    if (r.unsafe >> i & 1) unsafe.push_back(unsafe_steps[i].name);
  j["unsafe"] = unsafe;

  json ops;
  ops["gup_fast_pages"] = r.counters[CNT_gup_fast_pages];
  ops["gup_slow_pages"] = r.counters[CNT_gup_slow_pages];
  ops["unpins"] = r.counters[CNT_gup_unpins];
  ops["puts"] = r.counters[CNT_gup_puts];
  for (unsigned m = 0; m < stress::NR_MUTATORS; m++) ops[to_string(stress::mutator(m))] = r.mutator_ops[m];
  j["ops"] = ops;
  json calls;
  for (unsigned i = 0; i < stress::NR_GUP_CALLS; i++) calls[gup_call_names[i]] = r.gup_calls[i];
  j["gup_calls"] = calls;
  json stops;
  for (size_t i = 0; i < std::size(stop_ids); i++) stops[stop_names[i]] = r.counters[stop_ids[i]];
  j["fast_path_stops"] = stops;
  json counters;
  for (unsigned i = 0; i < NR_COUNTERS; i++) counters[counter_names[i]] = r.counters[i];
  j["counters"] = counters;

  j["unexpected_errors"] = r.unexpected_errors;
  j["unexpected_error_lines"] = r.error_lines;
  j["orphans_reclaimed"] = r.orphans_reclaimed;
  j["leaked_frames"] = r.leaked_frames;
  j["leaked_swap_slots"] = r.leaked_swap_slots;
  j["violation_count"] = r.violation_count;
  json by_kind;
  for (int k = 0; k < check::NR_VIOLATION_KINDS; k++) by_kind[check::to_string(check::violation_kind(k))] = r.violations_by_kind[k];
  j["violations_by_kind"] = by_kind;
  json vs = json::array();
  for (const check::violation& v : r.violations) {
    json o;
    o["kind"] = check::to_string(v.kind);
    o["message"] = v.message;
    o["addr"] = v.addr;
    o["pfn"] = v.pfn == ~0ul ? json(nullptr) : json(v.pfn);
    o["folio_pfn"] = v.folio_pfn == ~0ul ? json(nullptr) : json(v.folio_pfn);
    o["table_pfn"] = v.table_pfn == ~0ul ? json(nullptr) : json(v.table_pfn);
    o["cpu"] = v.cpu;
    o["events"] = v.events;
    vs.push_back(o);
  }
  j["violations"] = vs;
  return j;
}

void print_summary(const stress_cli& c, const stress::report& r) {
  const uint64_t* n = r.counters;
  fmt::print("gupfast stress: {}, {} GUP thread{}, seed {}, {:.2f} s{}\n", r.machine, c.threads, c.threads == 1 ? "" : "s",
             c.seed, r.seconds, r.stopped_early ? " (stopped at the first violation)" : "");
  fmt::print("\noperations\n");
  fmt::print("  {:<14} {}\n", "gup calls",
             fmt::format("pin_fast {}  get_fast {}  pin {}  get {}", r.gup_calls[0], r.gup_calls[1], r.gup_calls[2],
                         r.gup_calls[3]));
  fmt::print("  {:<14} fast {}  slow {}  (unpins {}, puts {})\n", "gup pages", n[CNT_gup_fast_pages],
             n[CNT_gup_slow_pages], n[CNT_gup_unpins], n[CNT_gup_puts]);
  for (unsigned m = 0; m < stress::NR_MUTATORS; m++) {
    if (!(c.opts.mutators >> m & 1)) continue;
    std::string effect;
    switch (stress::mutator(m)) {
      case stress::mutator::reclaim:
        effect = fmt::format("pages reclaimed {}, swapped in {}, kept pinned {}, freeze failed {}", n[CNT_reclaim_done],
                             n[CNT_pswpin], n[CNT_reclaim_skip_pinned] + n[CNT_reclaim_unmap_pinned],
                             n[CNT_reclaim_freeze_failed]);
        break;
      case stress::mutator::migrate:
        effect = fmt::format("pages moved {}, kept pinned {}, freeze failed {}", n[CNT_migrate_done],
                             n[CNT_migrate_pinned] + n[CNT_migrate_unmap_pinned], n[CNT_migrate_freeze_failed]);
        break;
      case stress::mutator::split:
        effect = fmt::format("folios split {}, kept pinned {}, busy {}", n[CNT_split_done],
                             n[CNT_split_pinned] + n[CNT_split_unmap_pinned], n[CNT_split_busy] + n[CNT_split_freeze_failed]);
        break;
      case stress::mutator::collapse:
        effect = fmt::format("collapsed {}, kept pinned {}, extra refs {}", n[CNT_collapse_done], n[CNT_collapse_fail_pinned],
                             n[CNT_collapse_fail_refcount]);
        break;
      case stress::mutator::fork:
        effect = fmt::format("pinned pages copied {}, cow copies {}", n[CNT_fork_pinned_copies], n[CNT_cow_copies]);
        break;
      default: break;
    }
    fmt::print("  {:<14} {}{}\n", to_string(stress::mutator(m)), r.mutator_ops[m], effect.empty() ? "" : "  (" + effect + ")");
  }
  fmt::print("\nfast-path stops\n");
  for (size_t i = 0; i < std::size(stop_ids); i++)
    if (n[stop_ids[i]]) fmt::print("  {:<14} {}\n", stop_names[i], n[stop_ids[i]]);
  fmt::print("\nviolations: {}\n", r.violation_count);
  for (int k = 0; k < check::NR_VIOLATION_KINDS; k++)
    if (r.violations_by_kind[k]) fmt::print("  {:<14} {}\n", check::to_string(check::violation_kind(k)), r.violations_by_kind[k]);
  if (r.unexpected_errors) {
    fmt::print("\nunexpected errors: {}\n", r.unexpected_errors);
    for (const std::string& l : r.error_lines) fmt::print("  {}\n", l);
  }
  if (!r.violations.empty()) fmt::print("\nfirst violation:\n{}\n", r.violations.front().detail());
}

int run_stress(stress_cli& c) {
  if (c.list_unsafe) {
    for (const unsafe_info& u : unsafe_steps)
      fmt::print("{:<21} removes: {}; opens: {}{}\n", u.name, u.check, u.race,
                 *u.commit ? fmt::format("; fix: {} (gupfast scenarios --zoo)", u.commit) : "");
    return 0;
  }
  std::atomic<uint64_t> printed{0};  // violations seen by the callback, any thread
  c.opts.on_violation = [&printed](const check::violation& v) {
    print_violation_line(v, printed.fetch_add(1, std::memory_order_relaxed));
  };
  if (isatty(STDERR_FILENO)) c.opts.on_progress = print_progress;
  stress::report r = stress::run(c.opts);
  {
    std::lock_guard lk(g_err_lock);
    clear_progress_locked();
  }
  if (!r.error.empty()) {
    fmt::print(stderr, "gupfast stress: {}\n", r.error);
    return EXIT_RUN_FAILED;
  }
  print_summary(c, r);
  if (!c.json.empty()) {
    std::ofstream f(c.json);
    f << to_json(c, r).dump(2) << '\n';
    if (!f) {
      fmt::print(stderr, "gupfast stress: cannot write {}\n", c.json);
      return EXIT_RUN_FAILED;
    }
  }
  return r.violation_count || r.unexpected_errors ? EXIT_RUN_FAILED : 0;
}

}  // namespace

command add_stress_command(CLI::App& root) {
  auto c = std::make_shared<stress_cli>();
  CLI::App* sub = root.add_subcommand(
      "stress", "Run GUP threads against mutators on real threads for a while; the oracle judges every "
                "operation (exit 1 on a violation)");
  add_machine_options(sub, &c->machine);
  sub->add_option("--threads", c->threads, "GUP threads (each is a CPU and a DMA slot)")
      ->check(CLI::Range(1u, stress::MAX_GUP_THREADS))
      ->capture_default_str();
  sub->add_option("--mutators", c->mutators,
                  "Comma-separated list, or all, or none: munmap, madvise, mprotect, remap, reclaim, "
                  "migrate, split, collapse, fork, user-writes, dma (device writes through pins)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            std::string bad;
            if (stress::parse_mutator_list(s, &bad)) return {};
            return fmt::format("'{}' is not a mutator (munmap,madvise,mprotect,remap,reclaim,migrate,split,"
                               "collapse,fork,user-writes,dma, or all, none)",
                               bad);
          },
          "LIST"))
      ->capture_default_str();
  CLI::Option* secs = sub->add_option("--seconds", c->seconds,
                                      fmt::format("Run for this long (default {:.0f} when --ops is not given)", DEFAULT_SECONDS))
                          ->check(CLI::Range(0.001, 1e7));
  CLI::Option* ops = sub->add_option("--ops", c->ops, "Run this many operations in all, split among the threads")
                         ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  secs->excludes(ops);
  sub->add_option("--seed", c->seed, "Seed of every thread's operation sequence (interleavings still vary)")
      ->capture_default_str();
  sub->add_option("--unsafe", c->unsafe, "Comma-separated safety steps to remove (see --list-unsafe)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            std::string bad;
            if (parse_unsafe_list(s, &bad)) return {};
            return fmt::format("'{}' is not an unsafe step (see gupfast stress --list-unsafe)", bad);
          },
          "LIST"));
  sub->add_flag("--amplify", c->amplify, "Named yield points become short random delays (widens race windows)");
  sub->add_flag("--keep-going", c->keep_going,
                "With --unsafe: keep running after the first violation (default: stop there)");
  sub->add_option("--json", c->json, "Write the report as JSON to this file");
  sub->add_flag("--list-unsafe", c->list_unsafe,
                "Print every unsafe step: the kernel check it removes and the race it opens; then exit");
  sub->callback([c] {
    stress::options& o = c->opts;
    o.cfg = to_machine_config(c->machine);
    o.cfg.unsafe = *parse_unsafe_list(c->unsafe, nullptr);
    o.threads = c->threads;
    o.mutators = *stress::parse_mutator_list(c->mutators, nullptr);
    o.ops = c->ops;
    o.seconds = o.ops ? 0 : (c->seconds > 0 ? c->seconds : DEFAULT_SECONDS);
    o.seed = c->seed;
    o.amplify = c->amplify;
    o.stop_on_violation = o.cfg.unsafe != 0 && !c->keep_going;
  });
  return {sub, [c] { return run_stress(*c); }};
}

}  // namespace gupfast::cli
