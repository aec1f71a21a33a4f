// The machine: physical memory, the memmap, the configuration, and the CPUs.
//
// One machine per process at a time (its memmap is global, as the kernel's mem_map):
//   machine_create(cfg) ... machine_destroy()
// Threads that act as CPUs (load/store memory, run GUP, take IPIs) hold a cpu_scope.
#pragma once
#include <string>

#include "machine/config.h"
#include "machine/counters.h"
#include "memmap/memmap.h"
#include "sync/sync.h"

GUPFAST_NS_BEGIN

// Returns 0, or -EINVAL (bad size, or strategy ipi with broadcast flushes), -EBUSY (a
// machine exists), -ENOMEM.
int machine_create(const machine_config& cfg);
void machine_destroy();
// Frames allocated now, not counting the zero page and the seqcount strategy's table
// cache. After every mm is gone this must be 0 (the leak check). Waits for pending RCU
// frees first. Context: no CPU is inside an RCU read-side section.
unsigned long machine_frames_in_use();
// "strategy=rcu tlb=broadcast pte=native unsafe=none" for reports.
std::string machine_describe();

// The calling thread is a CPU for the scope's lifetime.
class cpu_scope {
 public:
  cpu_scope() : id_(sync::cpu_online()) {}
  ~cpu_scope() {
    if (id_ >= 0) sync::cpu_offline();
  }
  cpu_scope(const cpu_scope&) = delete;
  cpu_scope& operator=(const cpu_scope&) = delete;
  int id() const { return id_; }  // < 0: -EBUSY (already a CPU) or -ENOSPC

 private:
  int id_;
};

GUPFAST_NS_END
