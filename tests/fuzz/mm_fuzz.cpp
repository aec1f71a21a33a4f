// The differential fuzz target (docs/fuzzing.md): bytes become a sequence of mm and GUP calls
// on one CPU, run on the machine and on the reference (ref_model.h); every return value,
// every byte a call reads, every byte seen through a page GUP returned, and at the end every
// byte the input wrote, must agree. A disagreement aborts with the step that showed it.
//
// The first byte picks the machine (strategy x pte mode); then each operation is an opcode
// byte and its arguments. Addresses are slots (2 MiB apart, so a THP fits) plus a page
// offset, with now and then an unaligned or out-of-range value so the error contract is
// exercised too (the reference computes those errnos from docs/errors.md's rules).
//
// Built two ways: with clang's -fsanitize=fuzzer (GUPFAST_FUZZ, `make fuzz`), and as a plain
// program (fuzz_replay.cpp) that runs the corpus under ctest in every build.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "fuzz/ref_model.h"
#include "gup/gup.h"
#include "machine/machine.h"
#include "memmap/memmap.h"
#include "mm/mm.h"

using namespace gupfast;
using namespace gupfast_fuzz;

namespace {

constexpr unsigned long SLOT_BASE = 0x40000000ul;
constexpr unsigned long SLOT_SIZE = 4ul << 20;  // 2 MiB mappings, 2 MiB gaps
constexpr int NR_SLOTS = 6;
constexpr int MAX_OPS = 64;
constexpr int MAX_HELD = 8;

struct input {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (!n) return 0;
    n--;
    return *p++;
  }
  bool more() const { return n > 0; }
};

// One GUP call's pages, on both sides. A FOLL_GET reference is compared when it is taken
// only: once a fork shares the page, either side's next write may copy away from the page
// the reference holds (COW "breaks either way" for references; pins are kept coherent:
// gup_must_unshare, and fork copies pinned pages for the child).
struct held {
  std::vector<page*> pages;
  taken ref;
  bool compare = true;
};

struct run {
  reference ref{TASK_SIZE, 0x10000ul};
  mm_struct* mm[2] = {nullptr, nullptr};  // the parent and, after a fork, the child
  space sp[2];
  std::vector<held> holds;
  std::set<unsigned> touched;  // page offsets any store or DMA wrote
  int step = 0;
  std::string what;

  [[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "mm_fuzz: step %d (%s): %s\n", step, what.c_str(), why.c_str());
    std::abort();
  }
  void expect_eq(long got, long want, const char* name) {
    if (got != want) fail(std::string(name) + ": machine " + std::to_string(got) + ", reference " + std::to_string(want));
  }
};

// An address: mostly page-aligned inside a slot; sometimes unaligned, beyond the user range,
// or near the top of the address space.
unsigned long pick_addr(input& in) {
  uint8_t k = in.byte(), off = in.byte();
  switch (k >> 5) {
    case 0: return SLOT_BASE + (k % NR_SLOTS) * SLOT_SIZE + (off % 20) * RPAGE + 1;  // unaligned
    case 1: return TASK_SIZE - (off % 3) * RPAGE;                                   // the top
    case 2: return ~0ul - (off % 2) * RPAGE + 1 - RPAGE;                             // wraps
    default: return SLOT_BASE + (k % NR_SLOTS) * SLOT_SIZE + (off % 24) * RPAGE;
  }
}
unsigned long pick_len(input& in) {
  uint8_t k = in.byte();
  if (k == 0) return 0;
  if (k == 1) return ~0ul;
  if (k == 2) return 512 * RPAGE;  // a THP's worth
  if (k < 8) return (k - 2) * RPAGE + 17;  // rounds up
  return (k % 16 + 1) * RPAGE;
}

void compare_page_bytes(run& r, int who, unsigned long page_addr) {
  for (unsigned off : r.touched) {
    uint8_t want = 0, got = 0;
    int rw = r.ref.load(r.sp[who], page_addr + off, &want);
    int mw = mm_load(r.mm[who], page_addr + off, &got);
    r.expect_eq(mw, rw, "load");
    if (!rw && got != want) r.fail("byte at " + std::to_string(page_addr + off) + ": machine " + std::to_string(got) +
                                   ", reference " + std::to_string(want));
  }
}

// What a held page shows through the page itself (as a device would read it).
void compare_held(run& r, const held& h) {
  if (!h.compare) return;
  for (size_t i = 0; i < h.pages.size(); i++) {
    if (!h.ref.objs[i]) continue;
    unsigned long pfn = page_to_pfn(h.pages[i]);
    for (unsigned off : r.touched) {
      uint8_t got = frame_read_byte(pfn, off), want = h.ref.objs[i]->bytes[off];
      if (got != want) r.fail("held page byte " + std::to_string(off) + ": machine " + std::to_string(got) + ", reference " + std::to_string(want));
    }
  }
}

