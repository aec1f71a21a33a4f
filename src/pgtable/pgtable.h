// Reading and writing page-table entries: native 64-bit and PAE (two 32-bit halves).
//
// Native: every entry access is one 64-bit access (READ_ONCE/WRITE_ONCE).
// PAE (arch/x86/include/asm/pgtable-3level.h, include/linux/pgtable.h): the entry is two
// 32-bit words; the present bit is in the low word. Writers keep a reader that loads the
// halves separately from seeing a present low half with a foreign high half:
//   set_pte (make present):   high, smp_wmb, low            [PAE-SET]
//   pte_clear / pmd_clear:    low = 0, smp_wmb, high = 0    [PAE-CLEAR]
//   set_pmd, get_and_clear, set_pte_atomic: one 64-bit atomic (cmpxchg8b on real PAE)
// and the lockless reader ptep_get_lockless/pmdp_get_lockless loads low, smp_rmb, high,
// smp_rmb, and reloads low; if low changed it retries [PAE-READ] (pairs with [PAE-SET]
// and [PAE-CLEAR]). What remains is a present -> different-present change of the high half
// alone; the kernel never does that without a not-present step and a TLB flush between.
//
// PAE mode here keeps the 4-level x86-64 geometry (real PAE has 3 levels and 32-bit
// virtual addresses); what it models is the entry format and its access discipline, which
// is what GUP-fast depends on. See docs/architecture.md.
#pragma once
#include "machine/config.h"
#include "memmap/memmap.h"
#include "pgtable/page_table_check.h"
#include "pgtable/pgtable_types.h"

GUPFAST_NS_BEGIN

namespace pgtable_detail {
inline uint32_t* low(pteval_t* p) { return reinterpret_cast<uint32_t*>(p); }
inline uint32_t* high(pteval_t* p) { return reinterpret_cast<uint32_t*>(p) + 1; }

// READ_ONCE of an entry. PAE: two loads with no ordering or retry (may tear); callers that
// act on the value without a lock use entry_get_lockless().
inline pteval_t entry_read(pteval_t* p) {
  if (!pae_mode()) return sync::load(p, sync::relaxed);
  uint32_t l = sync::load(low(p), sync::relaxed);
  uint32_t h = sync::load(high(p), sync::relaxed);
  return pteval_t(h) << 32 | l;
}

// [PAE-READ] ptep_get_lockless(). Pairs with [PAE-SET] and [PAE-CLEAR]. `torn`: the
// torn-pte-read mutant's reader, which trusts its first low half.
inline pteval_t entry_get_lockless(pteval_t* p, bool torn) {
  if (!pae_mode()) return sync::load(p, sync::relaxed);
  for (;;) {
    // [PAE-RMB] each half's load after the previous one: pairs with [PAE-WMB].
    uint32_t l = sync::load(low(p), sync::relaxed);
    if (!is_unsafe(NO_PAE_RMB)) sync::smp_rmb();
    sync::yield_point("ptep_get_lockless:between_halves");
    uint32_t h = sync::load(high(p), sync::relaxed);
    if (!is_unsafe(NO_PAE_RMB)) sync::smp_rmb();
    // Mutant torn-pte-read: trust the first low half (CONFIG_GUP_GET_PXX_LOW_HIGH without
    // the loop); a concurrent [PAE-SET]/[PAE-CLEAR] then yields a value never stored.
    if (torn || l == sync::load(low(p), sync::relaxed))
      return pteval_t(h) << 32 | l;
    sync::cpu_relax();
  }
}

// READ_ONCE(*pmdp) as GUP-fast did before 1180e732c985 ("mm/gup: Fix the lockless PMD
// access", v6.2): on PAE a 64-bit READ_ONCE is two 32-bit loads, low then high, neither
// ordered nor checked, and a writer may come between them. Only the torn-pmd-read mutant
// reads this way (entry_read keeps its halves together: its callers hold the lock).
inline pteval_t entry_read_once_torn(pteval_t* p) {
  if (!pae_mode()) return sync::load(p, sync::relaxed);
  uint32_t l = sync::load(low(p), sync::relaxed);
  sync::yield_point("read_once:between_halves");
  uint32_t h = sync::load(high(p), sync::relaxed);
  return pteval_t(h) << 32 | l;
}

// [PAE-SET] set_pte(): make an entry present.
inline void entry_set(pteval_t* p, pteval_t v) {
  page_table_check_write check(p);
  if (!pae_mode()) {
    sync::store(p, v, sync::relaxed);
    return;
  }
  sync::store(high(p), uint32_t(v >> 32), sync::relaxed);
  if (!is_unsafe(NO_PAE_WMB)) sync::smp_wmb();  // [PAE-WMB] high before low: pairs with [PAE-RMB]
  sync::yield_point("set_pte:between_halves");
  sync::store(low(p), uint32_t(v), sync::relaxed);
}

// [PAE-CLEAR] pte_clear()/pmd_clear().
inline void entry_clear(pteval_t* p) {
  page_table_check_write check(p);
  if (!pae_mode()) {
    sync::store(p, pteval_t{0}, sync::relaxed);
    return;
  }
  sync::store(low(p), uint32_t{0}, sync::relaxed);
  if (!is_unsafe(NO_PAE_WMB)) sync::smp_wmb();  // [PAE-WMB] low (not present) before high
  sync::yield_point("pte_clear:between_halves");
  sync::store(high(p), uint32_t{0}, sync::relaxed);
}

// One 64-bit atomic access in both modes (set_pmd, set_pte_atomic, *_get_and_clear).
inline void entry_set_atomic(pteval_t* p, pteval_t v) {
  page_table_check_write check(p);
  sync::store(p, v, sync::relaxed);
}
// ptep_get_and_clear / pmdp_huge_get_and_clear: x86's xchg is fully ordered, arm64's is
// xchg_relaxed (arch/arm64/include/asm/pgtable.h, __ptep_get_and_clear) and the generic one
// a plain read and clear. Relaxed here, the weakest the kernel allows: the callers' own
// barriers (__folio_try_share_anon_rmap's smp_mb, the TLB flush) are what order it, and the
// weak memory model shows where they are needed (docs/memory-model.md).
inline pteval_t entry_xchg(pteval_t* p, pteval_t v) {
  page_table_check_write check(p);
  return sync::xchg(p, v, sync::relaxed);
}
inline bool entry_cmpxchg(pteval_t* p, pteval_t& old, pteval_t v) {
  page_table_check_write check(p);
  return sync::cmpxchg(p, old, v, sync::seq_cst);
}
// clear_bit(_PAGE_BIT_RW): a locked op on the word that holds the bit (the low half in PAE);
// a non-returning atomic, so unordered (Documentation/atomic_t.txt).
inline void entry_clear_bits_low(pteval_t* p, uint32_t bits) {
  page_table_check_write check(p);
  if (!pae_mode())
    sync::fetch_and(p, ~pteval_t(bits), sync::relaxed);
  else
    sync::fetch_and(low(p), ~bits, sync::relaxed);
}
}  // namespace pgtable_detail

