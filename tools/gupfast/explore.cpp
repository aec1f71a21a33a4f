// `gupfast explore FILE|NAME`: run a litmus scenario under the deterministic explorer.
//
// The machine comes from, in increasing priority: the defaults, the file's `machine` line,
// the command line. One run prints a summary and, if the oracle saw a violation, the
// counterexample (render.h) and a replay command; --check-expectations instead runs every
// `expect` line of the file in each configuration it names (docs/litmus.md) and prints one
// verdict per line. Exit codes: 0 nothing found / every expectation holds, 1 a violation /
// a broken expectation, 2 misuse or a bad litmus file ("FILE:LINE: message").
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "explore.h"
#include "explore_progress.h"
#include "render.h"
#include "scenarios.h"

namespace gupfast::cli {

// The search as the options say.
litmus::search_config search_of(const explore_options& o, const litmus::file& f) {
  litmus::search_config s;
  s.mode = o.mode;
  s.bound = o.given("--bound") ? o.bound : f.search.bound.value_or(o.bound);
  s.stale_bound = o.given("--stale-bound") ? o.stale_bound : f.search.stale_bound.value_or(o.stale_bound);
  s.runs = o.runs;
  s.seed = o.seed;
  s.pct_depth = o.pct_depth;
  s.shard_index = o.shard_index;
  s.shard_count = o.shard_count;
  s.coordinator = o.coordinator;
  s.connect_timeout_s = o.connect_timeout;
  if (!o.check) s.jobs = static_cast<int>(o.jobs);  // with --check-expectations: configurations at once
  s.max_steps = o.given("--max-steps") ? o.max_steps : f.search.max_steps.value_or(0);
  s.time_limit_s = o.given("--time-limit") ? o.time_limit : f.search.time_limit.value_or(0);
  s.max_executions = o.given("--max-executions") ? o.max_executions : f.search.max_executions.value_or(0);
  if (!o.replay.empty()) s.replay = o.replay;
  s.snapshot = !o.from_scratch;
  return s;
}

base_settings base_of(const litmus::file& f, const explore_options& o) {
  base_settings b;
  auto pick = [&](setting* s, const char* opt, const std::string& cli, const std::optional<std::string>& file) {
    if (o.given(opt)) *s = {cli, true};
    else if (file) *s = {*file, false};
  };
  pick(&b.strategy, "--strategy", o.machine.strategy, f.machine.strategy);
  pick(&b.tlb, "--tlb", o.machine.tlb, f.machine.tlb);
  pick(&b.pte, "--pte", o.machine.pte, f.machine.pte);
  pick(&b.seq_scope, "--seq-scope", o.machine.seq_scope, f.machine.seq_scope);
  pick(&b.memory, "--memory", o.memory, f.machine.memory);
  b.pt_reclaim = o.machine.pt_reclaim || f.machine.pt_reclaim.value_or(false);
  b.nodes = o.given("--nodes") ? o.machine.nodes : f.machine.nodes.value_or(1);
  b.geometry = o.given("--geometry") ? o.machine.geometry : f.machine.geometry.value_or("small");
  return b;
}

// A resolved configuration, or nullopt if the combination is not a machine (strategy ipi
// with broadcast flushes; a seq-scope without the seqcount strategy is ignored).
std::optional<litmus::run_config> resolve(const std::string& strategy, const std::optional<std::string>& tlb,
                                          const std::string& pte, const std::optional<std::string>& scope,
                                          const base_settings& b, uint32_t unsafe) {
  litmus::run_config c;
  c.strategy = strategy;
  c.tlb = tlb ? *tlb : strategy == "ipi" ? "ipi" : "broadcast";
  if (c.strategy == "ipi" && c.tlb != "ipi") return std::nullopt;
  c.pte = pte;
  if (scope && strategy == "seqcount") c.seq_scope = *scope;
  c.pt_reclaim = b.pt_reclaim;
  c.nodes = b.nodes;
  c.geometry = b.geometry;
  c.unsafe = unsafe;
  c.memory = b.memory.value.value_or("sc");
  return c;
}

// Every configuration an expectation names, narrowed by the command line's settings.
std::vector<litmus::run_config> configs_of(const litmus::expectation& e, const base_settings& b) {
  auto values = [&](const char* key, const setting& s) -> std::vector<std::optional<std::string>> {
    auto it = e.on.find(key);
    if (it == e.on.end()) return {s.value};
    std::vector<std::optional<std::string>> v;
    for (const std::string& x : it->second)
      if (!s.from_cli || x == *s.value) v.emplace_back(x);
    return v;
  };
  std::vector<litmus::run_config> out;
  for (const auto& strategy : values("strategy", b.strategy))
    for (const auto& tlb : values("tlb", b.tlb))
      for (const auto& pte : values("pte", b.pte))
        for (const auto& scope : values("seq-scope", b.seq_scope))
          for (const auto& memory : values("memory", b.memory)) {
            if (e.on.count("seq-scope") && strategy.value_or("rcu") != "seqcount") continue;
            auto c = resolve(strategy.value_or("rcu"), tlb, pte.value_or("native"), scope, b, e.unsafe);
            if (!c) continue;
            c->memory = memory.value_or("sc");
            out.push_back(*c);
          }
  return out;
}

std::string replay_command(const explore_options& o, const litmus::run_config& c, const std::string& token) {
  std::string s = fmt::format("gupfast explore {} --strategy {} --tlb {} --pte {}", o.target, c.strategy, c.tlb, c.pte);
  if (c.strategy == "seqcount") s += " --seq-scope " + c.seq_scope;
  if (c.pt_reclaim) s += " --pt-reclaim";
  if (c.nodes != 1) s += fmt::format(" --nodes {}", c.nodes);
  s += " --geometry " + c.geometry;
  if (c.unsafe) s += " --unsafe " + unsafe_mask_names(c.unsafe);
  if (c.memory != "sc") s += " --memory " + c.memory;
  if (o.given("--max-steps")) s += fmt::format(" --max-steps {}", o.max_steps);
  return s + " --replay " + token;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    fmt::print(stderr, "gupfast: explore: cannot write '{}'\n", path);
    return false;
  }
  return true;
}

