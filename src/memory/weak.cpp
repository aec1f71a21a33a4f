// The weak memory model (memory/memory_model.h, docs/memory-model.md).
//
// Every location (an address and an access size) keeps the history of its stores in the
// order the explorer ran them: its modification order. Every CPU has a view: for each
// location, the oldest store of its history the CPU may still read. A load may read any
// store from its CPU's view of the location to the newest; which one is the search's choice
// (sync::rt::decide_value: 0 the newest, k the k-th older: a stale read). What it read
// becomes the CPU's view of the location (coherence: CoRR, CoWR).
//
// Views grow by the kernel's ordering primitives (LKMM's propagation, as views):
//   READ_ONCE / WRITE_ONCE          relaxed: the store joins the history, nothing else
//   smp_store_release               the store carries its CPU's whole view (a message view:
//                                   A-cumulative, as LKMM's release)
//   smp_load_acquire, rcu_dereference  the load joins the message view of the store it read
//   smp_wmb                         later stores carry the CPU's own stores so far (stores
//                                   before the barrier before stores after it; not
//                                   A-cumulative, as LKMM's wmb)
//   smp_rmb                         joins the message views of every store read so far
//   smp_mb, smp_mb__{before,after}_atomic, fully ordered RMWs (one each side)
//                                   a point of one total order of full fences: joins what
//                                   every earlier full fence published and publishes the
//                                   CPU's view; also an rmb and (for later stores) a release
//   RMWs                            read the newest store; their store continues the release
//                                   sequence of the store they read (carries its message)
//   non-returning RMWs, failed cmpxchg  relaxed
//   IPIs, RCU                       release_to / acquire_from an object (sync/model_ipi.cpp,
//                                   sync/model_rcu.cpp)
//   locks, rwsems                   release_to at unlock; at lock, acquire_from and LKMM's
//                                   po-unlock-lock-po: an rmb, and later stores carry the
//                                   CPU's view (sync/model_locks.cpp, lock_acquire)
//   address dependencies            the loads through a loaded pointer join the message of
//                                   the store that pointer came from, for that range only
// A store a CPU did not make through the seam (a plain write: memset of a new table, the
// explorer's own setup) is seen by the next access of the location: its history starts
// again from memory, visible to every CPU. That also covers locations of different sizes
// that overlap (a PAE entry's halves and the whole entry): a store to one makes the others
// start again. What this model does not capture: load buffering (a load reads only stores
// the explorer already ran), a modification order other than the execution order (2+2W),
// out-of-thin-air values, control dependencies (docs/memory-model.md).
#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "explore/world.h"
#include "memory/memory_model.h"
#include "memory/weak.h"
#include "sync/model_rt.h"

