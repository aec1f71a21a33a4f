// Instrumented operations (check/ops.h): each does what a process or a device does and
// tells the oracle what it needs to judge the run.
#include "check/ops.h"

#include <cerrno>

#include "check/oracle.h"
#include "machine/counters.h"
#include "mm/khugepaged.h"
#include "mm/mempolicy.h"
#include "mm/migrate.h"
#include "mm/split.h"
#include "mm/vmscan.h"

GUPFAST_NS_BEGIN
namespace check {

const char* to_string(gup_call c) {
  switch (c) {
    case gup_call::pin_fast: return "pin_fast";
    case gup_call::get_fast: return "get_fast";
    case gup_call::pin: return "pin";
    case gup_call::get: return "get";
  }
  return "?";
}

long op_gup(gup_call how, mm_struct* mm, unsigned long start, long npages, unsigned gup_flags, held_pages* out) {
  if (npages <= 0) return -EINVAL;
  std::vector<page*> pages(npages);
  bool pin = how == gup_call::pin_fast || how == gup_call::pin;
  // The call's window: every entry write it may have observed lies in [t0, t1].
  uint64_t t0 = oracle_op_begin();
  long n;
  switch (how) {
    case gup_call::pin_fast: n = pin_user_pages_fast(mm, start, npages, gup_flags, pages.data()); break;
    case gup_call::get_fast: n = get_user_pages_fast(mm, start, npages, gup_flags, pages.data()); break;
    default:
      mm->mmap_lock.down_read();
      n = pin ? pin_user_pages(mm, start, npages, gup_flags, pages.data())
              : get_user_pages(mm, start, npages, gup_flags, pages.data());
      mm->mmap_lock.up_read();
  }
  uint64_t t1 = oracle_now();
  if (n > 0) {
    std::vector<uint64_t> epochs(n);
    oracle_gup_returned(mm, start, pages.data(), n, t0, t1, pin, epochs.data());
    if (out->pages.empty()) {
      out->mm = mm;
      out->start = start;
      out->pin = pin;
      out->since = t0;
    }
    out->pages.insert(out->pages.end(), pages.begin(), pages.begin() + n);
    out->epochs.insert(out->epochs.end(), epochs.begin(), epochs.end());
  }
  oracle_op_end();
  return n;
}

void op_release(held_pages* h, bool make_dirty) {
  for (page* p : h->pages) {
    oracle_gup_release(p, h->pin, h->mm);
    if (h->pin) {
      // ops.h says when to mark them dirty; gup_put_folio tells the oracle.
      unpin_user_pages_dirty_lock(&p, 1, make_dirty && h->dma_written);
    } else {
      folio* f = page_folio(p);
      if (make_dirty && h->dma_written && !folio_test_dirty(f)) {
        // bio_release_pages(bio, true) after a read: set_page_dirty_lock, then put.
        folio_lock(f);
        folio_set_dirty(f);
        folio_unlock(f);
      }
      page_table_check_gup_put(f, 1);  // put_page does not: a plain reference
      count_event(CNT_gup_puts);       // a FOLL_GET reference given back (stress: ops.puts)
      put_page(p);
    }
  }
  h->pages.clear();
  h->epochs.clear();
  h->dma_written = false;
}

void op_dma_write(held_pages* h, unsigned slot, uint64_t value) {
  unsigned off = (slot % DMA_SLOTS) * 8;
  h->dma_written = true;
  for (size_t i = 0; i < h->pages.size(); i++) {
    page* p = h->pages[i];
    unsigned long addr = h->start + i * PAGE_SIZE;
    oracle_dma_write(p, h->epochs[i], addr);
    frame_write_word(page_to_pfn(p), off, value);
    if (h->mm) oracle_expect_word(h->mm, addr + off, value, h->since);
  }
}

int op_user_read(mm_struct* mm, unsigned long addr, uint8_t* val) { return mm_load(mm, addr, val); }

int op_user_write(mm_struct* mm, unsigned long addr, uint8_t val) {
  int rc = mm_store(mm, addr, val);
  oracle_process_changed(mm, addr, 1);
  return rc;
}

int op_read_word(mm_struct* mm, unsigned long addr, uint64_t* val) {
  addr &= ~7ul;
  uint64_t v = 0;
  for (unsigned i = 0; i < 8; i++) {
    uint8_t b;
    int rc = mm_load(mm, addr + i, &b);
    if (rc) return rc;
    v |= uint64_t(b) << (8 * i);
  }
  *val = v;
  oracle_check_word(mm, addr, v);
  return 0;
}

int op_readback(mm_struct* mm) {
  int rc = 0;
  for (unsigned long addr : oracle_expected_words(mm)) {
    uint64_t v;
    int r = op_read_word(mm, addr, &v);
    if (r && !rc) rc = r;
  }
  return rc;
}

long op_mmap(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags) {
  if (addr) oracle_process_change_begin(mm, addr, len);
  long rc = vm_mmap(mm, addr, len, prot, flags);
  if (addr)
    oracle_process_change_end(mm, addr, len);
  else if (rc >= 0)
    oracle_process_changed(mm, rc, len);
  return rc;
}

int op_munmap(mm_struct* mm, unsigned long addr, unsigned long len) {
  oracle_process_change_begin(mm, addr, len);
  int rc = vm_munmap(mm, addr, len);
  oracle_process_change_end(mm, addr, len);
  return rc;
}

// mprotect keeps the data: expectations on the range stand.
int op_mprotect(mm_struct* mm, unsigned long addr, unsigned long len, int prot) {
  return do_mprotect(mm, addr, len, prot);
}

int op_mbind(mm_struct* mm, unsigned long addr, unsigned long len, int nid) {
  return do_mbind(mm, addr, len, MPOL_PREFERRED_, nid);
}

int op_madvise(mm_struct* mm, unsigned long addr, unsigned long len, int advice) {
  // MADV_FREE changes nothing now, but lets reclaim drop the data later: the process gave
  // up its claim on what the range holds.
  bool zaps = advice == MADV_DONTNEED_ || advice == MADV_FREE_;
  if (zaps) oracle_process_change_begin(mm, addr, len);
  int rc = do_madvise(mm, addr, len, advice);
  if (zaps) oracle_process_change_end(mm, addr, len);
  return rc;
}

// fork is not a change of the parent's memory: a pinned page must keep receiving the
// device's writes in the parent (the write_protect_seq race).
mm_struct* op_fork(mm_struct* mm, int* err) {
  mm_struct* child = dup_mm(mm, err);
  if (child) oracle_register_mm(child);
  return child;
}

mm_struct* op_mm_alloc() {
  mm_struct* mm = mm_alloc();
  if (mm) oracle_register_mm(mm);
  return mm;
}

void op_mm_put(mm_struct* mm) {
  oracle_unregister_mm(mm);
  mmput(mm);
}

long op_reclaim(mm_struct* mm, unsigned long addr, unsigned long len) {
  reclaim_stats st;
  return reclaim_range(mm, addr, len, &st);
}

long op_drain() {
  reclaim_stats st;
  long total = 0;
  for (int pass = 0; pass < 4; pass++) {
    long n = reclaim_lru(~0ul, &st);
    if (n <= 0) break;
    total += n;
  }
  return total;
}

long op_migrate(mm_struct* mm, unsigned long addr, unsigned long len) {
  migrate_stats st;
  return migrate_range(mm, addr, len, &st);
}

int op_split(mm_struct* mm, unsigned long addr) { return split_folio_at(mm, addr); }

int op_collapse(mm_struct* mm, unsigned long addr) {
  collapse_stats st;
  return collapse_pmd_range(mm, addr, &st);
}

}  // namespace check
GUPFAST_NS_END
