// `gupfast demo`, the main job: the seed thread's question answered live.
//
// Four parts, each a few lines on the terminal and a section of the report folder's
// index.html (demo.h lists the files):
//   1. for each of GUP-fast's checks, the race it closes found with the check removed under
//      broadcast flushes, and its verdict under IPI flushes;
//   2. real kernel races (the bug zoo): found with the fix reverted, clean with it;
//   3. stress: every table strategy on real threads, all mutators, zero violations;
//   4. the pin benchmark beside the kernel's own pin path on this machine.
// Exit 0 only if every part behaved as expected (each verdict as its scenario file
// expects it); the report folder's path is the last line printed.
#include "demo.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include <fmt/format.h>

namespace gupfast::cli {

namespace {

namespace fs = std::filesystem;

std::string self_path() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  return buf;
}

int run_demo(const demo_options& o) {
  if (o.walk) return run_walk(o);
  auto t0 = std::chrono::steady_clock::now();
  demo_context ctx;
  ctx.self = self_path();
  if (ctx.self.empty()) {
    fmt::print(stderr, "gupfast: demo: cannot find this program's own path (/proc/self/exe)\n");
    return EXIT_RUN_FAILED;
  }
  std::error_code ec;
  fs::create_directories(fs::path(o.out) / "explore", ec);
  ctx.out = fs::absolute(o.out, ec).lexically_normal().string();
  ctx.quick = o.quick;
  ctx.jobs = std::max(1u, std::thread::hardware_concurrency());

  fmt::print("gupfast demo{}: can GUP-fast race with zap, reclaim and page-table freeing, and what keeps it "
             "safe?\n",
             o.quick ? " --quick" : "");
  fmt::print("(the LKML thread of October 2022, Linus Torvalds and Jann Horn: docs/demo.md)\n\n");
  std::fflush(stdout);

  std::vector<demo_part> parts;
  for (auto part : {demo_seed_part, demo_zoo_part, demo_stress_part, demo_bench_part}) {
    parts.push_back(part(ctx));
    print_part(parts.back());
    std::fflush(stdout);
  }
  bool ok = true;
  for (const demo_part& p : parts) ok &= p.ok;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string err = write_index(ctx, parts, ok, seconds);
  if (!err.empty()) {
    fmt::print(stderr, "gupfast: demo: {}\n", err);
    ok = false;
  }
  fmt::print("demo: {} in {:.0f} s{}\n", ok ? "ok, every part as expected" : "FAILED", seconds,
             ok ? "" : " (the parts above say where)");
  fmt::print("report: {}/index.html\n", ctx.out);
  return ok ? 0 : EXIT_RUN_FAILED;
}

}  // namespace

command add_demo_command(CLI::App& root) {
  auto opts = std::make_shared<demo_options>();
  CLI::App* sub = root.add_subcommand(
      "demo", "Answer the seed thread live: which GUP-fast check each TLB flush mode needs (the explorer), "
              "real kernel races with their fixes reverted, stress on every strategy, the pin benchmark; "
              "writes a report folder");
  sub->add_flag("--quick", opts->quick, "Shorter: one second of stress per strategy, the longest search skipped");
  sub->add_option("--out", opts->out, "The report folder (created if missing; default ./gupfast-demo)")
      ->option_text("DIR");
  sub->add_flag("--walk", opts->walk,
                "Instead: a scripted walk through one machine (mmap, faults, fork and copy-on-write, pins, "
                "MADV_DONTNEED, mprotect, munmap, exit) and a leak check");
  add_machine_options(sub, &opts->machine);
  sub->callback([opts, sub] {
    opts->cfg = to_machine_config(opts->machine);
    // The machine options describe the walk's one machine; the four parts choose theirs.
    for (const char* name : {"--strategy", "--tlb", "--pte", "--seq-scope", "--frames", "--nodes", "--pt-reclaim",
                             "--geometry"}) {
      CLI::Option* opt = sub->get_option_no_throw(name);
      if (opt && opt->count() && !opts->walk)
        throw CLI::ValidationError(name, "applies to `demo --walk` only (the demo's parts choose their machines)");
    }
    if (opts->walk && (opts->quick || sub->get_option("--out")->count()))
      throw CLI::ValidationError("--walk", "takes no --quick or --out (it writes no report)");
    if (!opts->walk) {
      std::error_code ec;
      fs::create_directories(opts->out, ec);
      if (ec || !fs::is_directory(opts->out) || access(opts->out.c_str(), W_OK) != 0)
        throw CLI::ValidationError("--out", fmt::format("cannot write the report folder '{}'{}", opts->out,
                                                        ec ? ": " + ec.message() : ""));
    }
  });
  return {sub, [opts] { return run_demo(*opts); }};
}

}  // namespace gupfast::cli
