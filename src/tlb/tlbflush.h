// Per-CPU TLBs and TLB shootdown (arch/x86/mm/tlb.c, in two completion modes).
//
// Each CPU caches translations in a small software TLB. A process's loads and stores
// (mm_load/mm_store in mm/access.cpp) go through it, and a miss walks the page tables as
// the hardware walker does. An access is one "instruction": it runs with irqs off and
// with the CPU's access_seq odd, so an IPI or a flush cannot land in its middle.
//
// Invalidation is by generation: flush_tlb_mm_range() bumps mm->tlb_gen [TLB-GEN], and
// an entry filled under an older generation is dead. What the two modes differ in is what
// the flusher waits for before it returns (and so before the caller may free a frame):
//   ipi        an IPI to every CPU of mm_cpumask, waiting until each ran it; a CPU with
//              irqs off (GUP-fast) delays the flusher (x86 without INVLPGB)
//   broadcast  only until every in-flight access that may use an old translation has
//              finished (arm64 TLBI + DSB, x86 INVLPGB + TLBSYNC); irqs-off CPUs do not delay it
#pragma once
#include "mm/mm_types.h"

GUPFAST_NS_BEGIN

inline constexpr int TLB_ENTRIES = 64;

struct tlb_entry {
  uint64_t ctx = 0;  // mm->ctx_id, 0 = empty
  unsigned long vpn = 0;
  uint64_t gen = 0;
  pteval_t pte = 0;
};

// Owned by one CPU: entries are only read and written by that CPU's thread (and by its
// own IPI handler, which runs between accesses). access_seq is read by flushers.
struct alignas(64) cpu_tlb {
  tlb_entry e[TLB_ENTRIES];
  sync::atomic<uint64_t> access_seq{0};  // odd while an access is in flight [TLB-ACCESS]
};
extern cpu_tlb cpu_tlbs[sync::NR_CPUS];

// Make this CPU a user of mm (switch_mm): it joins mm_cpumask and takes its shootdowns.
// Context: a registered CPU. The set happens before the CPU reads any of mm's tables.
inline void switch_mm(mm_struct* mm) {
  int cpu = sync::smp_processor_id();
  if (!mm_cpumask(mm).test_cpu(cpu)) {
    mm_cpumask(mm).set_cpu(cpu);
    sync::smp_mb();  // pairs with the smp_mb in flush_tlb_mm_range before it reads the mask
  }
}

// Empty every CPU's TLB (a new machine). Context: no CPU is accessing memory.
void tlb_reset();
void flush_tlb_mm_range(mm_struct* mm, unsigned long start, unsigned long end);
inline void flush_tlb_mm(mm_struct* mm) { flush_tlb_mm_range(mm, 0, TASK_SIZE); }
inline void flush_tlb_page(mm_struct* mm, unsigned long addr) {
  flush_tlb_mm_range(mm, addr, addr + PAGE_SIZE);
}
// Drop every entry of mm from this CPU's TLB (flush_tlb_func's local part).
void local_flush_tlb_mm(mm_struct* mm);

// Look up / fill this CPU's TLB. Context: in an access (tlb_access_begin..end).
bool tlb_lookup(mm_struct* mm, unsigned long addr, uint64_t gen, pteval_t* pte);
void tlb_fill(mm_struct* mm, unsigned long addr, uint64_t gen, pteval_t pte);

// [TLB-ACCESS] An access is in flight between begin and end. Pairs with the flusher's
// smp_mb + access_seq read in flush_tlb_mm_range (broadcast mode).
unsigned long tlb_access_begin();
void tlb_access_end(unsigned long irqflags);

GUPFAST_NS_END
