// TLB shootdown: invalidate by generation, then wait as the flush mode requires.
#include "tlb/tlbflush.h"

#include "machine/counters.h"

GUPFAST_NS_BEGIN

GUPFAST_WORLD cpu_tlb cpu_tlbs[sync::NR_CPUS];

namespace {

inline tlb_entry& slot(int cpu, unsigned long vpn) { return cpu_tlbs[cpu].e[vpn % TLB_ENTRIES]; }

struct flush_info {
  mm_struct* mm;
};

// flush_tlb_func(): runs on each target CPU, from its IPI handler (irqs on) or, if it had
// irqs off, from local_irq_enable().
void flush_tlb_func(void* arg) {
  auto* info = static_cast<flush_info*>(arg);
  local_flush_tlb_mm(info->mm);
  count_event(CNT_tlb_local_flushes);
}

}  // namespace

void tlb_reset() {
  for (cpu_tlb& t : cpu_tlbs) {
    for (tlb_entry& e : t.e) e = tlb_entry{};
    t.access_seq.store(0, sync::relaxed);
  }
}

void local_flush_tlb_mm(mm_struct* mm) {
  int cpu = sync::smp_processor_id();
  if (cpu < 0) return;
  for (auto& e : cpu_tlbs[cpu].e)
    if (e.ctx == mm->ctx_id) e.ctx = 0;
}

unsigned long tlb_access_begin() {
  unsigned long flags = sync::local_irq_save();
  auto& seq = cpu_tlbs[sync::smp_processor_id()].access_seq;
  seq.store(seq.load(sync::relaxed) + 1, sync::relaxed);
  sync::smp_mb();  // [TLB-ACCESS]: odd before we read tlb_gen or any table
  return flags;
}

void tlb_access_end(unsigned long flags) {
  auto& seq = cpu_tlbs[sync::smp_processor_id()].access_seq;
  seq.store(seq.load(sync::relaxed) + 1, sync::release);  // the frame access is done
  sync::local_irq_restore(flags);
}

bool tlb_lookup(mm_struct* mm, unsigned long addr, uint64_t gen, pteval_t* pte) {
  unsigned long vpn = addr >> PAGE_SHIFT;
  tlb_entry& e = slot(sync::smp_processor_id(), vpn);
  if (e.ctx != mm->ctx_id || e.vpn != vpn || e.gen != gen) return false;
  *pte = e.pte;
  return true;
}

void tlb_fill(mm_struct* mm, unsigned long addr, uint64_t gen, pteval_t pte) {
  unsigned long vpn = addr >> PAGE_SHIFT;
  tlb_entry& e = slot(sync::smp_processor_id(), vpn);
  e.ctx = mm->ctx_id;
  e.vpn = vpn;
  e.gen = gen;
  e.pte = pte;
}

// Context: irqs on (an ipi-mode flusher waits for other CPUs' handlers).
// Callers have already changed the entries; only after this returns may they free what
// the old entries pointed to (invariant 10: free after flush).
void flush_tlb_mm_range(mm_struct* mm, unsigned long start, unsigned long end) {
  count_event(CNT_tlb_flushes);
  // [TLB-GEN] Every translation of mm cached before this point is dead from now on.
  // Pairs with [TLB-ACCESS]: the access either sees the new generation (and walks the
  // already-changed tables) or is seen in flight below and waited for.
  mm->tlb_gen.fetch_add(1, sync::seq_cst);
  sync::smp_mb();
  uint64_t mask = mm_cpumask(mm).bits(sync::relaxed);
  if (g_cfg.tlb == tlb_mode::ipi) {
    // Native x86 flush_tlb_others(): every CPU of the mm takes the IPI and we wait. A CPU
    // with irqs off (GUP-fast's walk) holds us here until it re-enables them.
    flush_info info{mm};
    int self = sync::smp_processor_id();
    count_event(CNT_tlb_ipis, __builtin_popcountll(self >= 0 ? mask & ~(uint64_t{1} << self) : mask));
    sync::smp_call_function_many(mask, flush_tlb_func, &info, true);
    return;
  }
  // Broadcast: the invalidation reaches every CPU without interrupting it; completion
  // (TLBSYNC / DSB) means no access still uses an old translation. Irqs-off sections are
  // not waited for: "interrupts disabled doesn't actually block IPIs and synchronize with
  // TLB flushes".
  int self = sync::smp_processor_id();
  for (uint64_t m = mask; m; m &= m - 1) {
    int cpu = __builtin_ctzll(m);
    if (cpu == self) continue;
    uint64_t s = cpu_tlbs[cpu].access_seq.load(sync::acquire);
    if (s & 1)
      while (cpu_tlbs[cpu].access_seq.load(sync::acquire) == s) sync::cpu_relax();
  }
  if (self >= 0 && (mask >> self & 1)) local_flush_tlb_mm(mm);
}

GUPFAST_NS_END