GUPFAST_NS_BEGIN
namespace memory {
namespace {

constexpr int NV = explore::MAX_THREADS + 1;  // CPUs 0..MAX_THREADS-1, then RCU callbacks
constexpr int MAX_CANDIDATES = 32;            // stores a load chooses among (the newest ones)
constexpr int NR_SCOPES = 8;                  // address dependencies kept per CPU

using view = std::vector<uint32_t>;  // per location id: the oldest store that may be read

void join(view& into, const view& from) {
  if (into.size() < from.size()) into.resize(from.size(), 0);
  for (size_t i = 0; i < from.size(); i++) into[i] = std::max(into[i], from[i]);
}

struct store_rec {
  uint64_t value;
  int32_t msg;  // the view it carries (an index into g_views), or -1
};

struct location {
  const void* addr;
  unsigned size;
  uint32_t base = 0;  // the oldest store anyone may read (the history started again there)
  std::vector<store_rec> hist;
};

struct dep_scope {
  uintptr_t lo = 0, hi = 0;
  int32_t msg = -1;
};

struct cpu_state {
  view cur;              // what it may read
  view pending;          // messages of stores it read relaxed, for its next rmb / mb
  view own;              // its own latest store per location (what a wmb orders)
  int32_t wmb_msg = -1;  // the view its relaxed stores carry (after a wmb or mb), or -1
  int32_t read_msg = -1; // the message of the store its latest load read (dependencies)
  int32_t rmw_msg = -1;  // the message of the store its pending RMW read
  int strong = 0;        // strong_scope depth
  dep_scope scopes[NR_SCOPES];
  int next_scope = 0;
};

std::vector<location> g_locs;
std::unordered_map<uint64_t, uint32_t> g_index;  // (addr, size) -> location id
std::vector<view> g_views;                       // messages (pool: reused across executions)
size_t g_nviews = 0;
std::unordered_map<const void*, view> g_objects;  // release_to / acquire_from
cpu_state g_cpu[NV];
view g_sc;  // what the full fences so far published
uint64_t g_fence_word;

uint64_t key(const void* p, unsigned size) { return reinterpret_cast<uintptr_t>(p) | uint64_t{size} << 56; }

uint64_t read_memory(const void* p, unsigned size) {
  uint64_t v = 0;
  std::memcpy(&v, p, size);
  return v;
}

int actor() {
  int t = sync::rt::current_task();
  if (t < 0) return 0;
  return explore::detail::fiber_of(t);  // a thread and its CPU's interrupts share the CPU
}

int32_t snapshot(const view& v) {
  if (g_nviews == g_views.size()) g_views.emplace_back();
  g_views[g_nviews] = v;
  return static_cast<int32_t>(g_nviews++);
}
const view& msg_view(int32_t m) { return g_views[static_cast<size_t>(m)]; }

uint32_t at(const view& v, uint32_t id) { return id < v.size() ? v[id] : 0; }
void set_at(view& v, uint32_t id, uint32_t i) {
  if (v.size() <= id) v.resize(id + 1, 0);
  v[id] = i;
}

// The location, its history in step with memory: a plain write since its last seam access
// starts the history again.
location& loc(const void* p, unsigned size, uint32_t* id_out) {
  auto [it, fresh] = g_index.try_emplace(key(p, size), static_cast<uint32_t>(g_locs.size()));
  if (fresh) {
    location l{p, size, 0, {}};
    l.hist.push_back({read_memory(p, size), -1});
    g_locs.push_back(std::move(l));
  }
  *id_out = it->second;
  location& l = g_locs[it->second];
  uint64_t mem = read_memory(p, size);
  if (mem != l.hist.back().value) {
    l.hist.push_back({mem, -1});
    l.base = static_cast<uint32_t>(l.hist.size() - 1);
  }
  return l;
}

bool acquires(std::memory_order o) {
  return o == std::memory_order_acquire || o == std::memory_order_acq_rel || o == std::memory_order_seq_cst ||
         o == std::memory_order_consume;
}
bool releases(std::memory_order o) {
  return o == std::memory_order_release || o == std::memory_order_acq_rel || o == std::memory_order_seq_cst;
}

void full_fence(cpu_state& c) {
  join(c.cur, c.pending);
  join(c.cur, g_sc);
  g_sc = c.cur;
  c.wmb_msg = snapshot(c.cur);
}

// The store read: acquire its message, or keep it for a later rmb.
void took(cpu_state& c, int32_t msg, bool acq) {
  c.read_msg = msg;
  if (msg < 0) return;
  join(acq ? c.cur : c.pending, msg_view(msg));
}

void append(location& l, uint32_t id, int a, uint64_t v, int32_t msg) {
  cpu_state& c = g_cpu[a];
  l.hist.push_back({v, msg});
  auto i = static_cast<uint32_t>(l.hist.size() - 1);
  set_at(c.cur, id, i);
  set_at(c.own, id, i);
  std::memcpy(const_cast<void*>(l.addr), &v, l.size);
}

}  // namespace

namespace weak {

void reset() {
  explore::world::world_alloc_off off;
  g_locs.clear();
  g_index.clear();
  g_nviews = 0;
  g_objects.clear();
  for (cpu_state& c : g_cpu) {
    c.cur.clear();
    c.pending.clear();
    c.own.clear();
    c.wmb_msg = c.read_msg = c.rmw_msg = -1;
    c.strong = 0;
    for (auto& s : c.scopes) s = dep_scope{};
    c.next_scope = 0;
  }
  g_sc.clear();
}

uint64_t load(const void* p, unsigned size, std::memory_order o) {
  explore::world::world_alloc_off off;
  int a = actor();
  cpu_state& c = g_cpu[a];
  uint32_t id;
  location& l = loc(p, size, &id);
  uint32_t newest = static_cast<uint32_t>(l.hist.size() - 1);
  uint32_t lo = std::max(l.base, at(c.cur, id));
  auto x = reinterpret_cast<uintptr_t>(p);
  for (const dep_scope& s : c.scopes)
    if (s.msg >= 0 && x >= s.lo && x < s.hi) lo = std::max(lo, at(msg_view(s.msg), id));
  uint32_t pick = newest;
  if (!c.strong && newest > lo) {
    uint32_t n = std::min<uint32_t>(newest - lo + 1, MAX_CANDIDATES);
    uint32_t mask = n >= 32 ? ~0u : (1u << n) - 1;
    pick = newest - static_cast<uint32_t>(sync::rt::decide_value(mask));
  }
  set_at(c.cur, id, pick);
  const store_rec s = l.hist[pick];
  took(c, s.msg, acquires(o));
  return s.value;
}

void store(void* p, unsigned size, uint64_t v, std::memory_order o) {
  explore::world::world_alloc_off off;
  int a = actor();
  cpu_state& c = g_cpu[a];
  uint32_t id;
  location& l = loc(p, size, &id);
  append(l, id, a, v, releases(o) ? snapshot(c.cur) : c.wmb_msg);
  if (o == std::memory_order_seq_cst) full_fence(c);  // smp_store_mb: the store, then smp_mb
}

uint64_t rmw_read(const void* p, unsigned size) {
  explore::world::world_alloc_off off;
  cpu_state& c = g_cpu[actor()];
  uint32_t id;
  location& l = loc(p, size, &id);
  set_at(c.cur, id, static_cast<uint32_t>(l.hist.size() - 1));
  c.rmw_msg = l.hist.back().msg;  // an RMW reads the newest store
  return l.hist.back().value;
}

void rmw_write(void* p, unsigned size, uint64_t v, std::memory_order o) {
  explore::world::world_alloc_off off;
  int a = actor();
  cpu_state& c = g_cpu[a];
  if (o == std::memory_order_seq_cst) full_fence(c);  // fully ordered: a full fence before
  took(c, c.rmw_msg, acquires(o));
  uint32_t id;
  location& l = loc(p, size, &id);
  // The release sequence goes on: the store carries what the store it read carried.
  // Its own part: the CPU's view (a release) or what its last wmb / mb made stores carry.
  int32_t msg = c.rmw_msg;
  const view* own = releases(o) ? &c.cur : c.wmb_msg >= 0 ? &msg_view(c.wmb_msg) : nullptr;
  if (own) {
    view mine = *own;
    if (msg >= 0) join(mine, msg_view(msg));
    msg = snapshot(mine);
  }
  append(l, id, a, v, msg);
  if (o == std::memory_order_seq_cst) full_fence(c);  // and after
}

void rmw_fail() {
  cpu_state& c = g_cpu[actor()];
  took(c, c.rmw_msg, false);
}

void barrier(fence f) {
  explore::world::world_alloc_off off;
  cpu_state& c = g_cpu[actor()];
  switch (f) {
    case fence::compiler:
      break;
    case fence::read:
      join(c.cur, c.pending);
      break;
    case fence::write: {
      view mine = c.own;
      if (c.wmb_msg >= 0) join(mine, msg_view(c.wmb_msg));
      c.wmb_msg = snapshot(mine);
      break;
    }
    case fence::full:
    case fence::before_atomic:
    case fence::after_atomic:
      full_fence(c);
      break;
  }
}

void release_to(const void* obj) {
  explore::world::world_alloc_off off;
  join(g_objects[obj], g_cpu[actor()].cur);
}

void acquire_from(const void* obj) {
  explore::world::world_alloc_off off;
  auto it = g_objects.find(obj);
  if (it != g_objects.end()) join(g_cpu[actor()].cur, it->second);
}

void lock_acquire(const void* obj) {
  explore::world::world_alloc_off off;
  acquire_from(obj);
  cpu_state& c = g_cpu[actor()];
  join(c.cur, c.pending);
  view mine = c.cur;
  if (c.wmb_msg >= 0) join(mine, msg_view(c.wmb_msg));
  c.wmb_msg = snapshot(mine);
}

void relax(const void* const* addrs, const uint8_t* sizes, unsigned n) {
  explore::world::world_alloc_off off;
  cpu_state& c = g_cpu[actor()];
  for (unsigned i = 0; i < n; i++) {
    auto it = g_index.find(key(addrs[i], sizes[i]));
    if (it == g_index.end()) continue;
    set_at(c.cur, it->second, static_cast<uint32_t>(g_locs[it->second].hist.size() - 1));
  }
}

void address_dependency(const void* base, size_t len) {
  cpu_state& c = g_cpu[actor()];
  if (c.read_msg < 0) return;  // the pointer's store carried nothing to order after
  auto lo = reinterpret_cast<uintptr_t>(base);
  c.scopes[c.next_scope] = {lo, lo + len, c.read_msg};
  c.next_scope = (c.next_scope + 1) % NR_SCOPES;
}

void strong(int delta) { g_cpu[actor()].strong += delta; }

const void* fence_word() { return &g_fence_word; }

}  // namespace weak
}  // namespace memory
GUPFAST_NS_END
