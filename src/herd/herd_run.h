// A herd7 C litmus test's run under the explorer, and its report (herd7's output format).
//
// Every execution's final state is recorded at the explorer's finish: every local register of
// every process, every int variable, and whatever else the condition, `locations` or `filter`
// names; the condition's truth is counted there (Positive / Negative, per execution, as
// herd7 counts, but over our executions: DPOR-reduced interleavings times the weak model's
// store choices, not herd7's candidate executions).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "herd/herd.h"
#include "herd/herd_ast.h"

GUPFAST_NS_BEGIN
namespace explore::herd {

struct observed {
  std::vector<location> keys;                          // of a recorded state, in order
  std::map<std::vector<int64_t>, uint64_t> states;     // state -> executions that ended in it
  uint64_t positive = 0, negative = 0;                 // executions where the condition held / not
  uint64_t filtered = 0;                               // executions the filter dropped
  uint64_t executions = 0;
  bool exhaustive = false;
  double seconds = 0;
};

// How the report names values (a variable's address is its name) and the run.
struct report_context {
  std::function<std::string(int64_t)> value_name;
  std::string memory;      // sc | tso | weak
  int bound = -1, stale_bound = -1;
  bool all_registers = false;
};

// "Never" | "Sometimes" | "Always", from the counts, as herd7's Observation line.
std::string observation_of(const observed& o);
// herd7's lines: Test, States, the states, Ok|No, Witnesses, Positive/Negative, Condition,
// Observation, Time; then ours: the memory model, executions, exhaustive or not.
std::string format_report(const test& t, const observed& o, const report_context& ctx);
// "0:r0" / "x".
std::string location_name(const test& t, const location& l);

}  // namespace explore::herd
GUPFAST_NS_END
