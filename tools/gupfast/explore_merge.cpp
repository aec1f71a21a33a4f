// `gupfast explore --merge PART.json...`: the reports of a sharded search's shards (each
// `gupfast explore ... --shard I/N --coordinator HOST:PORT --json PART.json`), as one report:
// the executions of every shard summed, exhaustive only if every shard's report says so,
// the violation with the fewest preemptions (its replay token works alone, without shards).
// Exit codes as explore's: 0 nothing found, 1 a violation, 2 misuse or reports that do not
// belong together, 3 inconclusive (executions cut at the step budget).
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "explore.h"

namespace gupfast::cli {

namespace {

using json = nlohmann::json;

// The fields every shard of one search agrees on.
constexpr const char* SAME[] = {"litmus", "file",  "strategy", "tlb",  "pte",         "seq_scope", "pt_reclaim",
                                "nodes",  "geometry", "memory", "unsafe", "mode", "bound", "stale_bound", "seed", "shard_count"};

int misuse(const std::string& what) {
  fmt::print(stderr, "gupfast: explore --merge: {}\n", what);
  return EXIT_USAGE;
}

}  // namespace

int run_merge(const explore_options& o) {
  std::vector<json> parts;
  for (const std::string& path : o.merge) {
    std::ifstream in(path);
    json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!in && !in.eof()) return misuse(fmt::format("cannot read '{}'", path));
    if (j.is_discarded() || !j.is_object() || !j.contains("executions"))
      return misuse(fmt::format("'{}' is not a gupfast explore --json report", path));
    if (!j.contains("shard_index") || !j.contains("own_executions"))
      return misuse(fmt::format("'{}' is not a shard's report (it was not run with --shard I/N)", path));
    j["path"] = path;
    parts.push_back(std::move(j));
  }
  const json& first = parts.front();
  for (const json& p : parts)
    for (const char* k : SAME)
      if (p.value(k, json()) != first.value(k, json()))
        return misuse(fmt::format("'{}' and '{}' are not shards of one search: their {} differ ({} and {})",
                                  first["path"].get<std::string>(), p["path"].get<std::string>(), k,
                                  first.value(k, json()).dump(), p.value(k, json()).dump()));
  int n = first["shard_count"].get<int>();
  std::map<int, const json*> by_index;
  for (const json& p : parts) {
    int i = p["shard_index"].get<int>();
    if (by_index.count(i)) return misuse(fmt::format("shard {} is given twice", i));
    by_index[i] = &p;
  }
  for (int i = 0; i < n; i++)
    if (!by_index.count(i)) return misuse(fmt::format("shard {} of {} is missing", i, n));

  uint64_t executions = 0, units = 0, cut = 0;
  bool exhaustive = true;
  const json* found = nullptr;
  json shards = json::array();
  for (const auto& [i, p] : by_index) {
    executions += (*p)["own_executions"].get<uint64_t>();
    units += (*p)["units"].get<uint64_t>();
    cut = std::max<uint64_t>(cut, p->value("cut_executions", uint64_t{0}));
    exhaustive &= (*p)["exhaustive"].get<bool>();
    const json& v = (*p)["violation"];
    // The fewest stale reads first, then the fewest preemptions (as one search reports it).
    auto rank = [](const json& x) { return std::pair(x.value("stale_reads", 0), x["preemptions"].get<int>()); };
    if (!v.is_null() && (!found || rank(v) < rank(*found))) found = &v;
    shards.push_back({{"shard", i},
                      {"units", (*p)["units"]},
                      {"executions", (*p)["own_executions"]},
                      {"workers", p->value("jobs", 1)},
                      {"seconds", (*p)["seconds"]}});
  }
  json merged = *by_index[0];
  merged.erase("path");
  merged.erase("shard_index");
  merged.erase("own_executions");
  merged.erase("shares");
  merged["executions"] = executions;
  merged["units"] = units;
  merged["exhaustive"] = exhaustive && !found;
  merged["cut_executions"] = cut;
  merged["inconclusive"] = !found && cut > 0;
  merged["violation"] = found ? *found : json();
  merged["shards"] = shards;
  merged["merged"] = true;

  fmt::print("litmus {}: strategy={} tlb={} pte={} geometry={} unsafe={} ({} shards merged)\n",
             merged["litmus"].get<std::string>(), merged["strategy"].get<std::string>(),
             merged["tlb"].get<std::string>(), merged["pte"].get<std::string>(), merged.value("geometry", "?"),
             merged["unsafe"].get<std::string>().empty() ? "none" : merged["unsafe"].get<std::string>(), n);
  for (const json& s : shards)
    fmt::print("  shard {}: {} executions in {} subtrees ({} worker{}, {:.2f} s)\n", s["shard"].get<int>(),
               s["executions"].get<uint64_t>(), s["units"].get<uint64_t>(), s["workers"].get<int>(),
               s["workers"].get<int>() == 1 ? "" : "s", s["seconds"].get<double>());
  std::string how = fmt::format("dfs, preemption bound {}", merged["bound"].get<int>());
  if (found) {
    fmt::print("{}: violation after {} executions, {} preemption{}\n", how, executions,
               (*found)["preemptions"].get<int>(), (*found)["preemptions"].get<int>() == 1 ? "" : "s");
    fmt::print("violation: {}: {}\n", (*found)["kind"].get<std::string>(), (*found)["message"].get<std::string>());
    std::string cmd = found->value("replay_command", "");
    fmt::print("replay: {}\n", cmd.empty() ? "--replay " + (*found)["replay"].get<std::string>() : cmd);
  } else {
    fmt::print("{}: no violation in {} executions, {}\n", how, executions, exhaustive ? "exhaustive" : "not exhaustive");
  }
  if (cut) fmt::print("{} executions cut at the step budget: inconclusive\n", cut);
  if (!o.json_path.empty() && !write_file(o.json_path, merged.dump(2) + "\n")) return EXIT_RUN_FAILED;
  return found ? EXIT_RUN_FAILED : cut ? EXIT_INCONCLUSIVE : 0;
}

}  // namespace gupfast::cli
