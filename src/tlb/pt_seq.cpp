#include "tlb/pt_seq.h"

GUPFAST_NS_BEGIN

namespace {

constexpr uint64_t WRITER = uint64_t{1} << 32;

// The table's counter lives in its struct page's `index` word, unused for tables, and is
// never reset while the table is type-stable: a recycled table keeps counting.
sync::atomic<unsigned long>& table_seq(page* table) { return table->index; }

sync::atomic<unsigned long>& counter_for(mm_struct* mm, page* table) {
  if (g_cfg.scope == seq_scope::table && table) return table_seq(table);
  return reinterpret_cast<sync::atomic<unsigned long>&>(mm->pt_seq);
}

}  // namespace

static_assert(sizeof(sync::atomic<unsigned long>) == sizeof(sync::atomic<uint64_t>));

void pt_seq_write_begin(mm_struct* mm, page* table) {
  // One writer more and a new generation, before any change is visible (the smp_wmb of
  // raw_write_seqcount_begin).
  counter_for(mm, table).fetch_add(WRITER + 1, sync::seq_cst);
  sync::smp_wmb();
}

void pt_seq_write_end(mm_struct* mm, page* table) {
  sync::smp_wmb();  // our changes before "one writer less"
  counter_for(mm, table).fetch_add(1 - WRITER, sync::seq_cst);
}

bool pt_seq_reader::begin(mm_struct* mm) {
  mm_ = mm;
  nr_ = 0;
  mm_seq_ = mm->pt_seq.load(sync::acquire);
  return !pt_seq_writer_active(mm_seq_);
}

bool pt_seq_reader::enter_table(page* table) {
  if (g_cfg.scope != seq_scope::table) return true;
  if (nr_ == MAX_TABLES) return false;
  uint64_t s = table_seq(table).load(sync::acquire);
  if (pt_seq_writer_active(s)) return false;
  tables_[nr_] = table;
  seqs_[nr_++] = s;
  return true;
}

bool pt_seq_reader::validate() const {
  sync::smp_rmb();  // our loads of entries and our grabs before the re-reads
  if (mm_->pt_seq.load(sync::relaxed) != mm_seq_) return false;
  for (int i = 0; i < nr_; i++)
    if (table_seq(tables_[i]).load(sync::relaxed) != seqs_[i]) return false;
  return true;
}

GUPFAST_NS_END