// ---- PTE accessors -------------------------------------------------------------------
inline pte_t ptep_get(pte_t* ptep) { return {pgtable_detail::entry_read(&ptep->pte)}; }
inline pte_t ptep_get_lockless(pte_t* ptep) {
  return {pgtable_detail::entry_get_lockless(&ptep->pte, is_unsafe(TORN_PTE_READ))};
}
// The MMU's read of an entry (mm/access.cpp's hardware walk): one 8-byte load in both
// modes, as x86 PAE paging reads its 64-bit entries; only software reads the halves apart.
inline pte_t ptep_get_hw(pte_t* ptep) { return {sync::load(&ptep->pte, sync::relaxed)}; }
inline void set_pte(pte_t* ptep, pte_t pte) { pgtable_detail::entry_set(&ptep->pte, pte.pte); }
inline void pte_clear(pte_t* ptep) { pgtable_detail::entry_clear(&ptep->pte); }
inline void set_pte_atomic(pte_t* ptep, pte_t pte) { pgtable_detail::entry_set_atomic(&ptep->pte, pte.pte); }
inline pte_t ptep_get_and_clear(pte_t* ptep) { return {pgtable_detail::entry_xchg(&ptep->pte, 0)}; }
inline void ptep_set_wrprotect(pte_t* ptep) {
  pgtable_detail::entry_clear_bits_low(&ptep->pte, uint32_t(_PAGE_RW));
}
inline bool ptep_cmpxchg(pte_t* ptep, pte_t& old, pte_t v) {
  return pgtable_detail::entry_cmpxchg(&ptep->pte, old.pte, v.pte);
}

