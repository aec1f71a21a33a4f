// gupfast: a user-space model of the Linux memory manager and GUP-fast.
//
// One parse for the whole command line; the chosen subcommand's runner does the work.
// CLI misuse prints one line on stderr and exits 2; --help and --version print to stdout
// and exit 0 (see cli.h for the exit codes).
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli.h"

namespace {

// CLI11's messages are one line already; make sure of it.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = gupfast::cli;
  CLI::App app{"gupfast: a user-space model of the Linux memory manager and GUP-fast", "gupfast"};
  app.set_version_flag("--version", std::string("gupfast ") + GUPFAST_VERSION, "Print the version and exit");
  // At most one command; "none" is reported after parsing, so that an unknown option or
  // command is named as such rather than as a missing command.
  app.require_subcommand(0, 1);

  std::vector<cli::command> commands = {
      cli::add_demo_command(app),
      cli::add_explore_command(app),
      cli::add_scenarios_command(app),
      cli::add_bench_command(app),
      cli::add_stress_command(app),
      cli::add_litmus_command(app),
  };
  app.footer("Run `gupfast <command> --help` for a command's options.");  // root only: after the commands

  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) throw CLI::RequiredError("a command (e.g. demo)");
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "gupfast: {}; see gupfast --help\n", one_line(e.what()));
    return cli::EXIT_USAGE;
  }

  for (const cli::command& c : commands)
    if (c.app->parsed()) return c.run();
  return cli::EXIT_USAGE;  // unreachable: exactly one command was parsed
}
