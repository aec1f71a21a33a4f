// x86-TSO's store buffers (memory/tso.cpp), as the dispatch, the scheduler and the seam see
// them.
#pragma once
#include <cstdint>

#include "explore/search.h"

GUPFAST_NS_BEGIN
namespace memory::tso {

// One buffer per CPU the explorer runs (threads 0 .. MAX_THREADS - 1; their interrupt
// handlers share it). The RCU callback task has none: its stores reach memory at once.
inline constexpr int NR_BUFFERS = explore::MAX_THREADS;

void reset();
bool empty(int cpu);
// Changes whenever cpu's oldest buffered store does (a footprint cache's key).
uint64_t front_gen(int cpu);
// The oldest buffered store of cpu (its flush is the next transition of the CPU's flush task).
const void* front_addr(int cpu);
unsigned front_size(int cpu);
// The running CPU's load: memory as the flushes left it, with its own buffered stores laid
// over it (store forwarding).
uint64_t load(const void* p, unsigned size);
// Every byte of [p, p + size) is in cpu's buffer: its load reads only its own stores (and so
// commutes with every other task, its own flushes included).
bool forwards(int cpu, const void* p, unsigned size);
// What cpu (-1: none) would load from p now.
uint64_t peek(int cpu, const void* p, unsigned size);
// The running CPU's store: into its buffer (or, inside a strong scope, or with no buffer,
// straight to memory).
void store(void* p, unsigned size, uint64_t v);
// An RMW's write (its buffer is empty: the RMW drained it): straight to memory.
void write_through(void* p, unsigned size, uint64_t v);
// Write cpu's oldest buffered store to memory: where, and the value.
void flush(int cpu, const void** addr, unsigned* size, uint64_t* value);
// Every buffered store, oldest first per CPU (an execution that ends).
void flush_all();
void strong(int delta);
// cpu's stores reach memory at once (no buffer, or inside a strong scope).
bool direct(int cpu);
// Footprint words: the buffer's head (what flushes write and draining operations read), the
// slot cpu's next store goes to, and the slot of its oldest buffered store (not empty).
const void* buffer_word(int cpu);
const void* store_word(int cpu);
const void* flush_word(int cpu);

}  // namespace memory::tso
GUPFAST_NS_END
