#include "machine/config.h"

GUPFAST_NS_BEGIN

GUPFAST_WORLD active_config g_cfg;

const unsafe_info unsafe_steps[NR_UNSAFE_STEPS] = {
    {"no-pte-recheck", "gup_fast_pte_range: recheck pte_val(pte) == pte_val(ptep_get(ptep)) after the grab",
     "pin a page that zap/reclaim/migration/COW unmapped (stale-pin, pinned page freed and reused)"},
    {"no-pmd-recheck", "gup_fast_pte_range: recheck pmd_val(pmd) == pmd_val(*pmdp) after the grab",
     "pin through a PTE table khugepaged detached (collapse copies stale data: lost-write)",
     "70cbc3cc78a9 (v6.0)"},
    {"no-folio-recheck", "try_get_folio: recheck page_folio(page) == folio after folio_ref_try_add",
     "reference the wrong folio after a THP split or free+realloc (pinned page freed)",
     "c24d37322548 (v5.14)"},
    {"no-leaf-recheck", "gup_fast_pmd_leaf: recheck pmd_val(orig) == pmd_val(*pmdp) after the grab",
     "pin subpages of a PMD leaf that a split or zap no longer maps (stale-pin)"},
    {"get-not-try-get", "folio_ref_try_add: add unless zero (frozen/free folios refuse)",
     "resurrect a freed or frozen folio (pinned-freed, refcount)"},
    {"no-wp-seq", "gup_fast: sample and validate mm->write_protect_seq for FOLL_PIN",
     "pin races fork's write-protect: the pinned page is COW-shared and DMA writes are lost",
     "57efa1fe5957 (v5.11)"},
    {"no-table-sync", "page-table free waits for lockless walkers (IPI, RCU grace period, type-stable memory)",
     "walker reads a freed page table (table-uaf)",
     "9e52fc2b50de (v4.14: x86 under paravirt flushes)"},
    {"torn-pte-read", "PAE ptep_get_lockless: low, rmb, high, rmb, reread low and retry",
     "walker acts on a PTE value never stored (torn-entry: pin of an arbitrary frame)"},
    {"no-reclaim-freeze", "__remove_mapping: folio_ref_freeze(expected) before freeing",
     "reclaim frees a folio GUP-fast just referenced (pinned-freed; DMA lands in a reused page)"},
    {"no-flush-before-free", "mmu_gather and reclaim: flush the TLB before freeing the pages they unmapped",
     "a CPU's stale TLB entry reaches a freed frame (frame-uaf)"},
    {"no-collapse-sync", "collapse: tlb_remove_table_sync_one / IPI / seq after pmdp_collapse_flush",
     "a walker still inside the old PTE table pins pages collapse is copying (lost-write), or reads it after the "
     "THP's zap freed it as the deposit (table-uaf)",
     "2ba99c5e0881 (v6.1)"},
    {"no-seq-validate", "seqcount strategy: read_seqcount_retry after the walk",
     "walker trusts a recycled table or a replaced page (stale-pin, table-uaf)"},
    {"no-pin-mb",
     "try_grab_folio_fast: smp_mb__after_atomic() after the pin accounting, before the PTE recheck "
     "(mm/gup.c; a no-op on x86: the locked add already orders)",
     "the pin is not yet visible to __folio_try_share_anon_rmap's pin check while GUP-fast's recheck still "
     "sees the old PTE: reclaim or migration unmaps a page being pinned (needs --memory weak)",
     "088b8aa537c2 (v6.1)"},
    {"no-pae-rmb",
     "PAE ptep_get_lockless: smp_rmb() between the low and high halves and before the low half's re-read "
     "(mm/gup.c; a compiler barrier on x86)",
     "the high half is read before the low half: a torn entry passes the low/high/low check (torn-entry; "
     "needs --memory weak and --pte pae)"},
    {"no-pae-wmb",
     "PAE set_pte / pte_clear: smp_wmb() between the halves (arch/x86/include/asm/pgtable-3level.h; a "
     "compiler barrier on x86)",
     "the halves become visible in the other order: a lockless reader sees a present entry with a stale half "
     "(torn-entry; needs --memory weak and --pte pae)"},
    {"no-pt-reclaim-recheck",
     "try_to_free_pte (CONFIG_PT_RECLAIM): recheck under the PMD lock and the PTL that every PTE of the table is "
     "still none, even when the zap found it empty but dropped the lock since",
     "a fault refills the table between the zap and the free: a table that maps a page is freed (refcount: "
     "its mappings leak; needs --pt-reclaim)",
     "f39edcf6349a (v6.14)"},
    {"no-pte-map-recheck",
     "pte_offset_map_lock: after taking the PTL, recheck that the PMD still points to the table it was found "
     "through (pmd_same; else unlock and retry)",
     "a fault or other locked walker writes into a table that PT reclaim or collapse detached meanwhile: the "
     "entry is in a table nobody reaches (refcount: a table freed with entries set; needs --pt-reclaim)",
     "0d940a9b270b (v6.5)"},
    {"torn-pmd-read",
     "gup_fast_pmd_range: read the PMD with pmdp_get_lockless() (PAE: low, rmb, high, rmb, reread low and "
     "retry), not READ_ONCE(*pmdp), which on PAE is two 32-bit loads",
     "the walker combines the low half of one PMD value with the high half of the next: a leaf or table "
     "pointer never stored, naming the wrong frames (torn-entry; needs --pte pae and a PMD above 4 GiB)",
     "1180e732c985 (v6.2)"},
    {"no-lazyfree-refcheck",
     "try_to_unmap_one: drop a clean MADV_FREE page only if its refcount is the isolation's plus its mappings' "
     "(smp_mb after the PTE clear, then the count, smp_rmb, then the dirty bit)",
     "reclaim drops the PTE of a lazyfree page GUP holds for a direct-IO read: the process faults in a zero "
     "page and the device's write is lost (lost-write)",
     "6c8e2a256915 (v5.18)"},
    {"no-lazyfree-mb",
     "try_to_unmap_one: the smp_mb() between clearing a lazyfree page's PTE and reading its refcount "
     "(mm/rmap.c, 6c8e2a256915; a no-op on x86: the locked xchg already orders)",
     "the refcount is read before the PTE clear is visible, while GUP-fast's recheck still sees the old PTE: "
     "reclaim drops a page GUP holds (lost-write; needs --memory weak)"},
    {"cow-reuse-mapcount",
     "do_wp_page / wp_can_reuse_anon_folio: reuse a shared anon page for a write only if its refcount is the "
     "mapping's alone (09854ba94c6a, v5.9), not when its mapcount is 1 (reuse_swap_page, before)",
     "a write reuses a page another process still holds by GUP: after fork, the child's read-only GUP "
     "reference sees the parent's later writes (cow-leak, CVE-2020-29374)",
     "17839856fd58 (v5.8), 09854ba94c6a (v5.9)"},
    {"no-pinned-swap-check",
     "shrink_folio_list: a folio that may be DMA-pinned is not added to the swap cache or unmapped for swap-out "
     "(folio_maybe_dma_pinned before add_to_swap, and ours again after the unmap)",
     "reclaim unmaps a pinned page into the swap cache; without AnonExclusive (see no-unmap-pin-check) the "
     "refault maps it shared and the next write copies it away from the pin (lost-write)",
     "feb889fb40fa (v5.11)"},
    {"no-unmap-pin-check",
     "try_to_unmap_one: the AnonExclusive pin check before a swap entry replaces the PTE, and the entry's "
     "exclusive bit (the v5.19 AnonExclusive series, 6c287605fd56)",
     "a pinned page is unmapped for swap-out and its swap entry forgets it was exclusive: the refault maps it "
     "shared, and a write copies it away from the pin (lost-write, with no-pinned-swap-check: the kernels of "
     "v5.9 to v5.18 had only feb889fb40fa's check)"},
};

