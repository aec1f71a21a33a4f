// Checking hooks (kernel: CONFIG_PAGE_TABLE_CHECK, mm/page_table_check.c, which watches
// every set_pte_at/ptep_clear to catch a page mapped where it must not be). Ours are a
// superset the oracle (src/check/oracle.h) needs to judge an execution:
//
//   entry_write_begin/end  around every page-table entry write (set_pte, pte_clear,
//                          get_and_clear, cmpxchg, set_pmd, pud/pgd writes): the oracle
//                          keeps the history of translations with a logical clock
//   walk_begin / walk_read a lockless walker (GUP-fast, the hardware walk) entered its
//                          protected section / read an entry of a table (and the value
//                          it got): table-uaf, and torn-entry for a PAE value whose
//                          halves come from two different stores
//   user_access            a process load/store reached a frame through a translation:
//                          frame-uaf
//   gup_ref_get/put        GUP took / is about to drop references on a folio: a frame
//                          freed while GUP holds one is pinned-freed
//
// Off (benchmarks, the default): one load of a plain flag and a predicted branch per hook.
// The flag and the table are written only while no CPU runs (oracle start/stop).
#pragma once
#include "pgtable/pgtable_types.h"

GUPFAST_NS_BEGIN

struct mm_struct;
struct folio;

struct page_table_check_ops {
  void (*entry_write_begin)(void* ctx, const pteval_t* p) = nullptr;
  void (*entry_write_end)(void* ctx, const pteval_t* p) = nullptr;
  void (*walk_begin)(void* ctx) = nullptr;
  void (*walk_read)(void* ctx, const void* entry, uint64_t val) = nullptr;
  void (*user_access)(void* ctx, mm_struct* mm, unsigned long addr, unsigned long pfn, bool write) = nullptr;
  void (*gup_ref_get)(void* ctx, folio* f, int refs) = nullptr;
  void (*gup_ref_put)(void* ctx, folio* f, int refs) = nullptr;
  void* ctx = nullptr;
};

extern bool g_page_table_check;  // hooks installed
extern page_table_check_ops g_page_table_check_ops;

// Install (or with {} remove) the hooks. Context: no CPU is running algorithm code.
void page_table_check_install(const page_table_check_ops& ops);

inline void page_table_check_entry_begin(const pteval_t* p) {
  if (g_page_table_check) [[unlikely]]
    g_page_table_check_ops.entry_write_begin(g_page_table_check_ops.ctx, p);
}
inline void page_table_check_entry_end(const pteval_t* p) {
  if (g_page_table_check) [[unlikely]]
    g_page_table_check_ops.entry_write_end(g_page_table_check_ops.ctx, p);
}
inline void page_table_check_walk_begin() {
  if (g_page_table_check) [[unlikely]]
    g_page_table_check_ops.walk_begin(g_page_table_check_ops.ctx);
}
inline void page_table_check_walk_read(const void* entry, uint64_t val) {
  if (g_page_table_check) [[unlikely]]
    g_page_table_check_ops.walk_read(g_page_table_check_ops.ctx, entry, val);
}
inline void page_table_check_user_access(mm_struct* mm, unsigned long addr, unsigned long pfn, bool write) {
  if (g_page_table_check) [[unlikely]]
    g_page_table_check_ops.user_access(g_page_table_check_ops.ctx, mm, addr, pfn, write);
}
inline void page_table_check_gup_get(folio* f, int refs) {
  if (g_page_table_check) [[unlikely]]
    g_page_table_check_ops.gup_ref_get(g_page_table_check_ops.ctx, f, refs);
}
inline void page_table_check_gup_put(folio* f, int refs) {
  if (g_page_table_check) [[unlikely]]
    g_page_table_check_ops.gup_ref_put(g_page_table_check_ops.ctx, f, refs);
}

// Brackets one entry write (all of its stores) for the oracle.
class page_table_check_write {
 public:
  explicit page_table_check_write(const pteval_t* p) : p_(p) { page_table_check_entry_begin(p_); }
  ~page_table_check_write() { page_table_check_entry_end(p_); }
  page_table_check_write(const page_table_check_write&) = delete;
  page_table_check_write& operator=(const page_table_check_write&) = delete;

 private:
  const pteval_t* p_;
};

GUPFAST_NS_END