// ---- PMD accessors -------------------------------------------------------------------
inline pmd_t pmdp_get(pmd_t* pmdp) { return {pgtable_detail::entry_read(&pmdp->pmd)}; }
inline pmd_t pmdp_get_lockless(pmd_t* pmdp) { return {pgtable_detail::entry_get_lockless(&pmdp->pmd, false)}; }
// The torn-pmd-read mutant's PMD load in GUP-fast (pgtable_detail::entry_read_once_torn).
inline pmd_t pmdp_get_read_once_torn(pmd_t* pmdp) { return {pgtable_detail::entry_read_once_torn(&pmdp->pmd)}; }
inline pmd_t pmdp_get_hw(pmd_t* pmdp) { return {sync::load(&pmdp->pmd, sync::relaxed)}; }
inline void set_pmd(pmd_t* pmdp, pmd_t pmd) { pgtable_detail::entry_set_atomic(&pmdp->pmd, pmd.pmd); }
inline void pmd_clear(pmd_t* pmdp) { pgtable_detail::entry_clear(&pmdp->pmd); }
inline pmd_t pmdp_huge_get_and_clear(pmd_t* pmdp) { return {pgtable_detail::entry_xchg(&pmdp->pmd, 0)}; }
inline bool pmdp_cmpxchg(pmd_t* pmdp, pmd_t& old, pmd_t v) {
  return pgtable_detail::entry_cmpxchg(&pmdp->pmd, old.pmd, v.pmd);
}
inline void pmdp_set_wrprotect(pmd_t* pmdp) {
  pgtable_detail::entry_clear_bits_low(&pmdp->pmd, uint32_t(_PAGE_RW));
}

// Upper levels are always written with one 64-bit store.
inline pud_t pudp_get(pud_t* pudp) { return {sync::load(&pudp->pud, sync::relaxed)}; }
inline void set_pud(pud_t* pudp, pud_t v) { pgtable_detail::entry_set_atomic(&pudp->pud, v.pud); }
inline void pud_clear(pud_t* pudp) { pgtable_detail::entry_set_atomic(&pudp->pud, pteval_t{0}); }
inline pgd_t pgdp_get(pgd_t* pgdp) { return {sync::load(&pgdp->pgd, sync::relaxed)}; }
inline void set_pgd(pgd_t* pgdp, pgd_t v) { pgtable_detail::entry_set_atomic(&pgdp->pgd, v.pgd); }
inline void pgd_clear(pgd_t* pgdp) { pgtable_detail::entry_set_atomic(&pgdp->pgd, pteval_t{0}); }

// ---- walking: the next level from a loaded copy of the parent entry ------------------
// Lockless walkers must use these with the value they loaded, never re-read the parent
// (pud_offset_lockless / pmd_offset_lockless in include/linux/pgtable.h).
// The lockless walkers' step down: the table named by the entry value just loaded. The
// entry's load and the loads of the table it names are ordered by an address dependency
// (sync::address_dependency; LKMM's addr), which pairs with the smp_wmb of pmd_populate /
// pud_populate (the table's contents before the entry that names it).
template <class T>
inline T* lockless_table(unsigned long pfn, unsigned long index) {
  T* table = reinterpret_cast<T*>(pfn_to_virt(pfn));
  sync::address_dependency(table, PAGE_SIZE);
  return table + index;
}
inline pud_t* pud_offset_lockless(pgd_t pgd, unsigned long addr) {
  return lockless_table<pud_t>(pgd_pfn(pgd), pud_index(addr));
}
inline pmd_t* pmd_offset_lockless(pud_t pud, unsigned long addr) {
  return lockless_table<pmd_t>(pud_pfn(pud), pmd_index(addr));
}
inline pte_t* pte_offset_lockless(pmd_t pmd, unsigned long addr) {
  return lockless_table<pte_t>(pmd_pfn(pmd), pte_index(addr));
}
inline pgd_t* pgd_offset_pgd(pgd_t* pgd, unsigned long addr) { return pgd + pgd_index(addr); }
// Locked walkers (mmap_lock held) may read the parent in place.
inline pud_t* pud_offset(pgd_t* pgdp, unsigned long addr) { return pud_offset_lockless(pgdp_get(pgdp), addr); }
inline pmd_t* pmd_offset(pud_t* pudp, unsigned long addr) { return pmd_offset_lockless(pudp_get(pudp), addr); }

// The struct page of the table that holds an entry.
inline page* virt_to_table_page(const void* entry) { return pfn_to_page(virt_to_pfn(entry)); }

GUPFAST_NS_END
