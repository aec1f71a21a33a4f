#include "machine/machine.h"

#include <cerrno>

#include "mm/mm.h"
#include "mm/pt_reclaim.h"
#include "mm/swap.h"
#include "tlb/mmu_gather.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

int machine_create(const machine_config& cfg) {
  tlb_mode tlb = cfg.tlb.value_or(cfg.strategy == table_strategy::ipi ? tlb_mode::ipi : tlb_mode::broadcast);
  // The ipi strategy *is* "the flush IPI waits for irqs-off walkers": it needs ipi flushes.
  if (cfg.strategy == table_strategy::ipi && tlb != tlb_mode::ipi) return -EINVAL;
  if (cfg.unsafe >> NR_UNSAFE_STEPS) return -EINVAL;
  int err = physmem_init(cfg.frames, cfg.poison, cfg.nodes);
  if (err) return err;
  geometry_set(cfg.geometry);
  g_cfg = {cfg.pte, cfg.strategy, tlb, cfg.unsafe, cfg.scope};
  pt_reclaim_set_enabled(cfg.pt_reclaim);
  lru_init();  // the LRU and the swap device are the machine's, as the memmap
  swap_init();
  counters_reset();
  tlb_reset();
  mm_ids_reset();
  return 0;
}

void machine_destroy() {
  if (!physmem_active()) return;
  sync::rcu_barrier();
  pagetable_cache_drain();
  swap_exit();
  physmem_exit();
  g_cfg = {};
  pt_reclaim_set_enabled(false);
}

unsigned long machine_frames_in_use() {
  sync::rcu_barrier();
  physmem_stats s = physmem_get_stats();
  return s.nr_frames - s.nr_free - 1 - pagetable_cache_frames();
}

std::string machine_describe() {
  std::string s = std::string("strategy=") + to_string(g_cfg.strategy) + " tlb=" + to_string(g_cfg.tlb) +
                  " pte=" + to_string(g_cfg.pte);
  if (g_cfg.strategy == table_strategy::seqcount) s += std::string(" seq-scope=") + to_string(g_cfg.scope);
  s += " unsafe=" + (g_cfg.unsafe ? unsafe_mask_names(g_cfg.unsafe) : std::string("none"));
  if (nr_online_nodes > 1) s += " nodes=" + std::to_string(nr_online_nodes);
  if (pt_reclaim_enabled()) s += " pt-reclaim=on";
  if (g_geometry.kind != pgtable_geometry::x86_64) s += std::string(" geometry=") + to_string(g_geometry.kind);
  return s;
}

GUPFAST_NS_END
