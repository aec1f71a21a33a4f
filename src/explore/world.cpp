// The world arena, the world's globals, and snapshots of both and of the machine's memory
// (explore/world.h).
//
// The arena. One reserved region (MAP_NORESERVE: the host backs what is used). Its first
// bytes are the allocator's state: the bump offset and a free list per size class, so the
// allocator is part of what a snapshot copies. A chunk is a 16-byte header (its class, and
// how far before the payload the chunk starts) and the payload, 16-byte aligned. Classes
// are 16-byte steps up to 256 bytes, then powers of two; a freed chunk goes on its class's
// list, LIFO. Memory is never given back to the host until the process ends.
//
// operator new. Defined here for the whole process: while world::allocating() (a
// thread-local flag the explorer sets around world code) it takes arena memory, otherwise
// malloc's; operator delete gives a pointer back to whichever owns it.
#include "explore/world.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "memmap/memmap.h"
#include "pgtable/geometry.h"

extern "C" {
// The linker's bounds of the section GUPFAST_WORLD variables live in (sync/config.h).
extern unsigned char __start_gupfast_world[];
extern unsigned char __stop_gupfast_world[];
}

GUPFAST_NS_BEGIN
namespace explore::world {
namespace arena {

// ---- the arena -------------------------------------------------------------------------------
constexpr size_t ARENA_RESERVE = size_t{8} << 30;
constexpr int NR_SMALL = 16;          // 16 .. 256 bytes
constexpr int NR_CLASSES = NR_SMALL + 28;  // then 512 .. 2^36
constexpr size_t HEADER = 16;

struct arena_state {  // at the arena's base
  size_t bump;
  size_t free_head[NR_CLASSES];  // offsets of free chunks, 0: none
};
struct chunk_header {
  uint32_t cls;
  uint32_t back;  // payload - chunk start
  uint64_t magic;
};
constexpr uint64_t MAGIC = 0x67757066776f726cull;  // "gupfworl"

unsigned char* g_base = nullptr;
thread_local bool t_allocating = false;

size_t class_size(int c) { return c < NR_SMALL ? size_t(16) * (c + 1) : size_t{512} << (c - NR_SMALL); }
int class_of(size_t bytes) {
  if (bytes <= 256) return static_cast<int>((bytes + 15) / 16) - 1 + (bytes == 0);
  int c = NR_SMALL;
  while (class_size(c) < bytes) c++;
  return c;
}

arena_state* state() { return reinterpret_cast<arena_state*>(g_base); }

void ensure_arena() {
  if (g_base) return;
  void* m = mmap(nullptr, ARENA_RESERVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    std::perror("gupfast explore: reserve the world arena");
    std::abort();
  }
  g_base = static_cast<unsigned char*>(m);
  state()->bump = (sizeof(arena_state) + 15) & ~size_t{15};
}

bool owns(const void* p) {
  auto* b = static_cast<const unsigned char*>(p);
  return g_base && b >= g_base && b < g_base + ARENA_RESERVE;
}

void* arena_alloc(size_t bytes, size_t align) {
  ensure_arena();
  size_t need = bytes + HEADER + (align > 16 ? align : 0);
  int c = class_of(need);
  if (c >= NR_CLASSES) return nullptr;
  arena_state* s = state();
  size_t off = s->free_head[c];
  if (off) {
    s->free_head[c] = *reinterpret_cast<size_t*>(g_base + off);
  } else {
    size_t sz = class_size(c);
    if (s->bump + sz > ARENA_RESERVE) return nullptr;
    off = s->bump;
    s->bump += sz;
  }
  unsigned char* chunk = g_base + off;
  uintptr_t payload = reinterpret_cast<uintptr_t>(chunk) + HEADER;
  if (align > 16) payload = (payload + align - 1) & ~(uintptr_t(align) - 1);
  auto* h = reinterpret_cast<chunk_header*>(payload - HEADER);
  h->cls = static_cast<uint32_t>(c);
  h->back = static_cast<uint32_t>(payload - reinterpret_cast<uintptr_t>(chunk));
  h->magic = MAGIC;
  return reinterpret_cast<void*>(payload);
}

void arena_free(void* p) {
  auto* h = reinterpret_cast<chunk_header*>(static_cast<unsigned char*>(p) - HEADER);
  if (h->magic != MAGIC) {
    std::fprintf(stderr, "gupfast explore: operator delete of %p: not a live world allocation\n", p);
    std::abort();
  }
  h->magic = 0;
  unsigned char* chunk = static_cast<unsigned char*>(p) - h->back;
  size_t off = static_cast<size_t>(chunk - g_base);
  *reinterpret_cast<size_t*>(chunk) = state()->free_head[h->cls];
  state()->free_head[h->cls] = off;
}

}  // namespace arena

namespace {
using namespace arena;

// ---- what a snapshot watches -------------------------------------------------------------------
// Frames handed out since reset() (setup's), then since the snapshot: each listed once.
std::vector<uint32_t> g_handed;
std::vector<uint8_t> g_marked;  // by pfn: in g_handed
bool g_after_snapshot = false;

void note_alloc(unsigned long pfn, int order) {
  world_alloc_off off;
  for (unsigned long i = 0; i < (1ul << order); i++) {
    unsigned long f = pfn + i;
    if (f >= g_marked.size()) g_marked.resize(std::max<size_t>(f + 1, g_marked.size() * 2), 0);
    if (g_marked[f]) continue;
    g_marked[f] = 1;
    g_handed.push_back(static_cast<uint32_t>(f));
  }
}

void forget_handed() {
  for (uint32_t f : g_handed) g_marked[f] = 0;
  g_handed.clear();
}

// The world globals as the program loaded them (taken at the first reset, before any world
// code ran under the explorer).
std::vector<unsigned char> g_pristine;

size_t globals_size() { return static_cast<size_t>(__stop_gupfast_world - __start_gupfast_world); }

}  // namespace

bool allocating() { return arena::t_allocating; }
void set_allocating(bool on) { arena::t_allocating = on; }

void reset() {
  world_alloc_off off;
  if (g_pristine.empty()) g_pristine.assign(__start_gupfast_world, __stop_gupfast_world);
  std::memcpy(__start_gupfast_world, g_pristine.data(), globals_size());
  ensure_arena();
  std::memset(state(), 0, sizeof(arena_state));
  state()->bump = (sizeof(arena_state) + 15) & ~size_t{15};
  forget_handed();
  g_after_snapshot = false;
  physmem_alloc_observer = note_alloc;
}

void stop_watching() {
  physmem_alloc_observer = nullptr;
  forget_handed();
  g_after_snapshot = false;
}

size_t snapshot::bytes() const {
  size_t n = globals.size() + arena.size() + frame_bytes.size();
  for (const memmap_part& m : memmap) n += m.bytes.size();
  return n;
}

void take(snapshot* s, uint64_t seed) {
  world_alloc_off off;
  s->valid = true;
  s->seed = seed;
  s->globals.assign(__start_gupfast_world, __stop_gupfast_world);
  s->arena.assign(g_base, g_base + state()->bump);
  s->memmap.clear();
  for (int nid = 0; nid < nr_online_nodes; nid++) {
    snapshot::memmap_part m;
    m.start_pfn = physmem_carved_start(nid);
    m.end_pfn = node_end_pfn(nid);
    auto* b = reinterpret_cast<const unsigned char*>(pfn_to_page(m.start_pfn));
    m.bytes.assign(b, b + (m.end_pfn - m.start_pfn) * sizeof(page));
    s->memmap.push_back(std::move(m));
  }
  s->frames = g_handed;
  std::sort(s->frames.begin(), s->frames.end());
  s->frame_bytes.resize(s->frames.size() * PAGE_SIZE);
  for (size_t i = 0; i < s->frames.size(); i++)
    std::memcpy(&s->frame_bytes[i * PAGE_SIZE], pfn_to_virt(s->frames[i]), PAGE_SIZE);
  // From now on the list holds what executions are handed beyond setup's frames.
  g_after_snapshot = true;
}

void restore(const snapshot& s) {
  world_alloc_off off;
  // Frames handed out since the snapshot that setup never had were fresh memory then.
  for (uint32_t f : g_handed) {
    g_marked[f] = 0;
    if (!std::binary_search(s.frames.begin(), s.frames.end(), f) && f < max_pfn) std::memset(pfn_to_virt(f), 0, PAGE_SIZE);
  }
  g_handed.clear();
  for (size_t i = 0; i < s.frames.size(); i++)
    std::memcpy(pfn_to_virt(s.frames[i]), &s.frame_bytes[i * PAGE_SIZE], PAGE_SIZE);
  // The memmap: what the allocator carved since the snapshot was untouched (zero) then.
  for (int nid = 0; nid < static_cast<int>(s.memmap.size()); nid++) {
    const snapshot::memmap_part& m = s.memmap[static_cast<size_t>(nid)];
    unsigned long now = physmem_carved_start(nid);
    if (now < m.start_pfn) std::memset(pfn_to_page(now), 0, (m.start_pfn - now) * sizeof(page));
    if (!m.bytes.empty()) std::memcpy(pfn_to_page(m.start_pfn), m.bytes.data(), m.bytes.size());
  }
  std::memcpy(g_base, s.arena.data(), s.arena.size());
  std::memcpy(__start_gupfast_world, s.globals.data(), s.globals.size());
}

}  // namespace explore::world
GUPFAST_NS_END

