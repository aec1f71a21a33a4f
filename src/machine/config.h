// Run-time configuration of the machine: entry format, page-table lifetime strategy, TLB
// flush mode, and the safety steps a mutant removes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgtable/geometry.h"
#include "sync/config.h"

GUPFAST_NS_BEGIN

enum class pte_mode : uint8_t { native, pae };
// How page tables are kept alive under the lockless walker (docs/strategies.md).
enum class table_strategy : uint8_t { ipi, rcu, seqcount };
// How a TLB flush completes: wait for an IPI on every CPU of the mm (a CPU with irqs off
// delays it), or broadcast invalidation that does not wait for irqs-off CPUs.
enum class tlb_mode : uint8_t { ipi, broadcast };
// The seqcount strategy's counter scope (tlb/pt_seq.h).
enum class seq_scope : uint8_t { mm, table };

// One bit per safety step; each removes exactly one check (docs/gup.md, section 3).
enum unsafe_step : unsigned {
  NO_PTE_RECHECK,       // gup_fast_pte_range: pte_val(pte) != pte_val(ptep_get(ptep))
  NO_PMD_RECHECK,       // gup_fast_pte_range: pmd_val(pmd) != pmd_val(*pmdp)
  NO_FOLIO_RECHECK,     // try_get_folio: page_folio(page) != folio after the grab
  NO_LEAF_RECHECK,      // gup_fast_pmd_leaf: pmd_val(orig) != pmd_val(*pmdp)
  GET_NOT_TRY_GET,      // folio_ref_try_add -> plain add (resurrects freed/frozen folios)
  NO_WP_SEQ,            // gup_fast: write_protect_seq sample/validate for FOLL_PIN
  NO_TABLE_SYNC,        // table free without IPI wait / grace period / type-stable memory
  TORN_PTE_READ,        // PAE ptep_get_lockless without the low/high/low retry
  NO_RECLAIM_FREEZE,    // __remove_mapping frees without folio_ref_freeze
  NO_FLUSH_BEFORE_FREE, // mmu_gather and reclaim free pages before the TLB flush
  NO_COLLAPSE_SYNC,     // collapse skips the sync with lockless walkers after pmdp_collapse_flush
  NO_SEQ_VALIDATE,      // seqcount strategy: walker does not validate the counter
  // Barriers (docs/memory-model.md): each a no-op on x86 hardware and under sc / tso alone;
  // the weak memory model (gupfast explore --memory weak) shows what each one orders.
  NO_PIN_MB,            // try_grab_folio_fast: smp_mb__after_atomic after the pin accounting
  NO_PAE_RMB,           // ptep_get_lockless: smp_rmb between the halves
  NO_PAE_WMB,           // set_pte / pte_clear (PAE): smp_wmb between the halves
  NO_PT_RECLAIM_RECHECK,  // try_to_free_pte: recheck that the table is still empty under its locks
  NO_PTE_MAP_RECHECK,   // pte_offset_map_lock: recheck the PMD still points to the table once locked
  TORN_PMD_READ,        // gup_fast_pmd_range: READ_ONCE(*pmdp) instead of pmdp_get_lockless (PAE)
  NO_LAZYFREE_REFCHECK, // try_to_unmap_one: a lazyfree page is dropped only if nobody else holds a reference
  NO_LAZYFREE_MB,       // try_to_unmap_one: smp_mb between the lazyfree PTE clear and the refcount read
  COW_REUSE_MAPCOUNT,   // wp_can_reuse_anon_folio: reuse on mapcount == 1 (before 09854ba94c6a), not refcount
  NO_PINNED_SWAP_CHECK, // shrink_folio_list: keep maybe-pinned folios out of the swap cache
  NO_UNMAP_PIN_CHECK,   // try_to_unmap_one: AnonExclusive's pin check and the swap entry's exclusive bit
  NR_UNSAFE_STEPS
};

struct unsafe_info {
  const char* name;
  const char* check;  // the kernel check it removes
  const char* race;   // the race it opens
  // The kernel fix(es) that added the check, where a bug-zoo entry (tests/litmus/zoo) reverts
  // them: "70cbc3cc78a9 (v6.0)"; "" if none.
  const char* commit = "";
};
extern const unsafe_info unsafe_steps[NR_UNSAFE_STEPS];

// Parse "a,b,c" of unsafe names into a mask; nullopt (and *bad = the name) if one is unknown.
std::optional<uint32_t> parse_unsafe_list(std::string_view list, std::string* bad);
// A comma-separated list of names to a mask: bit i for name(i), i < n. Empty items are
// skipped; an unknown name sets *bad (if given) and returns nullopt.
template <class Name>
std::optional<uint32_t> parse_name_mask(std::string_view list, unsigned n, Name name, std::string* bad) {
  uint32_t mask = 0;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    unsigned i = 0;
    while (i < n && item != name(i)) i++;
    if (i == n) {
      if (bad) *bad = std::string(item);
      return std::nullopt;
    }
    mask |= 1u << i;
  }
  return mask;
}

// The names of the bits set in mask, comma-separated, in bit order: name(i) for bit i < n.
template <class Name>
std::string mask_names(uint32_t mask, unsigned n, Name name) {
  std::string s;
  for (unsigned i = 0; i < n; i++) {
    if (!(mask >> i & 1)) continue;
    if (!s.empty()) s += ',';
    s += name(i);
  }
  return s;
}
std::string unsafe_mask_names(uint32_t mask);

const char* to_string(pte_mode m);
const char* to_string(table_strategy s);
const char* to_string(tlb_mode t);
const char* to_string(seq_scope s);
std::optional<seq_scope> parse_seq_scope(std::string_view s);
std::optional<pte_mode> parse_pte_mode(std::string_view s);
std::optional<table_strategy> parse_strategy(std::string_view s);
std::optional<tlb_mode> parse_tlb_mode(std::string_view s);

struct machine_config {
  unsigned long frames = 1ul << 21;  // 8 GiB of 4 KiB frames, backed lazily
  // NUMA nodes, 1 or 2; node 1 starts at 4 GiB or above and holds a quarter of the frames
  // (memmap/memmap.h): small machines then have frame numbers that differ in the high half
  // of a PAE entry.
  int nodes = 1;
  pte_mode pte = pte_mode::native;
  table_strategy strategy = table_strategy::rcu;
  std::optional<tlb_mode> tlb;       // default: ipi for strategy ipi, else broadcast
  uint32_t unsafe = 0;               // mask of unsafe_step bits; 0 = every check on
  seq_scope scope = seq_scope::table;  // seqcount strategy only
  bool poison = GUPFAST_DEBUG;       // poison freed frames and tables
  // CONFIG_PT_RECLAIM: MADV_DONTNEED frees the PTE tables it empties (mm/pt_reclaim.h;
  // pt_reclaim_set_enabled() switches it at run time).
  bool pt_reclaim = false;
  // Entries per page table, and so the PMD leaf and THP size (pgtable/geometry.h).
  pgtable_geometry geometry = pgtable_geometry::x86_64;
};

// The active machine's settings (one machine per process, as the memmap).
struct active_config {
  pte_mode pte = pte_mode::native;
  table_strategy strategy = table_strategy::rcu;
  tlb_mode tlb = tlb_mode::broadcast;
  uint32_t unsafe = 0;
  seq_scope scope = seq_scope::table;
};
extern active_config g_cfg;

inline bool is_unsafe(unsafe_step s) { return g_cfg.unsafe >> s & 1; }
inline bool pae_mode() { return g_cfg.pte == pte_mode::pae; }

GUPFAST_NS_END
