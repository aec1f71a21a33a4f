// gupfast as a library: the machine, address spaces, GUP and the oracle, in one include.
//
//   find_package(gupfast) + target_link_libraries(app gupfast::gupfast), or
//   pkg-config --cflags --libs gupfast; C++20. examples/pin-vs-munmap is a whole program.
//
// The installed library is the native backend (real threads, std::atomic, liburcu): one
// machine per process (machine_create), each thread that touches it a CPU (cpu_scope).
// docs/architecture.md describes the pieces; docs/kernel-map.md their kernel names.
#pragma once
#include "check/ops.h"
#include "check/oracle.h"
#include "gup/gup.h"
#include "machine/machine.h"
#include "mm/mm.h"
