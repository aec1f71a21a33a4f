// Replay tokens: a printable name for one execution of the explorer.
//
// An execution is determined by its program, the seed of sync::random_u64(), its memory
// model, and the choice made at each decision (each scheduling point where two or more tasks
// could run: the task; each load with two or more stores to read: the store). The token is
// "g1-" (memory model sc) or "g2-" (another) followed by base64url (no padding) of:
//   varint seed, [g2: varint memory model,] varint number of decisions, then runs of equal
//   choices as (varint choice, varint run length), and one check byte (FNV-1a of the bytes
//   before it).
// Runs keep tokens short: an execution mostly continues the same task.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

struct replay_data {
  uint64_t seed = 0;
  std::vector<uint8_t> choices;
  uint8_t memory = 0;  // memory::model
};

std::string encode_token(const replay_data& d);
// nullopt and *err set if the token is not one of ours (or was mistyped).
std::optional<replay_data> decode_token(std::string_view token, std::string* err);

}  // namespace explore::detail
GUPFAST_NS_END
