// `gupfast litmus`: a herd7 C litmus test (the Linux kernel's tools/memory-model format) run
// under the explorer, every execution, on one of its memory models (memory/memory_model.h).
//
// The parser, interpreter and printer (src/herd/) are compiled against the model backend
// (namespace gupfast::model); the CLI against the native one. This header is the door between
// them, as explore/run.h is for `gupfast explore`: plain strings and numbers only.
#pragma once
#include <cstdint>
#include <string>

namespace gupfast::herd {

struct run_options {
  std::string memory = "weak";  // sc | tso | weak
  int bound = -1;               // preemptions per execution (-1: none)
  int stale_bound = -1;         // weak: stale reads per execution (-1: none)
  uint64_t max_executions = 0;  // 0: none; else the search stops there (inconclusive)
  double time_limit_s = 0;      // 0: none
  bool all_registers = false;   // states show every register and variable, not herd7's choice
};

struct run_outcome {
  // Non-empty: the file could not be run (missing, a syntax error, an unsupported construct,
  // a runtime error): one line, "FILE:LINE: message".
  std::string error;
  std::string name;          // the test's
  std::string report;        // herd7's lines (Test ... Observation ...), then ours
  std::string observation;   // Never | Sometimes | Always
  // The file's verdict for this model: `Result-<memory>` if it has one, else `Result`
  // (expected_from says which); empty: it states none.
  std::string expected, expected_from;
  bool exhaustive = false;   // every execution within the bounds was run
  std::string violation;     // non-empty: the explorer stopped on one ("deadlock: ...")
};

run_outcome run_file(const std::string& path, const run_options& o);

}  // namespace gupfast::herd
