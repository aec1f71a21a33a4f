// x86-TSO (memory/memory_model.h, docs/memory-model.md): a FIFO store buffer per CPU.
//
// A store goes into its CPU's buffer; a flush step (the CPU's flush task, which the search
// schedules like any other task: explore/scheduler.h) writes the oldest buffered store to
// memory. A CPU's load reads memory with its own buffered stores laid over it, byte by byte
// (store forwarding). What x86 orders more strongly waits until the buffer is empty (the
// operation is not enabled before: sync/model_ops.cpp, drains()): every RMW (a locked
// instruction), smp_mb, lock and unlock operations (unlock is a plain store on x86; ours
// also orders later loads, which is stronger), sending and acknowledging an IPI,
// rcu_read_unlock (the quiescent state a grace period waits for is a full barrier),
// synchronize_rcu, call_rcu, bulk copies, and user-mode accesses (strong_scope). smp_rmb,
// smp_wmb and smp_mb__{before,after}_atomic are compiler barriers on x86: no effect.
//
// Memory as the flushes leave it ("committed") is what other CPUs load. The bytes in memory
// itself hold the latest store each byte was given, buffered or not, so that what reads
// memory outside the seam (the CPU's own plain accesses, the oracle) sees the program's
// latest values; the committed bytes of every byte with a buffered store are kept aside
// (g_shadow), and memory gets them back when no buffered store to the byte is left.
#include "memory/tso.h"

#include <cstring>
#include <deque>
#include <unordered_map>

#include "explore/world.h"
#include "sync/model_rt.h"

