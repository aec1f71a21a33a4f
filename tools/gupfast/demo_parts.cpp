// The demo's parts 3 and 4, and the child runs every part is made of (demo.h).
//
// Part 3: `gupfast stress` on each table strategy (real threads, every mutator racing GUP,
// the oracle judging every pin): zero violations, zero leaks, and every mutator ran.
// Part 4: `gupfast bench --quick` on the pin rows: our fast path beside the kernel's own pin
// paths (io_uring buffer registration, vmsplice) and the floor of two atomics per page, all
// measured in this run on this machine.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "bench.h"
#include "demo.h"

namespace gupfast::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

uint64_t num(const json& j, const char* a, const char* b = nullptr) {
  const json* p = j.contains(a) ? &j[a] : nullptr;
  if (p && b) p = p->contains(b) ? &(*p)[b] : nullptr;
  return p && p->is_number() ? p->get<uint64_t>() : 0;
}

}  // namespace

demo_child run_self(const demo_context& ctx, const std::vector<std::string>& args, const std::string& json_path,
                    double timeout_s) {
  std::vector<std::string> argv = {ctx.self};
  argv.insert(argv.end(), args.begin(), args.end());
  demo_child c;
  c.command = "gupfast";
  for (const std::string& a : args) c.command += " " + a;
  if (!json_path.empty()) {
    std::error_code ec;
    fs::remove(json_path, ec);
  }
  child_result r = run_child(argv, timeout_s);
  c.exit_code = r.started ? r.exit_code : -1;
  c.timed_out = r.timed_out;
  c.out = std::move(r.out);
  c.err = std::move(r.err);
  if (!json_path.empty()) {
    std::ifstream in(json_path);
    if (in) c.report = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (c.report.is_discarded()) c.report = nullptr;
  }
  return c;
}

demo_part demo_stress_part(const demo_context& ctx) {
  demo_part p;
  p.title = "3. Stress: every table strategy on real threads, all mutators racing GUP";
  double seconds = ctx.quick ? 1 : 6;
  p.intro = {fmt::format("{} s each: GUP threads pin, get and DMA-write while munmap, MADV_DONTNEED, mprotect,", seconds),
             "mremap, fork, reclaim, migration, THP split and collapse run beside them; the oracle judges every pin."};
  p.header = {"strategy", "operations", "pages pinned or got", "DMA writes", "violations", "leaked frames"};
  for (const char* strategy : {"ipi", "rcu", "seqcount"}) {
    std::string file = fmt::format("stress-{}.json", strategy);
    demo_child c = run_self(ctx,
                            {"stress", "--strategy", strategy, "--mutators", "all", "--seconds",
                             fmt::format("{}", seconds), "--seed", "1", "--json", ctx.out + "/" + file},
                            ctx.out + "/" + file, seconds + 120);
    const json& j = c.report;
    bool ok = c.exit_code == 0 && !j.is_null() && num(j, "violation_count") == 0 && num(j, "leaked_frames") == 0 &&
              num(j, "unexpected_errors") == 0;
    uint64_t ops = 0;
    if (!j.is_null() && j.contains("ops"))
      for (const auto& [key, n] : j["ops"].items())  // the mutators' operations and the DMA writes
        if (n.is_number() && key.find("pages") == std::string::npos && key != "unpins" && key != "puts")
          ops += n.get<uint64_t>();
    uint64_t gup = 0;
    if (!j.is_null() && j.contains("gup_calls"))
      for (const auto& [name, n] : j["gup_calls"].items())
      if (n.is_number()) gup += n.get<uint64_t>();
    ops += gup;
    std::string why = c.timed_out ? "timed out" : j.is_null() ? fmt::format("exit {}, no report", c.exit_code) : "";
    p.rows.push_back({{strategy, file, ok},
                      {grouped(ops), "", ok},
                      {grouped(num(j, "ops", "gup_fast_pages") + num(j, "ops", "gup_slow_pages")), "", ok},
                      {grouped(num(j, "ops", "dma")), "", ok},
                      {why.empty() ? grouped(num(j, "violation_count")) : why, "", ok},
                      {grouped(num(j, "leaked_frames")), "", ok}});
    p.files.push_back(file);
    p.notes.push_back(c.command.substr(0, c.command.find(" --json")));
    p.ok &= ok;
  }
  return p;
}

demo_part demo_bench_part(const demo_context& ctx) {
  demo_part p;
  p.title = "4. The pin benchmark beside the kernel's own pin path, on this machine";
  p.intro = {"pin + unpin of 1024 resident 4 KiB pages, and of 2 MiB THPs; ns per 4 KiB page, one thread",
             "(bench --quick: one short repetition; `make bench` for the full table)."};
  p.header = {"row", "ns per page", "vs the kernel's io_uring pin", "vs the floor (2 atomics)"};
  std::vector<std::string> args = {"bench", "--quick", "--filter", "^pin/(4k/(fast/rcu|slow|kernel/io_uring|floor)|thp/(fast/rcu|kernel/io_uring))$",
                                   "--json", ctx.out + "/bench.json"};
  bool plots = on_path("gnuplot");
  if (plots) {
    args.push_back("--plots");
    args.push_back(ctx.out + "/plots");
  }
  demo_child c = run_self(ctx, args, ctx.out + "/bench.json", 300);
  const json& j = c.report;
  if (c.exit_code != 0 || j.is_null() || !j.contains("rows")) {
    p.ok = false;
    p.rows.push_back({{fmt::format("bench failed (exit {}): {}", c.exit_code, c.err.substr(0, c.err.find('\n'))), "",
                       false}});
    return p;
  }
  for (const json& r : j["rows"]) {
    auto ratio = [&](const char* key) -> std::string {
      if (!r.contains("vs") || !r["vs"].contains(key) || !r["vs"][key].is_number()) return "-";
      return fmt::format("{:.2f}x", r["vs"][key].get<double>());
    };
    std::string ns = r.value("na", std::string("n/a"));
    if (r.contains("ns_per_page") && r["ns_per_page"].is_number()) {
      double v = r["ns_per_page"].get<double>();
      ns = v < 10 ? fmt::format("{:.2f}", v) : fmt::format("{:.1f}", v);
    }
    std::string id = r.value("id", std::string("?"));
    std::string size = id.rfind("pin/thp/", 0) == 0 ? "THP: " : "4 KiB: ";
    p.rows.push_back({{size + r.value("name", id), "", true, id},
                      {ns, "", true},
                      {ratio("io_uring"), "", true},
                      {ratio("floor"), "", true}});
  }
  p.files.push_back("bench.json");
  if (plots && fs::exists(ctx.out + "/plots/pin.svg")) p.images.push_back("plots/pin.svg");
  if (j.contains("machine") && j["machine"].is_object()) {
    const json& m = j["machine"];
    p.notes.push_back(fmt::format("machine: {}, {} cores, Linux {}; THP {}", m.value("cpu_model", std::string("?")),
                                  m.value("cores", 0), m.value("kernel", std::string("?")),
                                  m.value("thp", std::string("?"))));
  }
  p.notes.push_back("kernel rows are the real kernel's pin paths on this machine; n/a where the sandbox forbids them");
  return p;
}

}  // namespace gupfast::cli
