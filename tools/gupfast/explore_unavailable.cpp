// `gupfast explore`, `gupfast scenarios` and `gupfast litmus` in a build without the model backend
// (GUPFAST_BUILD_MODEL off): the commands exist and say how to get them.
#include <fmt/format.h>

#include "demo.h"

namespace gupfast::cli {

namespace {

command unavailable(CLI::App& root, const char* name, const char* what) {
  CLI::App* sub = root.add_subcommand(name, what);
  sub->allow_extras();
  return {sub, [name] {
            fmt::print(stderr, "gupfast: {}: this gupfast was built without the explorer "
                               "(configure with -DGUPFAST_BUILD_MODEL=ON)\n", name);
            return EXIT_RUN_FAILED;
          }};
}

// The demo's explorer parts: say why they cannot run (the demo then fails: its answer is
// the explorer's).
demo_part not_built(const char* title) {
  demo_part p;
  p.title = title;
  p.header = {"result"};
  p.rows.push_back({{"not run: this gupfast was built without the explorer (-DGUPFAST_BUILD_MODEL=ON)", "", false}});
  p.ok = false;
  return p;
}

}  // namespace

demo_part demo_seed_part(const demo_context&) {
  return not_built("1. The seed question: which of GUP-fast's checks does each TLB flush mode need?");
}
demo_part demo_zoo_part(const demo_context&) {
  return not_built("2. Real kernel races (the bug zoo): found with the fix reverted, clean with it");
}

command add_explore_command(CLI::App& root) {
  return unavailable(root, "explore", "Run a litmus scenario under the deterministic explorer (not built)");
}
command add_scenarios_command(CLI::App& root) {
  return unavailable(root, "scenarios", "List the built-in litmus scenarios (not built)");
}
command add_litmus_command(CLI::App& root) {
  return unavailable(root, "litmus", "Run a herd7 C litmus test under the explorer (not built)");
}

}  // namespace gupfast::cli