// ---- operator new and delete, for the whole process ---------------------------------------------
namespace {
namespace arena = gupfast::explore::world::arena;

void* world_new(size_t n, size_t align, bool nothrow) {
  if (arena::t_allocating) {
    void* p = arena::arena_alloc(n, align < 16 ? 16 : align);
    if (p || nothrow) return p;
    std::fprintf(stderr, "gupfast explore: the world arena is full\n");
    std::abort();
  }
  void* p = align > 16 ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n ? n : 1);
  if (!p && !nothrow) throw std::bad_alloc();
  return p;
}
void world_delete(void* p) {
  if (!p) return;
  if (arena::owns(p))
    arena::arena_free(p);
  else
    std::free(p);
}
}  // namespace

void* operator new(size_t n) { return world_new(n, 16, false); }
void* operator new[](size_t n) { return world_new(n, 16, false); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return world_new(n, 16, true); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return world_new(n, 16, true); }
void* operator new(size_t n, std::align_val_t a) { return world_new(n, static_cast<size_t>(a), false); }
void* operator new[](size_t n, std::align_val_t a) { return world_new(n, static_cast<size_t>(a), false); }
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return world_new(n, static_cast<size_t>(a), true);
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return world_new(n, static_cast<size_t>(a), true);
}
void operator delete(void* p) noexcept { world_delete(p); }
void operator delete[](void* p) noexcept { world_delete(p); }
void operator delete(void* p, size_t) noexcept { world_delete(p); }
void operator delete[](void* p, size_t) noexcept { world_delete(p); }
void operator delete(void* p, std::align_val_t) noexcept { world_delete(p); }
void operator delete[](void* p, std::align_val_t) noexcept { world_delete(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { world_delete(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { world_delete(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { world_delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { world_delete(p); }
