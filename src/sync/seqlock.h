// Sequence counters (include/linux/seqlock.h), built on the seam's atomics.
//
// Writers (serialized by a lock the caller holds) make the count odd around a change;
// readers sample it, do their work, and retry/discard if it changed. Used for
// mm->write_protect_seq (fork vs GUP-fast pinning) and the seqcount table strategy.
#pragma once
#include "sync/sync.h"

GUPFAST_NS_BEGIN

struct seqcount_t {
  sync::atomic<unsigned> sequence{0};
};

// raw_read_seqcount(): READ_ONCE + smp_rmb; may return an odd value (writer active).
inline unsigned raw_read_seqcount(const seqcount_t* s) {
  unsigned seq = s->sequence.load(sync::relaxed);
  sync::smp_rmb();
  return seq;
}
// read_seqcount_retry(): did a writer run since `start`?
inline bool read_seqcount_retry(const seqcount_t* s, unsigned start) {
  sync::smp_rmb();
  return s->sequence.load(sync::relaxed) != start;
}
// raw_write_seqcount_begin/end(): Context: the writer's own lock is held.
inline void raw_write_seqcount_begin(seqcount_t* s) {
  s->sequence.store(s->sequence.load(sync::relaxed) + 1, sync::relaxed);
  sync::smp_wmb();
}
inline void raw_write_seqcount_end(seqcount_t* s) {
  sync::smp_wmb();
  s->sequence.store(s->sequence.load(sync::relaxed) + 1, sync::relaxed);
}
inline bool seqcount_is_odd(const seqcount_t* s) { return s->sequence.load(sync::relaxed) & 1; }

GUPFAST_NS_END
