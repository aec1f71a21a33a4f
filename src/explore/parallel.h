// One dfs search on many cores and many machines: options::jobs workers per process, and
// options::shard_count processes (shards) that share the search through shard 0.
//
// The search is dealt out as it goes, so the workers stay busy until the end (loom's and
// GenMC's models of parallel exploration, and Yang et al.'s distributed DPOR, SPIN 2007):
//   - a unit is the subtree below a path of decisions; the whole search is the unit below
//     the empty path; a worker explores its unit with an ordinary DFS (dfs.h);
//   - a worker that has nothing to do gets a unit from the coordinator's queue; when the
//     queue is empty the coordinator asks a busy worker to donate: it gives away the
//     alternatives left at its shallowest node that has any, as units;
//   - nodes on a unit's path, and the nodes a donor gave from, are shared: the coordinator
//     keeps, per shared node, the alternatives already handed out; a race found below that
//     adds one at a shared node is reported to it, which queues it if it is new.
// Without sleep sets the tree a DFS explores is a function of the program alone (a node's
// alternatives: its default and what races below add, each explored once), so the workers
// together explore exactly the executions one process would: the same verdict and the same
// execution count (ctest explore.jobs_same, explore.shards_merge). Unbounded searches use no
// sleep sets in parallel, and explore more executions than a sequential one with them.
//
// Processes: workers are forked from the process that calls explore() (each with its own
// world and snapshot); shard 0 runs the coordinator and listens on the port of
// options::coordinator; the other shards' workers connect to it over TCP. A violation stops
// every worker; the process that coordinates runs it again with tracing for the report.
#pragma once
#include <chrono>

#include "explore/search.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

// Context: options::mode dfs, no replay, and jobs > 1 or shard_count > 1.
result explore_parallel(const program& prog, const options& o, std::chrono::steady_clock::time_point t0);

}  // namespace explore::detail
GUPFAST_NS_END