// An operation of setup failed: the file's fault, reported like a parse error.
int litmus_error(const litmus::file& f, const litmus::violation_report& v) {
  fmt::print(stderr, "{}:{}\n", f.path, v.message);
  return EXIT_USAGE;
}

namespace {

int run_once(const litmus::file& f, const explore_options& o) {
  base_settings b = base_of(f, o);
  auto cfg = resolve(b.strategy.value.value_or("rcu"), b.tlb.value, b.pte.value.value_or("native"), b.seq_scope.value,
                     b, o.unsafe_mask);
  if (!cfg && !b.tlb.from_cli)  // the file's tlb does not fit the command line's strategy
    cfg = resolve(*b.strategy.value, std::nullopt, b.pte.value.value_or("native"), b.seq_scope.value, b,
                  o.unsafe_mask);
  if (!cfg) {
    fmt::print(stderr, "gupfast: explore: strategy ipi needs tlb ipi ({} says tlb={}); see gupfast --help\n", f.path,
               *b.tlb.value);
    return EXIT_USAGE;
  }
  explore_report r{&f, *cfg, search_of(o, f), {}, {}};
  progress_line live;
  if (live.on())
    r.search.on_progress = [&live, weak = r.cfg.memory == "weak"](uint64_t e, uint64_t cut, int bound, int stale,
                                                                  double s, int workers) {
      live.show("explore: " + progress_text(e, cut, bound, weak ? stale : -1, s, workers));
    };
  r.result = litmus::run_litmus(f, r.cfg, r.search);
  live.clear();
  r.search.on_progress = nullptr;
  if (r.result.found && r.result.found->kind == "litmus-error") return litmus_error(f, *r.result.found);
  if (r.result.found) r.replay_command = replay_command(o, r.cfg, r.result.found->replay);
  std::fputs(render_text(r).c_str(), stdout);
  std::fflush(stdout);
  bool ok = true;
  if (!o.json_path.empty()) ok &= write_file(o.json_path, render_json(r).dump(2) + "\n");
  if (!o.trace_path.empty()) ok &= write_file(o.trace_path, render_trace(r).dump() + "\n");
  if (!o.html_path.empty()) ok &= write_file(o.html_path, render_html(r));
  if (r.result.found || !ok) return EXIT_RUN_FAILED;
  return r.result.cut ? EXIT_INCONCLUSIVE : 0;
}

int run_explore(const explore_options& o) {
  if (!o.merge.empty()) return run_merge(o);
  std::string err;
  bool parse_failed = false;
  auto f = load_scenario(o.target, &err, &parse_failed);
  if (!f) {
    if (parse_failed) fmt::print(stderr, "{}\n", err);
    else fmt::print(stderr, "gupfast: explore: {}; see gupfast --help\n", err);
    return EXIT_USAGE;
  }
  return o.check ? run_checks(*f, o) : run_once(*f, o);
}

// Cross-option checks, as misuse (CLI::ValidationError) while parsing.
void validate(explore_options* o) {
  if (!o->merge.empty()) {
    if (!o->target.empty())
      throw CLI::ValidationError("--merge", "takes shard reports, not a scenario (gupfast explore --merge A.json B.json)");
    for (const char* opt : {"--shard", "--replay", "--check-expectations", "--trace", "--html", "--jobs"})
      if (o->given(opt)) throw CLI::ValidationError("--merge", fmt::format("not with {}", opt));
    return;
  }
  if (o->target.empty()) throw CLI::ValidationError("scenario", "a litmus file or a built-in scenario name is required");
  to_machine_config(o->machine);  // the machine options' own checks
  if (!o->unsafe.empty()) {
    std::string bad;
    auto m = parse_unsafe_list(o->unsafe, &bad);
    if (!m) throw CLI::ValidationError("--unsafe", fmt::format("'{}' is not a mutant (gupfast scenarios --mutants lists them)", bad));
    o->unsafe_mask = *m;
  }
  if (!o->shard.empty()) {
    unsigned i = 0, n = 0;
    char tail = 0;
    if (std::sscanf(o->shard.c_str(), "%u/%u%c", &i, &n, &tail) != 2 || n == 0 || i >= n || n > 1u << 20)
      throw CLI::ValidationError("--shard", fmt::format("'{}' is not I/N with 0 <= I < N", o->shard));
    o->shard_index = static_cast<int>(i);
    o->shard_count = static_cast<int>(n);
  }
  if (o->given("--runs") && o->mode == "dfs") throw CLI::ValidationError("--runs", "only with --mode random or pct");
  if (o->given("--pct-depth") && o->mode != "pct") throw CLI::ValidationError("--pct-depth", "only with --mode pct");
  if (o->given("--bound") && o->mode != "dfs") throw CLI::ValidationError("--bound", "only with --mode dfs");
  if (o->given("--stale-bound") && o->mode != "dfs")
    throw CLI::ValidationError("--stale-bound", "only with --mode dfs");
  if (o->check) {
    if (!o->unsafe.empty())
      throw CLI::ValidationError("--unsafe", "not with --check-expectations (each expect line names its mutants)");
    for (const char* opt : {"--replay", "--trace", "--html"})
      if (o->given(opt))
        throw CLI::ValidationError(opt, "not with --check-expectations (run one expectation's configuration alone)");
  }
  if (!o->replay.empty() && !o->shard.empty())
    throw CLI::ValidationError("--replay", "not with --shard (a replay is one execution)");
  if (!o->shard.empty() && o->shard_count > 1 && o->coordinator.empty())
    throw CLI::ValidationError("--shard", "needs --coordinator HOST:PORT (shard 0 listens there; docs/explore.md, Sharding)");
  if (!o->coordinator.empty() && o->shard.empty())
    throw CLI::ValidationError("--coordinator", "only with --shard I/N");
  if (!o->coordinator.empty()) {
    size_t colon = o->coordinator.rfind(':');
    unsigned port = 0;
    char tail = 0;
    if (colon == std::string::npos || std::sscanf(o->coordinator.c_str() + colon + 1, "%u%c", &port, &tail) != 1 ||
        port == 0 || port > 65535)
      throw CLI::ValidationError("--coordinator", fmt::format("'{}' is not HOST:PORT", o->coordinator));
  }
  if ((o->jobs > 1 || !o->shard.empty()) && !o->check && o->mode != "dfs")
    throw CLI::ValidationError(o->jobs > 1 ? "--jobs" : "--shard", "only with --mode dfs");
  if (!o->shard.empty() && o->check)
    throw CLI::ValidationError("--shard", "not with --check-expectations (shard one configuration's search)");
}

}  // namespace

