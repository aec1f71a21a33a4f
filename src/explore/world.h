// The world of an execution, and snapshots of it: run a program's setup once per search and
// start every execution from the state it left, as CHESS, CDSChecker and C11Tester do,
// instead of building the machine again each time.
//
// The world is everything the algorithm code under the explorer owns:
//   - its globals: the model backend's variables that hold machine state (the memmap's
//     bookkeeping, zones, LRU, swap, table cache, counters, TLBs, the oracle's pointer, the
//     model's CPUs and RCU queues, the litmus interpreter's run), each marked GUPFAST_WORLD
//     so the linker gathers them into one section (ctest explore.world_globals checks that
//     every other global of the model backend is the explorer's own);
//   - its heap: while world code runs, operator new takes memory from the world arena, a
//     region of our own whose allocator keeps its bookkeeping inside it, so copying the used
//     part back restores every object and the allocator with them;
//   - the machine's memory: the memmap (struct pages of the frames the allocator has carved)
//     and the frames the allocator handed out.
// A snapshot copies the three; restoring copies them back (frames: those setup touched,
// and zeroes those handed out since, which were fresh memory at the snapshot).
//
// The explorer's own state (the search, the schedule log, the trace, fibers) is never part of
// the world: explorer code runs with world allocation off (world_alloc_off), and whatever it
// keeps of the world (a violation's message) it copies.
//
// Context: one explorer per process, on one OS thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sync/config.h"

GUPFAST_NS_BEGIN
namespace explore::world {

// Does operator new on this thread take world memory now?
bool allocating();
void set_allocating(bool on);
// While it lives, allocations are the explorer's (restores the previous setting after).
class world_alloc_off {
 public:
  world_alloc_off() : saved_(allocating()) { set_allocating(false); }
  ~world_alloc_off() { set_allocating(saved_); }
  world_alloc_off(const world_alloc_off&) = delete;
  world_alloc_off& operator=(const world_alloc_off&) = delete;

 private:
  bool saved_;
};

// Start a search's world from nothing: the world globals as the program loaded them, an
// empty arena. Context: no world object is in use (a previous search ended).
void reset();

struct snapshot {
  bool valid = false;
  uint64_t seed = 0;  // sync::random_u64()'s seed of the setup it was taken after
  std::vector<unsigned char> globals, arena;
  // The memmap from each node's first carved frame to its end, at the snapshot.
  struct memmap_part {
    unsigned long start_pfn, end_pfn;
    std::vector<unsigned char> bytes;
  };
  std::vector<memmap_part> memmap;
  std::vector<uint32_t> frames;           // the frames setup was handed
  std::vector<unsigned char> frame_bytes;  // their contents, in that order
  size_t bytes() const;                   // what a restore copies
};

// Take a snapshot of the world as it is now (after setup), and from now on note the frames
// the allocator hands out. Context: direct mode, no fiber alive.
void take(snapshot* s, uint64_t seed);
// Put the world back as s has it. Context: direct mode, no fiber alive.
void restore(const snapshot& s);
// Forget what take() watches (the search is over).
void stop_watching();

}  // namespace explore::world
GUPFAST_NS_END