GUPFAST_NS_BEGIN
namespace memory::tso {
namespace {

struct entry {
  void* addr;
  unsigned size;
  uint64_t value;
  uint64_t seq;  // the CPU's stores so far when it was buffered
};

// Footprint words (explore/footprint.h) of a buffer: one per slot, so that a store and the
// flush of an older store commute (a FIFO's tail and head), while a store and its own flush
// do not (the flush happens after the store that enabled it).
constexpr unsigned NR_SLOTS = 64;

struct shadow {
  uint8_t committed;
  uint32_t pending;  // buffered stores to this byte, all CPUs
};

std::deque<entry> g_buf[NR_BUFFERS];
std::unordered_map<uintptr_t, shadow> g_shadow;
int g_strong[NR_BUFFERS];
uint64_t g_front_gen[NR_BUFFERS];
uint64_t g_buf_word[NR_BUFFERS];
uint64_t g_slot_word[NR_BUFFERS][NR_SLOTS];
uint64_t g_tail_seq[NR_BUFFERS];

int cpu_now() {
  int t = sync::rt::current_task();
  if (t < 0) return 0;
  int f = explore::detail::fiber_of(t);
  return f < NR_BUFFERS ? f : -1;  // the RCU callback task has no buffer
}

}  // namespace

void reset() {
  explore::world::world_alloc_off off;
  for (auto& b : g_buf) b.clear();
  for (auto& g : g_front_gen) g++;
  for (auto& t : g_tail_seq) t = 0;
  g_shadow.clear();
  for (int& s : g_strong) s = 0;
}

bool empty(int cpu) { return cpu < 0 || cpu >= NR_BUFFERS || g_buf[cpu].empty(); }
uint64_t front_gen(int cpu) { return g_front_gen[cpu]; }

const void* front_addr(int cpu) { return g_buf[cpu].empty() ? nullptr : g_buf[cpu].front().addr; }
unsigned front_size(int cpu) { return g_buf[cpu].empty() ? 0 : g_buf[cpu].front().size; }

uint64_t peek(int cpu, const void* p, unsigned size) {
  uint8_t bytes[8];
  std::memcpy(bytes, p, size);
  auto a = reinterpret_cast<uintptr_t>(p);
  if (!g_shadow.empty())
    for (unsigned i = 0; i < size; i++) {
      auto it = g_shadow.find(a + i);
      if (it != g_shadow.end()) bytes[i] = it->second.committed;
    }
  if (cpu >= 0)
    for (const entry& e : g_buf[cpu]) {  // oldest first: the newest overlay wins
      auto b = reinterpret_cast<uintptr_t>(e.addr);
      if (b >= a + size || a >= b + e.size) continue;
      const auto* v = reinterpret_cast<const uint8_t*>(&e.value);
      for (unsigned i = 0; i < e.size; i++)
        if (b + i >= a && b + i < a + size) bytes[b + i - a] = v[i];
    }
  uint64_t out = 0;
  std::memcpy(&out, bytes, size);
  return out;
}

uint64_t load(const void* p, unsigned size) { return peek(cpu_now(), p, size); }

bool forwards(int cpu, const void* p, unsigned size) {
  if (cpu < 0 || cpu >= NR_BUFFERS || g_buf[cpu].empty()) return false;
  auto a = reinterpret_cast<uintptr_t>(p);
  uint8_t covered = 0;  // bit i: byte a + i has a buffered store
  for (const entry& e : g_buf[cpu]) {
    auto b = reinterpret_cast<uintptr_t>(e.addr);
    for (unsigned i = 0; i < size; i++)
      if (a + i >= b && a + i < b + e.size) covered |= static_cast<uint8_t>(1u << i);
  }
  return covered == static_cast<uint8_t>((1u << size) - 1);
}

void write_through(void* p, unsigned size, uint64_t v) {
  auto a = reinterpret_cast<uintptr_t>(p);
  const auto* b = reinterpret_cast<const uint8_t*>(&v);
  if (!g_shadow.empty())
    for (unsigned i = 0; i < size; i++) {
      auto it = g_shadow.find(a + i);
      if (it != g_shadow.end()) it->second.committed = b[i];
    }
  std::memcpy(p, &v, size);
}

void store(void* p, unsigned size, uint64_t v) {
  int cpu = cpu_now();
  if (cpu < 0 || g_strong[cpu]) return write_through(p, size, v);
  explore::world::world_alloc_off off;
  auto a = reinterpret_cast<uintptr_t>(p);
  for (unsigned i = 0; i < size; i++) {
    auto [it, fresh] = g_shadow.try_emplace(a + i, shadow{static_cast<const uint8_t*>(p)[i], 0});
    it->second.pending++;
  }
  if (g_buf[cpu].empty()) g_front_gen[cpu]++;
  g_buf[cpu].push_back({p, size, v, g_tail_seq[cpu]++});
  std::memcpy(p, &v, size);
}

void flush(int cpu, const void** addr, unsigned* size, uint64_t* value) {
  entry e = g_buf[cpu].front();
  g_buf[cpu].pop_front();
  g_front_gen[cpu]++;
  auto a = reinterpret_cast<uintptr_t>(e.addr);
  const auto* b = reinterpret_cast<const uint8_t*>(&e.value);
  for (unsigned i = 0; i < e.size; i++) {
    auto it = g_shadow.find(a + i);
    it->second.committed = b[i];
    if (--it->second.pending == 0) {
      static_cast<uint8_t*>(e.addr)[i] = b[i];
      g_shadow.erase(it);
    }
  }
  *addr = e.addr;
  *size = e.size;
  *value = e.value;
}

void flush_all() {
  for (int c = 0; c < NR_BUFFERS; c++)
    while (!g_buf[c].empty()) {
      const void* a;
      unsigned s;
      uint64_t v;
      flush(c, &a, &s, &v);
    }
}

void strong(int delta) {
  int cpu = cpu_now();
  if (cpu >= 0) g_strong[cpu] += delta;
}

bool direct(int cpu) { return cpu < 0 || cpu >= NR_BUFFERS || g_strong[cpu] > 0; }

const void* buffer_word(int cpu) { return &g_buf_word[cpu]; }
const void* store_word(int cpu) { return &g_slot_word[cpu][g_tail_seq[cpu] % NR_SLOTS]; }
const void* flush_word(int cpu) { return &g_slot_word[cpu][g_buf[cpu].front().seq % NR_SLOTS]; }

}  // namespace memory::tso
GUPFAST_NS_END
