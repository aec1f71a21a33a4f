// The memory models' dispatch (memory/memory_model.h): the seam calls one entry point, the
// running search's model answers (memory/weak.cpp, memory/tso.cpp).
#include "memory/memory_model.h"

#include "memory/tso.h"
#include "memory/weak.h"
#include "sync/model_rt.h"

GUPFAST_NS_BEGIN
namespace memory {

model g_model = model::sc;
bool g_active = false;

const char* to_string(model m) {
  switch (m) {
    case model::sc: return "sc";
    case model::tso: return "tso";
    case model::weak: return "weak";
  }
  return "?";
}

std::optional<model> parse_model(std::string_view s) {
  if (s == "sc") return model::sc;
  if (s == "tso") return model::tso;
  if (s == "weak") return model::weak;
  return std::nullopt;
}

uint64_t load(const void* p, unsigned size, std::memory_order o) {
  return g_model == model::weak ? weak::load(p, size, o) : tso::load(p, size);
}

void store(void* p, unsigned size, uint64_t v, std::memory_order o) {
  if (g_model == model::weak)
    weak::store(p, size, v, o);
  else
    tso::store(p, size, v);
}

uint64_t rmw_read(const void* p, unsigned size) {
  return g_model == model::weak ? weak::rmw_read(p, size) : tso::load(p, size);
}

void rmw_write(void* p, unsigned size, uint64_t v, std::memory_order o) {
  if (g_model == model::weak)
    weak::rmw_write(p, size, v, o);
  else
    tso::write_through(p, size, v);  // a locked instruction: the buffer is empty
}

void rmw_fail() {
  if (g_model == model::weak) weak::rmw_fail();
}

void barrier(fence f) {
  if (g_model == model::weak) weak::barrier(f);  // tso: a full fence waited for an empty buffer
}

void release_to(const void* obj) {
  if (g_active && g_model == model::weak) weak::release_to(obj);
}

void acquire_from(const void* obj) {
  if (g_active && g_model == model::weak) weak::acquire_from(obj);
}

void lock_acquire(const void* obj) {
  if (g_active && g_model == model::weak) weak::lock_acquire(obj);
}

void relax(const void* const* addrs, const uint8_t* sizes, unsigned n) {
  if (g_active && g_model == model::weak) weak::relax(addrs, sizes, n);
}

void address_dependency(const void* base, size_t len) {
  if (g_active && g_model == model::weak) weak::address_dependency(base, len);
}

uint64_t visible(int cpu, const void* p, unsigned size) { return tso::peek(cpu, p, size); }

strong_scope::strong_scope() : on_(g_active) {
  if (!on_) return;
  if (g_model == model::weak) {
    weak::strong(+1);
    return;
  }
  int t = sync::rt::current_task();
  int cpu = t < 0 ? -1 : explore::detail::fiber_of(t);
  if (cpu >= 0 && cpu < tso::NR_BUFFERS && !tso::empty(cpu))
    sync::rt::point(sync::rt::op::drain, nullptr, 0, sync::site::current());
  tso::strong(+1);
}

strong_scope::~strong_scope() {
  if (!on_ || !g_active) return;
  if (g_model == model::weak)
    weak::strong(-1);
  else
    tso::strong(-1);
}

void begin_threads(model m) {
  g_model = m;
  g_active = m != model::sc;
  if (m == model::weak) weak::reset();
  if (m == model::tso) tso::reset();
}

void end_threads() {
  if (g_model == model::tso) tso::flush_all();
  g_active = false;
}

const void* fence_word() { return weak::fence_word(); }
const void* buffer_word(int cpu) { return tso::buffer_word(cpu); }

}  // namespace memory
GUPFAST_NS_END