std::optional<uint32_t> parse_unsafe_list(std::string_view list, std::string* bad) {
  return parse_name_mask(list, NR_UNSAFE_STEPS, [](unsigned i) { return std::string_view(unsafe_steps[i].name); }, bad);
}

std::string unsafe_mask_names(uint32_t mask) {
  return mask_names(mask, NR_UNSAFE_STEPS, [](unsigned i) { return unsafe_steps[i].name; });
}

const char* to_string(pte_mode m) { return m == pte_mode::pae ? "pae" : "native"; }
const char* to_string(table_strategy s) {
  switch (s) {
    case table_strategy::ipi: return "ipi";
    case table_strategy::rcu: return "rcu";
    case table_strategy::seqcount: return "seqcount";
  }
  return "?";
}
const char* to_string(tlb_mode t) { return t == tlb_mode::ipi ? "ipi" : "broadcast"; }
const char* to_string(seq_scope s) { return s == seq_scope::mm ? "mm" : "table"; }
std::optional<seq_scope> parse_seq_scope(std::string_view s) {
  if (s == "mm") return seq_scope::mm;
  if (s == "table") return seq_scope::table;
  return std::nullopt;
}

std::optional<pte_mode> parse_pte_mode(std::string_view s) {
  if (s == "native") return pte_mode::native;
  if (s == "pae") return pte_mode::pae;
  return std::nullopt;
}
std::optional<table_strategy> parse_strategy(std::string_view s) {
  if (s == "ipi") return table_strategy::ipi;
  if (s == "rcu") return table_strategy::rcu;
  if (s == "seqcount") return table_strategy::seqcount;
  return std::nullopt;
}
std::optional<tlb_mode> parse_tlb_mode(std::string_view s) {
  if (s == "ipi") return tlb_mode::ipi;
  if (s == "broadcast") return tlb_mode::broadcast;
  return std::nullopt;
}

GUPFAST_NS_END
