// gupfast build configuration: which backend the algorithm code is compiled against.
//
// The algorithm code (memmap, pgtable, mm, tlb, gup, ...) is written once against the sync
// seam (sync.h). The seam has two backends: `native` (real threads, std::atomic, signals as
// IPIs, liburcu) and `model` (fibers under the explorer's scheduler, sync/model.h). A backend is
// chosen once, here, by one build option; each backend's code lives in its own inline
// namespace so both can be linked into the same `gupfast` binary.
#pragma once

#ifndef GUPFAST_BACKEND_NS
#define GUPFAST_BACKEND_NS native
#endif

#define GUPFAST_NS_BEGIN namespace gupfast { inline namespace GUPFAST_BACKEND_NS {
#define GUPFAST_NS_END } }

#ifndef NDEBUG
#define GUPFAST_DEBUG 1
#else
#define GUPFAST_DEBUG 0
#endif

// A global that holds machine state: under the model backend the linker gathers these into
// one section, which the explorer's snapshots copy (explore/world.h). Mark every mutable
// global of the algorithm code with it (ctest explore.world_globals checks).
#if defined(GUPFAST_SYNC_MODEL)
#define GUPFAST_WORLD __attribute__((section("gupfast_world")))
#else
#define GUPFAST_WORLD
#endif
