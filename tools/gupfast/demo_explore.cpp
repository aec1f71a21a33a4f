// The demo's parts 1 and 2: the explorer answers the seed thread (demo.h).
//
// Part 1 takes GUP-fast's checks one at a time: the check removed (`--unsafe`), its race
// searched for under broadcast flushes (the rcu strategy, INVLPGB or arm64 TLBI: the flush
// waits for nobody) and under IPI flushes (the ipi strategy, x86 without INVLPGB: the
// walker's irqs-off section holds the flush, and with it every free behind it). Part 2 runs
// real kernel races from the bug zoo: the fix reverted, then the fix in.
//
// What each cell must show is not written here: it is the scenario file's own `expect` line
// for that configuration (configs_of, as --check-expectations reads them), so the demo can
// only pass where the library says the verdict holds. Each search is a child `gupfast
// explore` writing its JSON and HTML into the report folder; a found race's replay command
// is printed under the table.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "demo.h"
#include "explore.h"
#include "machine/config.h"
#include "scenarios.h"

namespace gupfast::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// One search of a part: a scenario in one configuration, with some mutants.
struct search_cell {
  std::string scenario;  // built-in name
  std::string unsafe;    // mutant names, canonical order; "" for the safe protocol
  std::string strategy, tlb, memory;
  bool all_cores = false;  // a long search: --jobs (every core)
};

struct cell_result {
  demo_cell cell;
  bool found = false;
  std::string kind;
  std::string replay;   // the replay command of a found race
};

std::string slug(const search_cell& c) {
  std::string s = c.scenario + "." + c.strategy + "-" + c.tlb;
  if (c.memory != "sc") s += "-" + c.memory;
  s += c.unsafe.empty() ? ".safe" : "." + c.unsafe;
  std::replace(s.begin(), s.end(), '/', '-');
  std::replace(s.begin(), s.end(), ',', '+');
  return s;
}

// The file's own settings (its `machine` line, else the defaults), as --check-expectations
// starts from when the command line gives none.
base_settings file_settings(const litmus::file& f) {
  base_settings b;
  auto from_file = [](setting* s, const std::optional<std::string>& v) {
    if (v) *s = {*v, false};
  };
  from_file(&b.strategy, f.machine.strategy);
  from_file(&b.tlb, f.machine.tlb);
  from_file(&b.pte, f.machine.pte);
  from_file(&b.seq_scope, f.machine.seq_scope);
  from_file(&b.memory, f.machine.memory);
  b.pt_reclaim = f.machine.pt_reclaim.value_or(false);
  b.nodes = f.machine.nodes.value_or(1);
  b.geometry = f.machine.geometry.value_or("small");
  return b;
}

// The expect line of f that names this cell's mutants and, among the configurations it
// covers, the cell's strategy, flush mode and memory model; or nullptr.
const litmus::expectation* expectation_for(const litmus::file& f, const search_cell& c, uint32_t mask) {
  base_settings b = file_settings(f);
  for (const litmus::expectation& e : f.expects) {
    if (e.unsafe != mask) continue;
    for (const litmus::run_config& rc : configs_of(e, b))
      if (rc.strategy == c.strategy && rc.tlb == c.tlb && rc.memory == c.memory) return &e;
  }
  return nullptr;
}

