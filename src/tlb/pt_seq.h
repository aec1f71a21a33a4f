// The seqcount strategy's sequence counters (Linus's proposal in the seed thread: "use a
// sequence counter instead" of relying on blocked IPIs).
//
// Every change that frees a page table, or removes or replaces what an entry maps, runs
// inside a write section; GUP-fast samples the counter(s) before it looks, and validates
// them after it has grabbed and rechecked; any change means it drops what it took and
// falls back. Tables are type-stable (tlb/table_free.cpp), so a stale table pointer still
// reads page-table entries, never freed memory of another kind.
//
// Writers run concurrently (COW faults and MADV_DONTNEED hold mmap_lock only for read),
// so a counter is a generation (low 32 bits) plus the number of writers inside (high
// 32): a reader that sampled no writer inside and finds the word unchanged saw no change.
//
// Scope (machine_config.seq_scope, docs/strategies.md has the measurements):
//   mm     one counter per mm: one load to sample, one to validate; any change anywhere
//          in the mm makes every concurrent walker retry
//   table  one counter per PMD and PTE table (in its struct page) that counts changes to
//          that table's entries (unlinking a PTE table is a change to its PMD table), and
//          the mm counter for the levels above; a walker samples each table's counter
//          before it reads an entry of it, and validates all of them at the end
#pragma once
#include "mm/mm_types.h"

GUPFAST_NS_BEGIN

inline bool pt_seq_enabled() { return g_cfg.strategy == table_strategy::seqcount; }
inline bool pt_seq_writer_active(uint64_t v) { return v >> 32; }

// [PT-SEQ-WRITE] Bracket a change to the entries of `table` (the PTE or PMD table page
// whose entries change; nullptr for the PUD and PGD levels). Only for the seqcount
// strategy; the pt_seq_write guard checks that.
void pt_seq_write_begin(mm_struct* mm, page* table);
void pt_seq_write_end(mm_struct* mm, page* table);

class pt_seq_write {
 public:
  pt_seq_write(mm_struct* mm, page* table) : mm_(mm), table_(table), on_(pt_seq_enabled()) {
    if (on_) pt_seq_write_begin(mm_, table_);
  }
  ~pt_seq_write() { end(); }
  // End the section early (e.g. before dropping the lock that serializes the change).
  void end() {
    if (on_) pt_seq_write_end(mm_, table_);
    on_ = false;
  }
  pt_seq_write(const pt_seq_write&) = delete;
  pt_seq_write& operator=(const pt_seq_write&) = delete;

 private:
  mm_struct* mm_;
  page* table_;
  bool on_;
};

// [PT-SEQ] The walker's side. Pairs with [PT-SEQ-WRITE].
class pt_seq_reader {
 public:
  // Sample the mm counter; false if a writer is inside (don't even try).
  bool begin(mm_struct* mm);
  // Before reading entries of a PMD or PTE table: sample its counter (table scope).
  // False: a writer is inside, or the walk spans more tables than we track; stop there.
  bool enter_table(page* table);
  // Everything sampled is unchanged.
  bool validate() const;

 private:
  static constexpr int MAX_TABLES = 8;
  mm_struct* mm_ = nullptr;
  uint64_t mm_seq_ = 0;
  int nr_ = 0;
  page* tables_[MAX_TABLES] = {};
  uint64_t seqs_[MAX_TABLES] = {};
};

GUPFAST_NS_END
