// The weak model's side of memory/memory_model.h (memory/weak.cpp), called by its dispatch.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "memory/memory_model.h"

GUPFAST_NS_BEGIN
namespace memory::weak {

void reset();
uint64_t load(const void* p, unsigned size, std::memory_order o);
void store(void* p, unsigned size, uint64_t v, std::memory_order o);
uint64_t rmw_read(const void* p, unsigned size);
void rmw_write(void* p, unsigned size, uint64_t v, std::memory_order o);
void rmw_fail();
void barrier(fence f);
void release_to(const void* obj);
void acquire_from(const void* obj);
void lock_acquire(const void* obj);
void relax(const void* const* addrs, const uint8_t* sizes, unsigned n);
void address_dependency(const void* base, size_t len);
void strong(int delta);
const void* fence_word();

}  // namespace memory::weak
GUPFAST_NS_END
