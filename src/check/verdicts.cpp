// The oracle's verdicts on what the instrumented operations report (check/oracle.h): GUP's
// results (stale-pin, torn-entry, pinned-freed), device writes (frame-uaf), what the process
// reads back (lost-write), and the end of a run (refcount).
#include <cstring>

#include <fmt/format.h>

#include "check/oracle.h"
#include "check/oracle_state.h"

GUPFAST_NS_BEGIN
namespace check {

using namespace detail;

namespace {

constexpr const char* KIND_NAMES[NR_VIOLATION_KINDS] = {"stale-pin",  "pinned-freed", "table-uaf", "frame-uaf",
                                                         "torn-entry", "lost-write",   "refcount",  "cow-leak"};

uint64_t wkey(uint32_t mm_id, unsigned long addr) { return uint64_t(mm_id) << 48 | (addr & ~7ul); }

// The process's last own change of the page holding addr (0: none; OPEN: one is running).
uint64_t last_change(oracle_state* o, uint32_t mm_id, unsigned long addr) {
  auto it = o->changed.find(vkey(mm_id, addr));
  if (it == o->changed.end()) return 0;
  return it->second.second > 0 ? OPEN : it->second.first;
}

// delta +1: a change begins, -1: it ends, 0: an instantaneous one.
void process_change(mm_struct* mm, unsigned long addr, unsigned long len, int delta) {
  oracle_state* o = g_oracle;
  if (!o) return;
  std::lock_guard g(o->lock);
  auto id = mm_id_of(o, mm);
  if (!id) return;
  uint64_t t = tick(o);
  for (unsigned long a = addr & PAGE_MASK; a < addr + len; a += PAGE_SIZE) {
    auto& c = o->changed[vkey(*id, a)];
    c.first = t;
    c.second += delta;
  }
  o->expects.erase(o->expects.lower_bound(wkey(*id, addr)), o->expects.lower_bound(wkey(*id, addr + len + 7)));
  if (delta >= 0) log_event(o, "process-change", *id, addr, ~0ul, ~0ul, len);
}

}  // namespace

const char* to_string(violation_kind k) { return KIND_NAMES[int(k)]; }

bool parse_violation_kind(const std::string& s, violation_kind* out) {
  for (int i = 0; i < NR_VIOLATION_KINDS; i++)
    if (s == KIND_NAMES[i]) {
      *out = violation_kind(i);
      return true;
    }
  return false;
}

std::string violation::detail() const {
  std::string s = fmt::format("{}: {}\n", to_string(kind), message);
  if (addr) s += fmt::format("  address  {:#x}\n", addr);
  if (pfn != ~0ul) s += fmt::format("  frame    pfn {:#x} (folio {:#x})\n", pfn, folio_pfn);
  if (table_pfn != ~0ul) s += fmt::format("  table    pfn {:#x}\n", table_pfn);
  if (cpu >= 0) s += fmt::format("  cpu      {}\n", cpu);
  if (!events.empty()) {
    s += "  last events:\n";
    for (const auto& e : events) s += "    " + e + "\n";
  }
  return s;
}

uint64_t oracle_op_begin() {
  oracle_state* o = g_oracle;
  if (!o) return 0;
  uint64_t t = oracle_now();
  o->inflight[cpu_slot()].store(t, std::memory_order_relaxed);
  return t;
}

void oracle_op_end() {
  if (g_oracle) g_oracle->inflight[cpu_slot()].store(0, std::memory_order_relaxed);
}

uint64_t oracle_frame_epoch(unsigned long pfn) {
  oracle_state* o = g_oracle;
  frame_info* f = o ? o->frame(pfn) : nullptr;
  if (!f || !f->allocated.load(std::memory_order_acquire)) return 0;
  return f->epoch.load(std::memory_order_relaxed);
}

// stale-pin: the page GUP returned for addr must be the incarnation mapped there at some
// tick of [t0, t1]. A GUP racing with the process's own munmap returns the page mapped
// when it began: that is in the window, so legal. A pin of a frame recycled since the
// walker read the entry is not the page that was mapped: its incarnation differs.
void oracle_gup_returned(mm_struct* mm, unsigned long start, page* const* pages, long n, uint64_t t0, uint64_t t1,
                         bool pin, uint64_t* epochs) {
  oracle_state* o = g_oracle;
  if (!o) return;
  std::optional<violation> v;
  {
    std::lock_guard g(o->lock);
    auto id = mm_id_of(o, mm);
    for (long i = 0; i < n; i++) {
      unsigned long pfn = page_to_pfn(pages[i]), addr = start + (unsigned long)i * PAGE_SIZE;
      if (!pfn_valid(pfn)) continue;
      frame_info& f = *o->frame(pfn);
      f.held.fetch_add(1, std::memory_order_relaxed);
      if (id) o->held_by.emplace(pfn, std::make_pair(*id, addr));
      uint64_t epoch = f.epoch.load(std::memory_order_relaxed);
      if (epochs) epochs[i] = epoch;
      log_event(o, pin ? "pin" : "get", id.value_or(0), addr, pfn, ~0ul, t0, t1);
      if (v || !id) continue;
      if (!f.allocated.load(std::memory_order_acquire)) {
        v = make_violation(o, violation_kind::pinned_freed,
                           fmt::format("GUP returned frame {:#x} for {:#x}, and the frame is free", pfn, shown(o, addr)), *id, addr,
                           pfn, ~0ul);
      } else if (!was_mapped(o, *id, addr, pfn, epoch, t0, t1) && !pending_maps(o, mm, addr, pfn, t1)) {
        bool torn = is_torn_mix(o, *id, addr, pfn);
        v = make_violation(
            o, torn ? violation_kind::torn_entry : violation_kind::stale_pin,
            fmt::format("GUP ({}) returned frame {:#x}/e{} for {:#x}, {} during the call [tick {}..{}]; mappings there: {}",
                        pin ? "pin" : "get", pfn, epoch, shown(o, addr),
                        torn ? "a mix of two entry values' halves that was never stored" : "which was not mapped there",
                        t0, t1, history_string(o, *id, addr)),
            *id, addr, pfn, ~0ul);
      }
    }
  }
  if (v) deliver(o, std::move(*v));
}

void oracle_gup_release(page* p, bool pin) { oracle_gup_release(p, pin, nullptr); }

void oracle_gup_release(page* p, bool, mm_struct* mm) {
  oracle_state* o = g_oracle;
  if (!o) return;
  unsigned long pfn = page_to_pfn(p);
  if (frame_info* f = o->frame(pfn)) f->held.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard g(o->lock);
  // One of mm's references on the frame (any holder's when mm is not known).
  auto id = mm ? mm_id_of(o, mm) : std::nullopt;
  auto [b, e] = o->held_by.equal_range(pfn);
  for (auto it = b; it != e; ++it) {
    if (!id || it->second.first == *id) {
      o->held_by.erase(it);
      break;
    }
  }
}

// frame-uaf for a device: the pinned frame must still be the incarnation GUP returned.
void oracle_dma_write(page* p, uint64_t epoch, unsigned long addr) {
  oracle_state* o = g_oracle;
  if (!o) return;
  unsigned long pfn = page_to_pfn(p);
  if (!pfn_valid(pfn)) return;
  frame_info& f = *o->frame(pfn);
  bool live = f.allocated.load(std::memory_order_acquire);
  if (live && f.epoch.load(std::memory_order_relaxed) == epoch) return;
  violation v;
  {
    std::lock_guard g(o->lock);
    v = make_violation(o, violation_kind::frame_uaf,
                       fmt::format("a DMA write through the pin of {:#x} reached frame {:#x}, which is {}", shown(o, addr), pfn,
                                   live ? "another owner's now (recycled)" : "free"),
                       0, addr, pfn, ~0ul);
  }
  deliver(o, std::move(v));
}

void oracle_process_changed(mm_struct* mm, unsigned long addr, unsigned long len) {
  process_change(mm, addr, len, 0);
}
void oracle_process_change_begin(mm_struct* mm, unsigned long addr, unsigned long len) {
  process_change(mm, addr, len, +1);
}
void oracle_process_change_end(mm_struct* mm, unsigned long addr, unsigned long len) {
  process_change(mm, addr, len, -1);
}

void oracle_expect_word(mm_struct* mm, unsigned long addr, uint64_t value, uint64_t since) {
  oracle_state* o = g_oracle;
  if (!o) return;
  std::lock_guard g(o->lock);
  auto id = mm_id_of(o, mm);
  if (!id) return;
  o->expects[wkey(*id, addr)] = {value, since};
}

// lost-write: a device wrote value at addr through a pin taken at `since`; the process must
// read it back unless it changed that page itself since (munmap, remap, DONTNEED, a store).
void oracle_check_word(mm_struct* mm, unsigned long addr, uint64_t value) {
  oracle_state* o = g_oracle;
  if (!o) return;
  std::optional<violation> v;
  {
    std::lock_guard g(o->lock);
    auto id = mm_id_of(o, mm);
    if (!id) return;
    auto it = o->expects.find(wkey(*id, addr));
    if (it == o->expects.end() || it->second.value == value) return;
    expectation e = it->second;
    o->expects.erase(it);
    if (last_change(o, *id, addr) > e.since) return;  // the process changed it itself: legal
    v = make_violation(o, violation_kind::lost_write,
                       fmt::format("the process reads {:#018x} at {:#x}, but a device wrote {:#018x} there through a "
                                   "pin (taken at tick {}) and the process did not change it since",
                                   value, shown(o, addr), e.value, e.since),
                       *id, addr, ~0ul, ~0ul);
  }
  if (v) deliver(o, std::move(*v));
}

std::vector<unsigned long> oracle_expected_words(mm_struct* mm) {
  std::vector<unsigned long> out;
  oracle_state* o = g_oracle;
  if (!o) return out;
  std::lock_guard g(o->lock);
  auto id = mm_id_of(o, mm);
  if (!id) return out;
  for (auto it = o->expects.lower_bound(wkey(*id, 0)); it != o->expects.end() && (it->first >> 48) == *id; ++it)
    out.push_back(it->first & ((1ul << 48) - 1));
  return out;
}

// refcount at the end: every reference GUP handed out was released and GUP holds none.
void oracle_finish() {
  oracle_state* o = g_oracle;
  if (!o) return;
  std::optional<violation> v;
  {
    std::lock_guard g(o->lock);
    for (unsigned long i = 0; i < o->nr_frames && !v; i++) {
      unsigned long pfn = o->nth_pfn(i);
      int held = o->frames[i].held.load(std::memory_order_relaxed);
      int refs = o->frames[i].gup_refs.load(std::memory_order_relaxed);
      if (held || refs)
        v = make_violation(o, violation_kind::refcount,
                           fmt::format("at the end of the run frame {:#x} still has {} held page(s) and {} GUP "
                                       "reference(s) (pin accounting mismatch)",
                                       pfn, held, refs),
                           0, 0, pfn, ~0ul);
    }
  }
  if (v) deliver(o, std::move(*v));
}

}  // namespace check
GUPFAST_NS_END
