// The oracle's translation history: which frame incarnation each followed mm mapped at each
// 4 KiB virtual page, and when (clock windows). Built from entry writes in tables reachable
// from a registered mm's PGD; a table becomes reachable (attached) when an upper entry
// starts pointing at it and stops when that entry changes, so writes into a detached
// table (khugepaged's isolated table, a table being filled before pmd_populate) map
// nothing until it is attached again.
//
// Everything here runs under oracle_state::lock. Reading a table's memory here is safe:
// every entry write is bracketed by the oracle's hooks, and a write in flight is applied
// again, idempotently, when its end hook runs.
#include <fmt/format.h>

#include "check/oracle_state.h"
#include "mm/mm.h"

GUPFAST_NS_BEGIN
namespace check::detail {

namespace {

// Entries kept per virtual page beyond those an in-flight operation may still need.
constexpr size_t MIN_KEEP = 4;

// What an entry of a table at `level` means.
struct decoded {
  enum { none, leaf, table } kind = none;
  unsigned long pfn = 0;  // leaf: first frame; table: the table page
  int nr = 0;             // leaf: frames mapped
};

decoded decode(int level, uint64_t v) {
  decoded d;
  if (level == 1) {
    if (pte_present({v})) d = {decoded::leaf, pte_pfn({v}), 1};
  } else if (level == 2) {
    pmd_t pmd{v};
    if (!pmd_present(pmd)) return d;
    if (pmd_leaf(pmd))
      d = {decoded::leaf, pmd_pfn(pmd), HPAGE_PMD_NR};
    else
      d = {decoded::table, pmd_pfn(pmd), 0};
  } else if (v & _PAGE_PRESENT) {
    d = {decoded::table, (v & PTE_PFN_MASK) >> PAGE_SHIFT, 0};
  }
  return d;
}

uint64_t frame_epoch(oracle_state* o, unsigned long pfn) {
  frame_info* f = o->frame(pfn);
  return f ? f->epoch.load(std::memory_order_relaxed) : 0;
}

// The oldest start of an operation still in flight (mappings that ended before it are no
// longer needed by anyone's verdict).
uint64_t oldest_inflight(oracle_state* o) {
  uint64_t m = OPEN;
  for (auto& s : o->inflight) {
    uint64_t t = s.load(std::memory_order_relaxed);
    if (t && t < m) m = t;
  }
  for (auto& s : o->walk_start) {
    uint64_t t = s.load(std::memory_order_relaxed);
    if (t && t < m) m = t;
  }
  return m;
}

void prune(oracle_state* o, std::vector<mapping>& h) {
  if (h.size() <= 2 * MIN_KEEP) return;
  uint64_t keep_after = oldest_inflight(o);
  size_t drop = 0;
  while (drop + MIN_KEEP < h.size() && h[drop].end != OPEN && h[drop].end < keep_after) drop++;
  h.erase(h.begin(), h.begin() + drop);
}

// The virtual page now maps (pfn, epoch), or nothing (pfn == ~0): close what it mapped at
// te, open the new mapping at tb. Idempotent.
void set_vpage(oracle_state* o, uint32_t mm_id, unsigned long va, unsigned long pfn, uint64_t tb, uint64_t te) {
  std::vector<mapping>& h = o->vpages[vkey(mm_id, va)];
  uint64_t epoch = pfn == ~0ul ? 0 : frame_epoch(o, pfn);
  if (!h.empty() && h.back().end == OPEN) {
    if (h.back().pfn == pfn && h.back().epoch == epoch) return;
    h.back().end = te;
  }
  if (pfn != ~0ul) h.push_back({pfn, epoch, tb, OPEN});
  prune(o, h);
}

}  // namespace

void apply_entry_change(oracle_state* o, uint32_t mm_id, int level, unsigned long va, uint64_t old, uint64_t now,
                        uint64_t tb, uint64_t te) {
  decoded d_old = decode(level, old), d_new = decode(level, now);
  if (d_old.kind == d_new.kind && d_old.pfn == d_new.pfn) return;  // flags only (A/D, RW)
  // Old mappings end first, new ones open after: a THP split (leaf -> table of the same
  // pages) closes the leaf's mappings and the table's attach reopens them.
  if (d_old.kind == decoded::table) detach_table(o, d_old.pfn, tb, te);
  int n = std::max(d_old.kind == decoded::leaf ? d_old.nr : 0, d_new.kind == decoded::leaf ? d_new.nr : 0);
  for (int i = 0; i < n; i++) {
    unsigned long pfn = d_new.kind == decoded::leaf ? d_new.pfn + i : ~0ul;
    set_vpage(o, mm_id, va + (unsigned long)i * PAGE_SIZE, pfn, tb, te);
  }
  if (d_new.kind == decoded::table) attach_table(o, d_new.pfn, level - 1, va, mm_id, tb, te);
  if (level == 1 || d_old.kind == decoded::leaf || d_new.kind == decoded::leaf)
    log_event(o, "map", mm_id, va, d_new.kind == decoded::leaf ? d_new.pfn : d_old.pfn, 0, old, now);
}

void attach_table(oracle_state* o, unsigned long tpfn, int level, unsigned long base, uint32_t mm_id, uint64_t tb,
                  uint64_t te) {
  if (level < 1 || !pfn_valid(tpfn)) return;
  table_info& t = o->tables[tpfn];
  t = {level, base, mm_id, true};
  log_event(o, "attach", mm_id, base, ~0ul, tpfn, level);
  const uint64_t* e = reinterpret_cast<const uint64_t*>(pfn_to_virt(tpfn));
  for (unsigned long i = 0; i < static_cast<unsigned long>(PTRS_PER_PTE); i++) {
    uint64_t v = peek(e + i);
    if (v) apply_entry_change(o, mm_id, level, base + (i << pgtable_level_shift(level)), 0, v, tb, te);
  }
}

void detach_table(oracle_state* o, unsigned long tpfn, uint64_t tb, uint64_t te) {
  auto it = o->tables.find(tpfn);
  if (it == o->tables.end() || !it->second.attached) return;
  table_info t = it->second;
  it->second.attached = false;
  log_event(o, "detach", t.mm_id, t.base, ~0ul, tpfn, t.level);
  const uint64_t* e = reinterpret_cast<const uint64_t*>(pfn_to_virt(tpfn));
  for (unsigned long i = 0; i < static_cast<unsigned long>(PTRS_PER_PTE); i++) {
    uint64_t v = peek(e + i);
    if (v) apply_entry_change(o, t.mm_id, t.level, t.base + (i << pgtable_level_shift(t.level)), v, 0, tb, te);
  }
}

bool write_in_flight(oracle_state* o, const void* entry, uint64_t t1) {
  for (int cpu = 0; cpu <= sync::NR_CPUS; cpu++) {
    auto it = o->pending.find({entry, cpu});
    if (it != o->pending.end() && it->second.second <= t1) return true;
  }
  return false;
}

bool pending_maps(oracle_state* o, mm_struct* mm, unsigned long addr, unsigned long pfn, uint64_t t1) {
  if (o->pending.empty()) return false;
  // The walk to addr as it is now. A lockless peek: page-table frames are never unmapped,
  // so a stale pointer still reads memory.
  const void* path[4];
  int n = 0;
  pgd_t* pgdp = pgd_offset_pgd(mm->pgd, addr);
  path[n++] = pgdp;
  pgd_t pgd = pgdp_get(pgdp);
  if (!pgd_present(pgd)) return false;
  pud_t* pudp = pud_offset_lockless(pgd, addr);
  path[n++] = pudp;
  pud_t pud = pudp_get(pudp);
  if (!pud_present(pud)) return false;
  pmd_t* pmdp = pmd_offset_lockless(pud, addr);
  path[n++] = pmdp;
  pmd_t pmd = pmdp_get_lockless(pmdp);
  if (!pmd_present(pmd)) return false;
  decoded leaf;
  if (pmd_leaf(pmd)) {
    leaf = decode(2, pmd.pmd);
    leaf.pfn += pte_index(addr);
  } else {
    pte_t* ptep = pte_offset_lockless(pmd, addr);
    path[n++] = ptep;
    leaf = decode(1, ptep_get_lockless(ptep).pte);
  }
  if (leaf.kind != decoded::leaf || leaf.pfn != pfn) return false;
  // Mapped now; is the history behind because a write on the way is still in flight (the
  // entry itself, or a table above it whose attach has not been recorded yet)?
  for (int i = 0; i < n; i++)
    if (write_in_flight(o, path[i], t1)) return true;
  return false;
}

bool was_mapped(oracle_state* o, uint32_t mm_id, unsigned long addr, unsigned long pfn, uint64_t epoch, uint64_t t0,
                uint64_t t1) {
  auto it = o->vpages.find(vkey(mm_id, addr));
  if (it == o->vpages.end()) return false;
  for (const mapping& m : it->second)
    if (m.pfn == pfn && m.epoch == epoch && m.start <= t1 && m.end >= t0) return true;
  return false;
}

bool is_torn_mix(oracle_state* o, uint32_t mm_id, unsigned long addr, unsigned long pfn) {
  if (!pae_mode()) return false;
  auto it = o->vpages.find(vkey(mm_id, addr));
  if (it == o->vpages.end()) return false;
  // The high half holds physical address bits 32.., i.e. pfn bits 20..; a cleared entry's
  // high half is 0. The low half (with the present bit) must come from a stored value.
  constexpr unsigned long LOW = (1ul << 20) - 1;
  bool high_ok = (pfn >> 20) == 0, low_ok = false;
  for (const mapping& m : it->second) {
    if (m.pfn == pfn) return false;  // a real value, not a mix
    high_ok |= (m.pfn >> 20) == (pfn >> 20);
    low_ok |= (m.pfn & LOW) == (pfn & LOW);
  }
  return high_ok && low_ok;
}

std::string history_string(oracle_state* o, uint32_t mm_id, unsigned long addr) {
  auto it = o->vpages.find(vkey(mm_id, addr));
  if (it == o->vpages.end()) return "never mapped";
  std::string s;
  for (const mapping& m : it->second) {
    if (!s.empty()) s += ", ";
    if (m.end == OPEN)
      s += fmt::format("pfn {:#x}/e{} [{}..]", m.pfn, m.epoch, m.start);
    else
      s += fmt::format("pfn {:#x}/e{} [{}..{}]", m.pfn, m.epoch, m.start, m.end);
  }
  return s;
}

}  // namespace check::detail
GUPFAST_NS_END