command add_explore_command(CLI::App& root) {
  auto o = std::make_shared<explore_options>();
  CLI::App* sub = root.add_subcommand(
      "explore", "Run a litmus scenario (a file, or a built-in NAME from `gupfast scenarios`) under the "
                 "deterministic explorer: every interleaving of its threads up to a preemption bound");
  o->app = sub;
  sub->add_option("scenario", o->target, "A litmus file, or the name of a built-in scenario");
  sub->add_option("--merge", o->merge,
                  "Combine the --json reports of a sharded search's shards into one (executions summed; "
                  "exhaustive only if every shard was; the violation with the fewest preemptions)")
      ->expected(1, -1);
  add_machine_options(sub, &o->machine);
  sub->remove_option(sub->get_option("--frames"));  // the explorer's machines are small and fixed
  sub->add_option("--unsafe", o->unsafe, "Mutants: safety steps to remove, comma-separated (e.g. no-pte-recheck)");
  sub->add_option("--mode", o->mode, "Search: dfs (systematic, preemption-bounded), random, pct")
      ->check(CLI::IsMember({"dfs", "random", "pct"}))
      ->capture_default_str();
  sub->add_option("--bound", o->bound, "dfs: the most preemptions in one execution (searched 0, 1, ... up to it)")
      ->check(CLI::Range(0, 10))
      ->capture_default_str();
  sub->add_option("--memory", o->memory,
                  "Memory model of the threads: sc (sequential consistency), tso (x86-TSO: store buffers "
                  "flushed at steps the search chooses) or weak (a kernel-faithful weak model: loads may read "
                  "older stores their CPU's barriers do not hide; docs/memory-model.md). Default: the file's "
                  "machine line, else sc")
      ->check(CLI::IsMember({"sc", "tso", "weak"}));
  sub->add_option("--stale-bound", o->stale_bound,
                  "dfs with --memory weak: the most loads in one execution that read a store older than the "
                  "newest (searched 0, 1, ... up to it, each with preemptions 0, 1, ... --bound)")
      ->check(CLI::Range(0, 10))
      ->capture_default_str();
  sub->add_option("--runs", o->runs, "random, pct: executions to run")->check(CLI::Range(uint64_t(1), uint64_t(1) << 40));
  sub->add_option("--seed", o->seed, "random, pct: the seed (a run is reproducible from it)")->capture_default_str();
  sub->add_option("--pct-depth", o->pct_depth, "pct: the bug depth (priority change points + 1)")->check(CLI::Range(1, 20));
  // CLI::PositiveNumber would print its range as "0.000000 to 1.797...e308" spelled out.
  auto positive = [](const char* what) {
    return CLI::Validator(
        [what](std::string& s) -> std::string {
          double v = 0;
          return CLI::detail::lexical_cast(s, v) && v > 0 ? std::string() : fmt::format("'{}' is not {}", s, what);
        },
        what);
  };
  sub->add_option("--time-limit", o->time_limit, "Stop after this many seconds (the result says not exhaustive)")
      ->check(positive("a positive number of seconds"));
  sub->add_option("--max-executions", o->max_executions,
                  "dfs: stop after this many executions (the result says not exhaustive); deterministic, "
                  "unlike --time-limit")
      ->check(positive("a positive number of executions"));
  sub->add_option("--max-steps", o->max_steps,
                  "Scheduling points per execution (default 1000000): an execution that reaches it is cut "
                  "there and counted as inconclusive (exit 3 if nothing else is found), never as a violation");
  sub->add_option("--shard", o->shard,
                  "I/N: this process is shard I of N processes, on any machines, that explore one search "
                  "together through shard 0 (--coordinator); --merge combines their --json reports "
                  "(docs/explore.md)");
  sub->add_option("--replay", o->replay, "Run exactly the execution of a replay token (printed with a violation)");
  sub->add_flag("--from-scratch", o->from_scratch,
                "Run setup again for every execution instead of starting each from a snapshot of the "
                "state setup left (the same executions, slower: a check of the snapshot)");
  sub->add_flag("--check-expectations", o->check,
                "Run every `expect` line of the file (in each configuration it names); exit 0 only if all hold");
  sub->add_option("-j,--jobs", o->jobs,
                  "Worker processes exploring the search together (the same executions as one), or with "
                  "--check-expectations: configurations explored at once, each in its own process")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  sub->add_option("--coordinator", o->coordinator,
                  "With --shard: HOST:PORT of shard 0, which coordinates the shards (it listens on PORT; "
                  "the others connect)");
  sub->add_option("--connect-timeout", o->connect_timeout,
                  "With --shard: seconds to wait for the coordinator, and shard 0 for every shard")
      ->check(positive("a positive number of seconds"))
      ->capture_default_str();
  sub->add_option("--json", o->json_path, "Write the run's summary as JSON to FILE");
  sub->add_option("--trace", o->trace_path, "Write the counterexample as Chrome Trace Event JSON (Perfetto) to FILE");
  sub->add_option("--html", o->html_path, "Write the counterexample as a self-contained HTML page to FILE");
  sub->callback([o] { validate(o.get()); });
  return {sub, [o] { return run_explore(*o); }};
}

}  // namespace gupfast::cli
