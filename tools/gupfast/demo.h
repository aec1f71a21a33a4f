// `gupfast demo`: the seed thread's questions answered live, in four parts, and the report
// folder that keeps what they found.
//
//   demo.cpp          the command, the run of the four parts, the exit code
//   demo_explore.cpp  parts 1 and 2 (the explorer: which check each flush mode needs; real
//                     kernel bugs with their fixes reverted); a build without the explorer
//                     gets explore_unavailable.cpp's, which say so
//   demo_parts.cpp    parts 3 and 4 (stress on every strategy; the pin benchmark beside the
//                     kernel's own pin path), and running this binary as a child
//   demo_report.cpp   a part on the terminal, and the folder's index.html
//   demo_walk.cpp     `demo --walk`: the scripted tour of one machine (mmap ... exit)
//
// Every part runs this same binary as a child (`gupfast explore ...`, `stress`, `bench`), so
// each line it prints comes with the command that reproduces it, and every child writes its
// JSON (and, for a counterexample, its HTML timeline) into the report folder.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"

namespace gupfast::cli {

struct demo_options {
  machine_options machine;  // --walk only
  machine_config cfg;       // from `machine`, checked when parsing finished
  bool walk = false;        // --walk: the scripted tour instead of the four parts
  bool quick = false;       // --quick: shorter stress runs, the longest search skipped
  std::string out = "gupfast-demo";  // --out: the report folder
};

// The scripted walk; returns 0, or EXIT_RUN_FAILED if a step or the leak check failed.
int run_walk(const demo_options& opts);

// What the parts share.
struct demo_context {
  std::string self;  // this binary
  std::string out;   // the report folder (exists)
  bool quick = false;
  unsigned jobs = 1;  // cores: the longest search runs on all of them
};

// One table cell: what the terminal shows, and what the report links to.
struct demo_cell {
  demo_cell() = default;
  demo_cell(std::string text_, std::string link_ = "", bool expected_ = true, std::string detail_ = "")
      : text(std::move(text_)), link(std::move(link_)), expected(expected_), detail(std::move(detail_)) {}
  std::string text;       // short: the terminal's table
  std::string link;       // relative to the report folder; "" for none
  bool expected = true;   // false: the part failed here
  std::string detail;     // the whole story (the report's tooltip and second line)
};

// One part's result, printed by print_part and written into index.html.
struct demo_part {
  std::string title;
  std::vector<std::string> intro;      // lines before the table
  std::vector<std::string> header;     // column titles
  std::vector<std::vector<demo_cell>> rows;
  std::vector<std::string> replays;    // "[n]" of a cell: the command that replays its race
  std::vector<std::string> notes;      // lines after the table and the replays
  std::vector<std::string> images;     // SVG files in the report folder
  std::vector<std::string> files;      // other files it wrote (JSON reports), for the index
  bool ok = true;
};

// Parts 1 and 2 (demo_explore.cpp, or explore_unavailable.cpp without the explorer).
demo_part demo_seed_part(const demo_context& ctx);
demo_part demo_zoo_part(const demo_context& ctx);
// Parts 3 and 4 (demo_parts.cpp).
demo_part demo_stress_part(const demo_context& ctx);
demo_part demo_bench_part(const demo_context& ctx);

// A child run of this binary: `gupfast ARGS...`, its exit code (-1: killed, or it did not
// start) and output, and the JSON it wrote to json_path ("" if none or unreadable).
struct demo_child {
  int exit_code = -1;
  bool timed_out = false;
  std::string out, err;
  nlohmann::json report;  // null if json_path was not written or is not JSON
  std::string command;    // "gupfast ARGS..." as a user would type it
};
demo_child run_self(const demo_context& ctx, const std::vector<std::string>& args, const std::string& json_path,
                    double timeout_s);

// A part on the terminal (demo_report.cpp).
void print_part(const demo_part& p);
// index.html in the report folder: every part's table, its links, its images. Returns "" or
// what went wrong.
std::string write_index(const demo_context& ctx, const std::vector<demo_part>& parts, bool ok, double seconds);

}  // namespace gupfast::cli