void release(held& h) {
  if (h.ref.pin)
    unpin_user_pages(h.pages.data(), static_cast<long>(h.pages.size()));
  else
    for (page* p : h.pages) put_page(p);
}

// MM_FUZZ_TRACE=1: every operation and what both sides returned, on stderr.
bool g_trace = std::getenv("MM_FUZZ_TRACE") != nullptr;
void trace(run& r, const char* fmt_, unsigned long a, unsigned long b, long got) {
  if (g_trace) std::fprintf(stderr, "  %2d %-24s %#lx %#lx -> %ld\n", r.step, fmt_, a, b, got);
}

// A call both sides answered (the reference's value first; the two are independent).
void both(run& r, int who, unsigned long a, unsigned long b, long want, long got) {
  trace(r, (r.what + (who ? " (child)" : "")).c_str(), a, b, want);
  r.expect_eq(got, want, r.what.c_str());
}

void one_op(run& r, input& in) {
  uint8_t op = in.byte();
  int who = (op & 0x80) && r.mm[1] ? 1 : 0;
  mm_struct* mm = r.mm[who];
  space& sp = r.sp[who];
  switch (op % 12) {
    case 0: {  // mmap
      unsigned long addr = pick_addr(in), len = pick_len(in);
      uint8_t pf = in.byte();
      int prot = pf & 3;
      int flags = (pf >> 2) & 3;
      if (pf & 0x10) flags |= MAP_HUGE_THP;
      if (pf == 0xff) flags |= 0x100;  // an unknown flag
      if (pf == 0xfe) prot |= 4;       // PROT_EXEC: not modelled
      r.what = "mmap";
      both(r, who, addr, len | (unsigned long)pf << 56, r.ref.mmap(sp, addr, len, prot, flags),
           vm_mmap(mm, addr, len, prot, flags));
      break;
    }
    case 1: {
      unsigned long addr = pick_addr(in), len = pick_len(in);
      r.what = "munmap";
      both(r, who, addr, len, r.ref.munmap(sp, addr, len), vm_munmap(mm, addr, len));
      break;
    }
    case 2: {
      unsigned long addr = pick_addr(in), len = pick_len(in);
      int prot = in.byte() & 7;  // 4: PROT_EXEC, refused
      r.what = "mprotect";
      both(r, who, addr, len | (unsigned long)prot << 60, r.ref.mprotect(sp, addr, len, prot),
           do_mprotect(mm, addr, len, prot));
      break;
    }
    case 3: {
      unsigned long addr = pick_addr(in), len = pick_len(in);
      r.what = "madvise(DONTNEED)";
      both(r, who, addr, len, r.ref.dontneed(sp, addr, len), do_madvise(mm, addr, len, MADV_DONTNEED_));
      break;
    }
    case 4:
    case 5: {  // a store, then read back
      unsigned long addr = pick_addr(in);
      unsigned off = (in.byte() % 64) * 61 % RPAGE;
      uint8_t v = in.byte();
      addr = (addr & ~(RPAGE - 1)) + off;
      r.what = "store";
      r.touched.insert(off);
      long want = r.ref.store(sp, addr, v);
      trace(r, who ? "store (child)" : "store", addr, v, want);
      r.expect_eq(mm_store(mm, addr, v), want, "store");
      if (!want) compare_page_bytes(r, who, addr & ~(RPAGE - 1));
      break;
    }
    case 6: {  // a load
      unsigned long addr = pick_addr(in);
      uint8_t want = 0, got = 0;
      r.what = "load";
      int rw = r.ref.load(sp, addr, &want);
      trace(r, who ? "load (child)" : "load", addr, want, rw);
      r.expect_eq(mm_load(mm, addr, &got), rw, "load");
      if (!rw && got != want) r.fail("load value");
      break;
    }
    case 7:
    case 8: {  // GUP
      if (r.holds.size() >= MAX_HELD) break;
      unsigned long addr = pick_addr(in);
      uint8_t f = in.byte();
      long n = f % 5;  // 0..4 pages (0: returns 0)
      bool write = f & 0x08, pin = !(f & 0x10), longterm = pin && (f & 0x20), force = f & 0x40;
      bool fast = !(f & 0x80);
      unsigned flags = (write ? FOLL_WRITE : 0) | (longterm ? FOLL_LONGTERM : 0) | (force ? FOLL_FORCE : 0);
      held h;
      h.pages.assign(static_cast<size_t>(n) + 1, nullptr);  // never a null array (that is -EINVAL)
      r.what = pin ? (fast ? "pin_user_pages_fast" : "pin_user_pages_unlocked")
                   : (fast ? "get_user_pages_fast" : "get_user_pages_unlocked");
      long got = pin ? (fast ? pin_user_pages_fast(mm, addr, n, flags, h.pages.data())
                             : pin_user_pages_unlocked(mm, addr, n, flags, h.pages.data()))
                     : (fast ? get_user_pages_fast(mm, addr, n, flags, h.pages.data())
                             : get_user_pages_unlocked(mm, addr, n, flags, h.pages.data()));
      // The fast entry points check the range first (gup_fast_fallback: -EOVERFLOW, then
      // -EFAULT past the user range, even for 0 pages); the slow ones take 0 pages as done
      // and otherwise walk until a page has no VMA.
      long want;
      unsigned long end;
      if (fast && __builtin_add_overflow(addr & ~(RPAGE - 1), static_cast<unsigned long>(n) * RPAGE, &end))
        want = -EOVERFLOW;
      else if (fast && end > TASK_SIZE)
        want = -EFAULT;
      else if (n == 0)
        want = 0;
      else
        want = r.ref.gup(sp, addr, n, write, force, longterm, pin, &h.ref);
      trace(r, (r.what + (who ? " (child)" : "")).c_str(), addr, (unsigned long)n | (unsigned long)flags << 8, want);
      r.expect_eq(got, want, r.what.c_str());
      if (got <= 0) break;
      h.pages.resize(static_cast<size_t>(got));
      h.ref.objs.resize(static_cast<size_t>(got));
      compare_held(r, h);
      h.compare = pin;
      r.holds.push_back(std::move(h));
      break;
    }
    case 9: {  // a device writes through a write pin
      if (r.holds.empty()) break;
      held& h = r.holds[in.byte() % r.holds.size()];
      unsigned off = (in.byte() % 64) * 61 % RPAGE;
      uint8_t v = in.byte();
      if (!h.ref.pin || !h.ref.write) break;  // only a write pin may be written by a device
      r.what = "dma write";
      trace(r, r.what.c_str(), &h - r.holds.data(), off, v);
      r.touched.insert(off);
      for (size_t i = 0; i < h.pages.size(); i++) {
        frame_write_byte(page_to_pfn(h.pages[i]), off, v);
        h.ref.objs[i]->bytes[off] = v;  // a write pin always names its object
      }
      for (auto& x : r.holds) compare_held(r, x);
      break;
    }
    case 10: {  // release one GUP call's pages
      if (r.holds.empty()) break;
      size_t i = in.byte() % r.holds.size();
      r.what = "release";
      trace(r, r.what.c_str(), i, 0, 0);
      compare_held(r, r.holds[i]);
      release(r.holds[i]);
      r.holds.erase(r.holds.begin() + static_cast<long>(i));
      break;
    }
    case 11: {  // fork, or the child's exit
      r.what = "fork";
      trace(r, r.mm[1] ? "child exit" : "fork", 0, 0, 0);
      if (r.mm[1]) {
        mmput(r.mm[1]);
        r.mm[1] = nullptr;
        r.sp[1].pages.clear();
        break;
      }
      int err = 0;
      r.mm[1] = dup_mm(r.mm[0], &err);
      if (!r.mm[1]) r.fail("fork failed: " + std::to_string(err));
      r.ref.fork(r.sp[0], &r.sp[1]);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  input in{data, size};
  uint8_t cfg = in.byte();
  machine_config c;
  c.frames = 8192;  // 32 MiB: room for a few THPs
  c.strategy = static_cast<table_strategy>(cfg % 3);
  c.pte = (cfg >> 2) & 1 ? pte_mode::pae : pte_mode::native;
  if (machine_create(c) != 0) {
    std::fprintf(stderr, "mm_fuzz: machine_create failed\n");
    std::abort();
  }
  {
    cpu_scope cpu;
    run r;
    r.mm[0] = mm_alloc();
    r.touched.insert(0);
    for (int i = 0; i < MAX_OPS && in.more(); i++) {
      r.step = i;
      one_op(r, in);
    }
    // The end: every mapped page's written bytes, in both address spaces, and every held page.
    r.what = "final compare";
    for (int who = 0; who < 2; who++) {
      if (!r.mm[who]) continue;
      for (auto& [a, p] : r.sp[who].pages) compare_page_bytes(r, who, a);
    }
    for (auto& h : r.holds) {
      compare_held(r, h);
      release(h);
    }
    for (unsigned off = 0; off < RPAGE; off++)
      if (frame_read_byte(zero_pfn, off)) r.fail("the zero page is not zero at byte " + std::to_string(off));
    for (mm_struct* m : r.mm)
      if (m) mmput(m);
    if (unsigned long left = machine_frames_in_use()) r.fail("leak: " + std::to_string(left) + " frames in use after exit");
  }
  machine_destroy();
  return 0;
}
