// The dependence relation of the explorer's search: which words a transition touches, and
// when two transitions of different tasks do not commute (explore/scheduler.h).
#include "explore/scheduler.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

namespace {
// Append a to fp, or, if it is full, widen it conservatively: a read that does not fit reads
// every word (it depends on every write); a write or an addition touches every word.
void push(footprint& fp, const access& a) {
  if (fp.n < footprint::MAX) {
    fp.a[fp.n++] = a;
  } else if (a.mode == ACC_READ) {
    fp.any_write = true;
  } else {
    fp.everything = true;
  }
}
}  // namespace

void footprint::add(const void* addr, unsigned size, uint8_t mode) {
  auto a = reinterpret_cast<uintptr_t>(addr);
  uintptr_t word = a & ~uintptr_t{7};
  unsigned first = a & 7, last = first + (size ? size : 1) - 1;
  uint8_t halves = static_cast<uint8_t>((first < 4 ? 1 : 2) | (last < 4 ? 1 : 2));
  if (last >= 8) halves = 3;  // never for aligned accesses
  for (int i = 0; i < n; i++)
    if (this->a[i].word == word && this->a[i].mode == mode && this->a[i].nwords == 1) {
      this->a[i].halves |= halves;
      return;
    }
  push(*this, access{word, halves, mode});
}

void footprint::add_range(const void* addr, unsigned bytes, uint8_t mode) {
  if (bytes <= 8) return add(addr, bytes, mode);
  push(*this, access{reinterpret_cast<uintptr_t>(addr), 3, mode, static_cast<uint16_t>(bytes / 8)});
}

void footprint::add_own(const void* word, uint8_t mode) {
  access a;
  a.word = reinterpret_cast<uintptr_t>(word);
  a.halves = 3;
  a.mode = mode;
  a.own = true;
  push(*this, a);
}

bool dependent(const footprint& x, int tx, const footprint& y, int ty) {
  // A CPU's thread and its own flush task commute where both can run (explore/scheduler.h);
  // the order between them that matters is happens-before's (dfs.cpp, record), not a race.
  if (flush_partners(tx) >> ty & 1) return false;
  auto writes = [](const footprint& f) {
    for (int i = 0; i < f.n; i++)
      if (f.a[i].mode != ACC_READ) return true;
    return false;
  };
  if (x.everything || y.everything) return true;
  if ((x.any_write && writes(y)) || (y.any_write && writes(x))) return true;
  for (int i = 0; i < x.n; i++)
    for (int j = 0; j < y.n; j++) {
      const access &a = x.a[i], &b = y.a[j];
      if (a.nwords > 1 || b.nwords > 1) {
        if (a.word >= b.word + 8ul * b.nwords || b.word >= a.word + 8ul * a.nwords) continue;
      } else if (a.word != b.word || !(a.halves & b.halves)) {
        continue;
      }
      if (a.mode == ACC_READ && b.mode == ACC_READ) continue;
      if (a.mode == ACC_ADD && b.mode == ACC_ADD) continue;
      return true;
    }
  return false;
}

}  // namespace explore::detail
GUPFAST_NS_END