cell_result run_cell(const demo_context& ctx, const search_cell& c) {
  cell_result r;
  std::string err;
  bool parse_failed = false;
  auto f = load_scenario(c.scenario, &err, &parse_failed);
  std::string bad;
  auto mask = parse_unsafe_list(c.unsafe, &bad);
  const litmus::expectation* e = f && mask ? expectation_for(*f, c, *mask) : nullptr;
  if (!e) {
    r.cell = {f ? fmt::format("no expect line in {} for this", f->path) : err, "", false};
    return r;
  }
  std::string stem = "explore/" + slug(c);
  std::vector<std::string> args = {"explore", c.scenario, "--strategy", c.strategy, "--tlb", c.tlb,
                                   "--memory", c.memory};
  if (!c.unsafe.empty()) args.insert(args.end(), {"--unsafe", c.unsafe});
  if (c.all_cores && ctx.jobs > 1) args.insert(args.end(), {"--jobs", std::to_string(ctx.jobs)});
  args.insert(args.end(), {"--json", ctx.out + "/" + stem + ".json", "--html", ctx.out + "/" + stem + ".html"});
  demo_child ch = run_self(ctx, args, ctx.out + "/" + stem + ".json", 600);
  const json& j = ch.report;
  if (j.is_null() || (ch.exit_code != 0 && ch.exit_code != 1)) {
    std::string why = ch.timed_out ? "timed out" : fmt::format("explore exited {}", ch.exit_code);
    std::string line = ch.err.substr(0, ch.err.find('\n'));
    r.cell = {line.empty() ? why : why + ": " + line, "", false};
    return r;
  }
  uint64_t executions = j.value("executions", uint64_t(0));
  bool exhaustive = j.value("exhaustive", false);
  double seconds = j.value("seconds", 0.0);
  const json& v = j["violation"];
  r.found = v.is_object();
  bool holds;
  if (r.found) {
    r.kind = v.value("kind", std::string("?"));
    r.replay = v.value("replay_command", std::string());
    holds = !e->expects_ok() && std::find(e->kinds.begin(), e->kinds.end(), r.kind) != e->kinds.end();
    int pre = v.value("preemptions", 0), stale = v.value("stale_reads", 0);
    r.cell.text = fmt::format("found {}, {} executions", r.kind, grouped(executions));
    r.cell.detail = fmt::format("{} preemption{}{}, {:.2f} s: {}", pre, pre == 1 ? "" : "s",
                                stale ? fmt::format(", {} stale read{}", stale, stale == 1 ? "" : "s") : "", seconds,
                                v.value("message", std::string()));
  } else {
    holds = e->expects_ok() && exhaustive;
    r.cell.text = fmt::format("{}, {} executions", c.unsafe.empty() ? "clean" : "not needed", grouped(executions));
    r.cell.detail = fmt::format("{:.2f} s, {}", seconds,
                                exhaustive ? "every interleaving within the bounds" : "NOT every interleaving");
  }
  r.cell.detail += fmt::format(". As {} line {} expects.", f->path, e->line);
  if (!holds) r.cell.text = "UNEXPECTED: " + r.cell.text + fmt::format(" ({} line {}: {})", f->path, e->line, e->text);
  r.cell.link = stem + ".html";
  r.cell.expected = holds;
  return r;
}

// Adds a found race's replay command under the table and a "[n]" to its cell.
void cite(demo_part& p, cell_result& r) {
  if (!r.found || r.replay.empty()) return;
  p.replays.push_back(r.replay);
  r.cell.text += fmt::format(" [{}]", p.replays.size());
}

struct seed_row {
  const char* check;
  const char* scenario;
  const char* unsafe;
  const char* memory = "sc";
  bool long_ipi = false;  // the IPI search is long: every core, skipped by --quick
};

const seed_row SEED_ROWS[] = {
    {"PTE recheck", "pte-recheck", "no-pte-recheck"},
    {"table lifetime", "table-sync", "no-table-sync"},
    {"add-unless-zero grab", "try-get", "get-not-try-get"},
    {"folio recheck", "folio-recheck", "no-folio-recheck"},
    {"huge-leaf recheck", "leaf-recheck", "no-leaf-recheck"},
    {"reclaim's ref freeze", "reclaim-vs-pin-fast", "no-reclaim-freeze"},
    {"flush before free", "flush-before-free", "no-flush-before-free"},
    {"write_protect_seq", "wp-seq", "no-wp-seq"},
    {"pin barrier, SC", "reclaim-vs-pin-fast", "no-pin-mb", "sc"},
    {"pin barrier, weak", "reclaim-vs-pin-fast", "no-pin-mb", "weak"},
    {"none (PAE, pae-aba)", "pae-aba", "", "sc", true},
};

}  // namespace

