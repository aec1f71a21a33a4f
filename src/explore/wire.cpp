#include "explore/wire.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

GUPFAST_NS_BEGIN
namespace explore::wire {

bool writer::send(int fd) {
  uint32_t len = static_cast<uint32_t>(buf_.size() - 5);
  std::memcpy(&buf_[1], &len, 4);
  for (size_t off = 0; off < buf_.size();) {
    ssize_t n = ::write(fd, buf_.data() + off, buf_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

uint64_t reader::u() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p_ >= end_) {
      ok_ = false;
      return 0;
    }
    uint8_t b = *p_++;
    v |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) return v;
  }
  ok_ = false;
  return 0;
}

std::string reader::s() {
  uint64_t n = u();
  if (!ok_ || n > static_cast<uint64_t>(end_ - p_)) {
    ok_ = false;
    return {};
  }
  std::string v(reinterpret_cast<const char*>(p_), n);
  p_ += n;
  return v;
}

std::vector<uint8_t> reader::path() {
  std::string v = s();
  return std::vector<uint8_t>(v.begin(), v.end());
}

std::optional<std::pair<msg, std::vector<uint8_t>>> inbox::next() {
  if (buf_.size() - pos_ < 5) return std::nullopt;
  uint32_t len;
  std::memcpy(&len, &buf_[pos_ + 1], 4);
  if (buf_.size() - pos_ - 5 < len) return std::nullopt;
  auto type = static_cast<msg>(buf_[pos_]);
  std::vector<uint8_t> payload(buf_.begin() + static_cast<long>(pos_ + 5), buf_.begin() + static_cast<long>(pos_ + 5 + len));
  pos_ += 5 + len;
  if (pos_ > 65536 && pos_ * 2 > buf_.size()) {  // drop what was read
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(pos_));
    pos_ = 0;
  }
  return std::make_pair(type, std::move(payload));
}

bool receive(int fd, inbox* box, bool wait) {
  if (!wait) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 0);
    if (r <= 0) return r == 0 || errno == EINTR;
  }
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    box->feed(buf, static_cast<size_t>(n));
    return true;
  }
}

}  // namespace explore::wire
GUPFAST_NS_END
