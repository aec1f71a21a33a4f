// The oracle (check/oracle.h): its hooks into the machine and the verdicts they give.
#include "check/oracle.h"

#include <cerrno>

#include <fmt/format.h>

#include "check/oracle_state.h"
#include "pgtable/page_table_check.h"
#include "mm/mm.h"

GUPFAST_NS_BEGIN
namespace check {

using namespace detail;

namespace detail {
GUPFAST_WORLD oracle_state* g_oracle = nullptr;
}

namespace {

constexpr size_t LOG_SIZE = 4096;

// ---- allocator hooks --------------------------------------------------------------------
void on_frame_allocated(void* ctx, unsigned long pfn, int order) {
  auto* o = static_cast<oracle_state*>(ctx);
  std::lock_guard g(o->lock);
  uint64_t t = tick(o);
  for (unsigned long i = 0; i < (1ul << order); i++) {
    frame_info* f = o->frame(pfn + i);
    if (!f) break;
    f->epoch.fetch_add(1, std::memory_order_relaxed);
    f->alloc_tick.store(t, std::memory_order_relaxed);
    f->allocated.store(true, std::memory_order_release);
  }
  log_event(o, "alloc", 0, 0, pfn, ~0ul, order);
}

// Races with GUP's reference hooks on other CPUs: a reference taken before this free is
// seen here (the counter is updated right after the atomic that took it).
void on_frame_freed(void* ctx, unsigned long pfn, int order) {
  auto* o = static_cast<oracle_state*>(ctx);
  std::optional<violation> v;
  {
    std::lock_guard g(o->lock);
    uint64_t t = tick(o);
    for (unsigned long i = 0; i < (1ul << order); i++) {
      frame_info* f = o->frame(pfn + i);
      if (!f) break;
      int held = f->held.load(std::memory_order_relaxed), refs = f->gup_refs.load(std::memory_order_relaxed);
      if ((held > 0 || refs > 0) && !v)
        v = make_violation(o, violation_kind::pinned_freed,
                           fmt::format("frame {:#x} freed while {} {} outstanding", pfn + i,
                                       held > 0 ? held : refs,
                                       held > 0 ? "pin(s)/reference(s) held by GUP callers" : "GUP reference(s)"),
                           0, 0, pfn + i, ~0ul);
      f->allocated.store(false, std::memory_order_release);
      f->free_tick.store(t, std::memory_order_relaxed);
    }
    // A freed table is no longer followed (its parent entry was cleared before). It must be
    // empty: an entry left in it is a mapping nobody can reach or tear down any more (its
    // page's mapcount and the mm's RSS leak; the kernel's "Bad rss-counter state", and a
    // crash when the frame is reused). The PT-reclaim race of f39edcf6349a ends here.
    for (unsigned long i = 0; i < (1ul << order); i++) {
      if (o->tables.erase(pfn + i) && !v) {
        const uint64_t* e = reinterpret_cast<const uint64_t*>(pfn_to_virt(pfn + i));
        int live = 0;
        for (unsigned long k = 0; k < static_cast<unsigned long>(PTRS_PER_PTE); k++) live += peek(e + k) != 0;
        if (live)
          v = make_violation(o, violation_kind::refcount,
                             fmt::format("page table {:#x} freed with {} entr{} still set: what they map leaks "
                                         "(mapcount, RSS)",
                                         pfn + i, live, live == 1 ? "y" : "ies"),
                             0, 0, ~0ul, pfn + i);
      }
    }
    log_event(o, "free", 0, 0, pfn, ~0ul, order);
  }
  if (v) deliver(o, std::move(*v));
}

void on_bad_page(void* ctx, unsigned long pfn, const char* reason) {
  auto* o = static_cast<oracle_state*>(ctx);
  violation v;
  {
    std::lock_guard g(o->lock);
    std::string what = pfn == ~0ul ? std::string("bad page") : fmt::format("bad page {:#x}", pfn);
    v = make_violation(o, violation_kind::refcount, fmt::format("{}: {}", what, reason), 0, 0, pfn, ~0ul);
  }
  deliver(o, std::move(v));
}

// ---- page-table hooks ---------------------------------------------------------------------
// Pairs with entry_write_end: the write's stores happen between the two ticks.
void entry_write_begin(void* ctx, const pteval_t* p) {
  auto* o = static_cast<oracle_state*>(ctx);
  std::lock_guard g(o->lock);
  uint64_t old = peek(p);
  o->pending[{p, cpu_slot()}] = {old, tick(o)};
}

void entry_write_end(void* ctx, const pteval_t* p) {
  auto* o = static_cast<oracle_state*>(ctx);
  std::lock_guard g(o->lock);
  uint64_t te = tick(o);
  uint64_t now = peek(p);
  auto it = o->pending.find({p, cpu_slot()});
  if (it == o->pending.end()) return;
  auto [old, tb] = it->second;
  o->pending.erase(it);
  unsigned long tpfn = virt_to_pfn(p);
  auto t = o->tables.find(tpfn);
  if (t == o->tables.end() || !t->second.attached) return;
  unsigned long idx = (reinterpret_cast<uintptr_t>(p) & (PAGE_SIZE - 1)) / sizeof(pteval_t);
  table_info ti = t->second;
  apply_entry_change(o, ti.mm_id, ti.level, ti.base + (idx << pgtable_level_shift(ti.level)), old, now, tb, te);
}

void walk_begin(void* ctx) {
  auto* o = static_cast<oracle_state*>(ctx);
  uint64_t now = o->clock.load(std::memory_order_seq_cst);
  o->walk_start[cpu_slot()].store(now, std::memory_order_relaxed);
  o->walk_last[cpu_slot()].store(now, std::memory_order_relaxed);
}

// table-uaf: the walker reads a table whose incarnation was freed after the walker took the
// pointer to it from the parent entry (or at the start of its protected section: irqs off,
// rcu_read_lock, the hardware access), or that is free now. The pointer was read before
// walk_last, so a table allocated before walk_last is the incarnation the parent entry
// named; one allocated after it means the one named was freed and the frame reused under
// the walker. (A table freed and reallocated before the parent read is a new, legal one.)
// Under the seqcount strategy tables go to a type-stable cache, not the allocator: a
// recycled table is not a free frame (the walker's validation discards what it read).
// torn-entry: [PAE-READ] ptep_get_lockless() returns a value that was stored in the entry
// (the kernel: "pte_low will not have the present bit set *unless* it is 'l'"), so a
// present PTE a lockless walker reads names a frame mapped at that address at some point.
// One whose frame never was, built from the halves of frames that were, is a torn read:
// GUP-fast would take a reference on whatever that frame is, or on a struct page that does
// not exist (a frame number in a hole). The same holds for a PMD leaf read by
// pmdp_get_lockless() (its first subpage's history); a torn PMD that points to a table is
// not judged here (the walk below it reads whatever that frame holds). Entry writes still
// between their hooks are left alone (their value may not be in the history yet).
void check_torn_read(oracle_state* o, const void* entry, unsigned long tpfn, uint64_t val) {
  if (!pte_present({val})) return;
  std::optional<violation> v;
  {
    std::lock_guard g(o->lock);
    auto t = o->tables.find(tpfn);
    if (t == o->tables.end() || !t->second.attached) return;
    int level = t->second.level;
    if (level != 1 && !(level == 2 && pmd_leaf({val}))) return;
    if (write_in_flight(o, entry, OPEN)) return;
    unsigned long idx = (reinterpret_cast<uintptr_t>(entry) & (PAGE_SIZE - 1)) / sizeof(pteval_t);
    unsigned long addr = t->second.base + (idx << pgtable_level_shift(level));
    unsigned long pfn = level == 1 ? pte_pfn({val}) : pmd_pfn({val});
    uint32_t mm_id = t->second.mm_id;
    if (!is_torn_mix(o, mm_id, addr, pfn)) return;
    v = make_violation(o, violation_kind::torn_entry,
                       fmt::format("a lockless walker read {:#018x} from the {} of {:#x}: frame {:#x}{} was never "
                                   "mapped there, the value mixes the halves of two stores (mappings there: {})",
                                   val, level == 1 ? "PTE" : "PMD (a huge leaf)", shown(o, addr), pfn,
                                   pfn_valid(pfn) ? "" : " (no RAM there: no struct page)",
                                   history_string(o, mm_id, addr)),
                       mm_id, addr, pfn, tpfn);
  }
  deliver(o, std::move(*v));
}

void walk_read(void* ctx, const void* entry, uint64_t val) {
  auto* o = static_cast<oracle_state*>(ctx);
  unsigned long tpfn = virt_to_pfn(entry);
  frame_info* fp = o->frame(tpfn);
  if (!fp) return;
  frame_info& f = *fp;
  int cpu = cpu_slot();
  uint64_t since = o->walk_last[cpu].load(std::memory_order_relaxed);
  o->walk_last[cpu].store(o->clock.load(std::memory_order_seq_cst), std::memory_order_relaxed);
  bool freed = !f.allocated.load(std::memory_order_acquire) || f.alloc_tick.load(std::memory_order_relaxed) > since;
  if (!freed) {
    if (pae_mode()) check_torn_read(o, entry, tpfn, val);
    return;
  }
  violation v;
  {
    std::lock_guard g(o->lock);
    v = make_violation(o, violation_kind::table_uaf,
                       fmt::format("a lockless walker read page-table page {:#x} (entry {:#x}) after it was freed "
                                   "(free at tick {}, reused at tick {}; the walker took the pointer by tick {})",
                                   tpfn, peek(entry), f.free_tick.load(), f.alloc_tick.load(), since),
                       0, 0, ~0ul, tpfn);
  }
  deliver(o, std::move(v));
}

// The entry that maps addr in mm now (a lockless peek for a report), 0 if none.
uint64_t current_entry(mm_struct* mm, unsigned long addr) {
  pgd_t pgd = pgdp_get(pgd_offset_pgd(mm->pgd, addr));
  if (!pgd_present(pgd)) return 0;
  pud_t pud = pudp_get(pud_offset_lockless(pgd, addr));
  if (!pud_present(pud)) return 0;
  pmd_t* pmdp = pmd_offset_lockless(pud, addr);
  pmd_t pmd = pmdp_get_lockless(pmdp);
  if (!pmd_present(pmd) || pmd_leaf(pmd)) return pmd.pmd;
  return ptep_get_lockless(pte_offset_lockless(pmd, addr)).pte;
}

// frame-uaf for the process's own access: the frame must be the incarnation that was
// mapped at addr (a stale TLB entry for a page not yet freed is legal).
// Is the folio of pfn anonymous? Read without the seam (oracle_state.h's peek).
bool frame_is_anon(unsigned long pfn) {
  const page* p = pfn_to_page(pfn);
  unsigned long head = peek(&p->compound_head);
  if (head & 1) p = reinterpret_cast<const page*>(head - 1);
  return peek(&p->mapping) & PAGE_MAPPING_ANON;
}

// cow-leak: a store by one mm reached a private anonymous page that another mm holds by GUP
// (a reference it took through its own mapping). Copy-on-write keeps processes apart: the
// holder's reference must keep showing what it took, so a write by anyone else must go to a
// copy (do_wp_page copies a page with references beyond its mappings). Shared memory is
// shmem here, never anonymous: its writes are meant to be seen. Context: o->lock held.
std::optional<violation> check_cow_leak(oracle_state* o, uint32_t mm_id, unsigned long addr, unsigned long pfn) {
  if (!frame_is_anon(pfn)) return std::nullopt;
  auto [b, e] = o->held_by.equal_range(pfn);
  for (auto it = b; it != e; ++it) {
    auto [holder, at] = it->second;
    if (holder == mm_id) continue;
    return make_violation(o, violation_kind::cow_leak,
                          fmt::format("a user store at {:#x} (mm {}) reached frame {:#x}, which mm {} holds by GUP (taken "
                                      "at {:#x}): the other process sees this write (copy-on-write broke the wrong way)",
                                      shown(o, addr), mm_id, pfn, holder, shown(o, at)),
                          mm_id, addr, pfn, ~0ul);
  }
  return std::nullopt;
}

void user_access(void* ctx, mm_struct* mm, unsigned long addr, unsigned long pfn, bool write) {
  auto* o = static_cast<oracle_state*>(ctx);
  if (!pfn_valid(pfn) || is_zero_pfn(pfn)) return;
  std::optional<violation> v;
  {
    std::lock_guard g(o->lock);
    auto id = mm_id_of(o, mm);
    if (!id) return;
    frame_info& f = *o->frame(pfn);
    uint64_t epoch = f.epoch.load(std::memory_order_relaxed);
    bool live = f.allocated.load(std::memory_order_relaxed);
    if (!live || (!was_mapped(o, *id, addr & PAGE_MASK, pfn, epoch, 0, OPEN) && !pending_maps(o, mm, addr, pfn, OPEN)))
      v = make_violation(o, violation_kind::frame_uaf,
                         fmt::format("a user {} at {:#x} reached frame {:#x}, which is {} (mappings there: {}; "
                                     "the entry there now: {:#x})",
                                     write ? "store" : "load", shown(o, addr), pfn,
                                     live ? "not the page mapped there (recycled)" : "free",
                                     history_string(o, *id, addr & PAGE_MASK), current_entry(mm, addr)),
                         *id, addr, pfn, ~0ul);
    else if (write && f.held.load(std::memory_order_relaxed) > 0)
      v = check_cow_leak(o, *id, addr, pfn);
  }
  if (v) deliver(o, std::move(*v));
}

void gup_ref_get(void* ctx, folio* f, int refs) {
  auto* o = static_cast<oracle_state*>(ctx);
  if (frame_info* fi = o->frame(folio_pfn(f))) fi->gup_refs.fetch_add(refs, std::memory_order_relaxed);
}

void gup_ref_put(void* ctx, folio* f, int refs) {
  auto* o = static_cast<oracle_state*>(ctx);
  if (frame_info* fi = o->frame(folio_pfn(f))) fi->gup_refs.fetch_sub(refs, std::memory_order_relaxed);
}

}  // namespace

// ---- lifetime -------------------------------------------------------------------------------
int oracle_start(const oracle_options& opts) {
  if (g_oracle) return -EBUSY;
  if (!physmem_active()) return -EINVAL;
  auto* o = new oracle_state;
  o->opts = opts;
  for (int nid = 0; nid < nr_online_nodes; nid++) {
    o->node_base[nid] = o->nr_frames;
    o->nr_frames += node_data[nid].node_present_pages;
  }
  o->frames.reset(new frame_info[o->nr_frames]);
  g_oracle = o;
  physmem_set_hooks({on_frame_freed, on_frame_allocated, o, on_bad_page});
  page_table_check_ops ops;
  ops.entry_write_begin = entry_write_begin;
  ops.entry_write_end = entry_write_end;
  ops.walk_begin = walk_begin;
  ops.walk_read = walk_read;
  ops.user_access = user_access;
  ops.gup_ref_get = gup_ref_get;
  ops.gup_ref_put = gup_ref_put;
  ops.ctx = o;
  page_table_check_install(ops);
  return 0;
}

void oracle_stop() {
  if (!g_oracle) return;
#if !defined(GUPFAST_SYNC_MODEL)
  // Pending call_rcu callbacks free tables (the rcu strategy) from liburcu's thread: let
  // them report to this oracle before it goes, not to a freed one.
  sync::rcu_barrier();
#endif
  page_table_check_install({});
  physmem_set_hooks({});
  delete g_oracle;
  g_oracle = nullptr;
}

bool oracle_active() { return g_oracle != nullptr; }

uint64_t oracle_now() {
  if (!g_oracle) return 0;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t t = g_oracle->clock.load(std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return t;
}

void oracle_register_mm(mm_struct* mm) {
  oracle_state* o = g_oracle;
  if (!o || !mm) return;
  std::lock_guard g(o->lock);
  if (o->mm_ids.count(mm)) return;
  uint32_t id = uint32_t(o->mms.size()) + 1;
  o->mms.resize(id + 1);
  o->mms[id] = mm;
  o->mm_ids[mm] = id;
  uint64_t t = tick(o);
  attach_table(o, virt_to_pfn(mm->pgd), 4, 0, id, t, t);
}

void oracle_unregister_mm(mm_struct* mm) {
  oracle_state* o = g_oracle;
  if (!o) return;
  std::lock_guard g(o->lock);
  auto it = o->mm_ids.find(mm);
  if (it == o->mm_ids.end()) return;
  uint64_t t = tick(o);
  detach_table(o, virt_to_pfn(mm->pgd), t, t);
  o->mms[it->second] = nullptr;
  o->mm_ids.erase(it);
}

// ---- results --------------------------------------------------------------------------------
uint64_t oracle_violation_count() {
  if (!g_oracle) return 0;
  uint64_t n = 0;
  for (auto& c : g_oracle->counts) n += c.load(std::memory_order_relaxed);
  return n;
}

uint64_t oracle_violation_count(violation_kind k) {
  return g_oracle ? g_oracle->counts[int(k)].load(std::memory_order_relaxed) : 0;
}

std::vector<violation> oracle_violations() {
  if (!g_oracle) return {};
  std::lock_guard g(g_oracle->lock);
  return g_oracle->kept;
}

void oracle_report(violation v) {
  if (!g_oracle) return;
  {
    std::lock_guard g(g_oracle->lock);
    violation full = make_violation(g_oracle, v.kind, v.message, 0, v.addr, v.pfn, v.table_pfn);
    full.cpu = v.cpu >= 0 ? v.cpu : full.cpu;
    v = std::move(full);
  }
  deliver(g_oracle, std::move(v));
}

namespace detail {

void log_event(oracle_state* o, const char* what, uint32_t mm_id, unsigned long addr, unsigned long pfn,
               unsigned long table, uint64_t a, uint64_t b) {
  if (o->log.size() == LOG_SIZE) o->log.pop_front();
  o->log.push_back({o->clock.load(std::memory_order_relaxed), sync::smp_processor_id(), what, mm_id, addr, pfn, table, a, b});
}

std::optional<uint32_t> mm_id_of(oracle_state* o, const mm_struct* mm) {
  auto it = o->mm_ids.find(mm);
  if (it == o->mm_ids.end()) return std::nullopt;
  return it->second;
}

violation make_violation(oracle_state* o, violation_kind k, std::string msg, uint32_t mm_id, unsigned long addr,
                         unsigned long pfn, unsigned long table) {
  violation v;
  v.kind = k;
  v.message = std::move(msg);
  v.addr = addr;
  v.pfn = pfn;
  v.folio_pfn = pfn_valid(pfn) ? folio_pfn(page_folio(pfn_to_page(pfn))) : ~0ul;
  v.table_pfn = table;
  v.cpu = sync::smp_processor_id();
  // The last events that touched the same page, frame or table, oldest first.
  std::vector<std::string> ev;
  for (auto it = o->log.rbegin(); it != o->log.rend() && ev.size() < 8; ++it) {
    bool same_page = addr && it->addr && (it->addr & PAGE_MASK) == (addr & PAGE_MASK) && (!mm_id || it->mm_id == mm_id);
    bool same_frame = pfn != ~0ul && it->pfn != ~0ul &&
                      (it->pfn == pfn || (it->pfn <= pfn && pfn < it->pfn + (1ul << std::min<uint64_t>(it->a, MAX_PAGE_ORDER)) &&
                                          (!strcmp(it->what, "alloc") || !strcmp(it->what, "free"))));
    bool same_table = table != ~0ul && it->table == table;
    if (!same_page && !same_frame && !same_table) continue;
    ev.push_back(fmt::format("tick {} cpu {} {} mm{} addr {:#x} pfn {} table {} {:#x} -> {:#x}", it->tick, it->cpu,
                             it->what, it->mm_id, shown(o, it->addr), it->pfn == ~0ul ? std::string("-") : fmt::format("{:#x}", it->pfn),
                             it->table == ~0ul ? std::string("-") : fmt::format("{:#x}", it->table), it->a, it->b));
  }
  v.events.assign(ev.rbegin(), ev.rend());
  return v;
}

void deliver(oracle_state* o, violation v) {
  o->counts[int(v.kind)].fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard g(o->lock);
    if (o->kept.size() < o->opts.max_kept) o->kept.push_back(v);
  }
  if (o->opts.on_violation) o->opts.on_violation(v);
}

}  // namespace detail

}  // namespace check
GUPFAST_NS_END