demo_part demo_seed_part(const demo_context& ctx) {
  demo_part p;
  p.title = "1. The seed question: which of GUP-fast's checks does each TLB flush mode need?";
  p.intro = {"Each check removed in turn (--unsafe), then every interleaving of its scenario searched (the",
             "explorer, preemption bound 2; pae-aba 3). Broadcast flushes: INVLPGB or arm64 TLBI, the flush",
             "waits for no CPU (rcu strategy). IPI flushes: x86 without INVLPGB, GUP-fast's irqs-off walk",
             "holds the flush IPI, and the free behind it (ipi strategy)."};
  p.header = {"check removed", "broadcast flushes (rcu)", "IPI flushes (ipi)"};
  std::vector<std::string> both, broadcast_only, neither;
  for (const seed_row& row : SEED_ROWS) {
    std::vector<demo_cell> cells = {
        {row.check, "", true,
         *row.unsafe ? fmt::format("--unsafe {} on scenario {}", row.unsafe, row.scenario)
                     : fmt::format("the safe protocol on scenario {}", row.scenario)}};
    bool found[2] = {false, false};
    int col = 0;
    for (auto [strategy, tlb] : {std::pair{"rcu", "broadcast"}, std::pair{"ipi", "ipi"}}) {
      search_cell c{row.scenario, row.unsafe, strategy, tlb, row.memory, row.long_ipi};
      if (row.long_ipi && ctx.quick && std::string(strategy) == "ipi") {
        cells.push_back({"skipped (--quick)", "", true, "the demo's longest search; run without --quick"});
        col++;
        continue;
      }
      cell_result r = run_cell(ctx, c);
      cite(p, r);
      found[col++] = r.found;
      p.ok &= r.cell.expected;
      cells.push_back(r.cell);
    }
    p.rows.push_back(cells);
    if (*row.unsafe == '\0') continue;
    (found[0] && found[1] ? both : found[0] ? broadcast_only : neither).push_back(row.check);
  }
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); i++) s += (i ? i + 1 == v.size() ? " and " : ", " : "") + v[i];
    return s.empty() ? std::string("none") : s;
  };
  p.notes.push_back("Answer: needed under every flush mode: " + list(both) + ".");
  p.notes.push_back("Needed only where the flush does not wait for the walker: " + list(broadcast_only) + ".");
  if (!neither.empty()) p.notes.push_back("Not shown needed by these scenarios: " + list(neither) + ".");
  p.notes.push_back("The pin barrier matters only on weak memory (arm64, POWER): SC shows nothing without it.");
  p.notes.push_back("pae-aba, no check removed: where the flush does not wait, PAE's low/high/low read returns a value never stored (docs/explore.md).");
  p.notes.push_back("Each [n] replays its race step by step; its page in the report folder shows the timeline.");
  return p;
}

demo_part demo_zoo_part(const demo_context& ctx) {
  demo_part p;
  p.title = "2. Real kernel races (the bug zoo): found with the fix reverted, clean with it";
  p.intro = {"Each entry is a litmus file of the scenario the fix's commit describes; `revert` names the",
             "mutants that undo exactly the fix (docs/bug-zoo.md has all twelve)."};
  p.header = {"kernel fix", "with the fix reverted", "with the fix"};
  for (const char* name : {"zoo/cow-either-way", "zoo/fork-write-protect-seq", "zoo/anon-exclusive-pin-mb"}) {
    std::string err;
    bool parse_failed = false;
    auto f = load_scenario(name, &err, &parse_failed);
    if (!f || !f->zoo) {
      p.rows.push_back({{name, "", false}, {f ? "not a zoo entry" : err, "", false}, {"-", "", false}});
      p.ok = false;
      continue;
    }
    const litmus::zoo_entry& z = *f->zoo;
    std::string commits;
    for (const std::string& id : z.commits) commits += (commits.empty() ? "" : "+") + id;
    std::string entry = fmt::format("{} ({}, {})", name + 4, z.release, z.year);
    p.notes.push_back(fmt::format("{}: {}: {}", name + 4, commits, f->about));
    // The configuration: the reverted expectation's, rcu/broadcast where it names that.
    search_cell c{name, unsafe_mask_names(z.revert | z.era), "rcu", "broadcast",
                  f->machine.memory.value_or("sc")};
    if (!expectation_for(*f, c, z.revert | z.era)) c.strategy = c.tlb = "ipi";
    cell_result found = run_cell(ctx, c);
    cite(p, found);
    search_cell fixed = c;
    fixed.unsafe = z.era ? unsafe_mask_names(z.era) : "";
    cell_result clean = run_cell(ctx, fixed);
    p.ok &= found.cell.expected && clean.cell.expected;
    p.rows.push_back({{entry, "", true, commits + ": " + f->about}, found.cell, clean.cell});
  }
  return p;
}

}  // namespace gupfast::cli
