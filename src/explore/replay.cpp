// Replay tokens (explore/replay.h): encoding and decoding.
#include "explore/replay.h"

GUPFAST_NS_BEGIN
namespace explore::detail {
namespace {

constexpr std::string_view PREFIX = "g1-", PREFIX2 = "g2-";
constexpr char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

bool get_varint(const std::vector<uint8_t>& in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return false;
    uint8_t b = in[(*pos)++];
    *v |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

uint8_t check_byte(const uint8_t* p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return static_cast<uint8_t>(h ^ h >> 8 ^ h >> 16 ^ h >> 24);
}

int b64_value(char c) {
  for (int i = 0; i < 64; i++)
    if (B64[i] == c) return i;
  return -1;
}

}  // namespace

std::string encode_token(const replay_data& d) {
  std::vector<uint8_t> bytes;
  put_varint(bytes, d.seed);
  if (d.memory) put_varint(bytes, d.memory);
  put_varint(bytes, d.choices.size());
  for (size_t i = 0; i < d.choices.size();) {
    size_t j = i;
    while (j < d.choices.size() && d.choices[j] == d.choices[i]) j++;
    put_varint(bytes, d.choices[i]);
    put_varint(bytes, j - i);
    i = j;
  }
  bytes.push_back(check_byte(bytes.data(), bytes.size()));
  std::string s(d.memory ? PREFIX2 : PREFIX);
  uint32_t acc = 0;
  int nbits = 0;
  for (uint8_t b : bytes) {
    acc = acc << 8 | b;
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      s += B64[(acc >> nbits) & 63];
    }
  }
  if (nbits) s += B64[(acc << (6 - nbits)) & 63];
  return s;
}

std::optional<replay_data> decode_token(std::string_view token, std::string* err) {
  auto bad = [&](const char* why) {
    if (err) *err = std::string("bad replay token: ") + why;
    return std::nullopt;
  };
  bool v2 = token.substr(0, PREFIX2.size()) == PREFIX2;
  if (!v2 && token.substr(0, PREFIX.size()) != PREFIX) return bad("it does not start with g1- or g2-");
  token.remove_prefix(PREFIX.size());
  std::vector<uint8_t> bytes;
  uint32_t acc = 0;
  int nbits = 0;
  for (char c : token) {
    int v = b64_value(c);
    if (v < 0) return bad("a character outside base64url");
    acc = acc << 6 | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      bytes.push_back(static_cast<uint8_t>(acc >> nbits));
    }
  }
  if (bytes.empty() || check_byte(bytes.data(), bytes.size() - 1) != bytes.back()) return bad("check byte mismatch");
  bytes.pop_back();
  replay_data d;
  size_t pos = 0;
  uint64_t n;
  if (!get_varint(bytes, &pos, &d.seed)) return bad("truncated");
  if (v2) {
    uint64_t m;
    if (!get_varint(bytes, &pos, &m)) return bad("truncated");
    if (m == 0 || m > 2) return bad("unknown memory model");
    d.memory = static_cast<uint8_t>(m);
  }
  if (!get_varint(bytes, &pos, &n)) return bad("truncated");
  if (n > (uint64_t{1} << 26)) return bad("too many decisions");
  while (d.choices.size() < n) {
    uint64_t fiber, run;
    if (!get_varint(bytes, &pos, &fiber) || !get_varint(bytes, &pos, &run)) return bad("truncated");
    if (fiber > 255 || run == 0 || run > n - d.choices.size()) return bad("malformed run");
    d.choices.insert(d.choices.end(), run, static_cast<uint8_t>(fiber));
  }
  if (pos != bytes.size()) return bad("trailing bytes");
  return d;
}

}  // namespace explore::detail
GUPFAST_NS_END
