// `gupfast demo --walk`: the machine at work, one scripted step at a time.
//
// The script: two address spaces (a parent and its fork), a private and a shared anonymous
// region, faults, copy-on-write, GUP pins (fast and slow path) and a fork while pinned,
// MADV_DONTNEED, mprotect, munmap, exit, then a leak check.
// Each step is a small function over demo_env that prints one line of what it saw and the
// counters that moved while it ran. A failed expectation throws step_failed: the script
// stops, the address spaces are torn down anyway, and the leak check still runs.
//
// Extending it: a step is { name, function }; demo_script() lists them. Steps only need
// demo_env and the helpers below.
#include "demo.h"

#include <array>
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "machine/machine.h"
#include "gup/gup.h"
#include "mm/mm.h"

namespace gupfast::cli {

namespace {

constexpr unsigned long REGION_PAGES = 4;
constexpr unsigned long REGION_LEN = REGION_PAGES * PAGE_SIZE;

// What the steps share. Steps that end an mm's life set its pointer to nullptr.
struct demo_env {
  mm_struct* parent = nullptr;
  mm_struct* child = nullptr;
  unsigned long priv = 0;    // private anonymous, read-write: copy-on-write across fork
  unsigned long shared = 0;  // shared anonymous, read-write: one shmem page cache
  page* pinned[REGION_PAGES] = {};  // pins held by the "device" between pin and unpin
  long nr_pinned = 0;
};

struct step_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw step_failed(fmt::format(f, std::forward<Args>(args)...));
}

std::string show(uint8_t v) { return v >= 0x20 && v < 0x7f ? fmt::format("'{}'", char(v)) : fmt::format("{:#04x}", v); }

// ---- the process's memory accesses, checked ------------------------------------------
void store(mm_struct* mm, const char* who, unsigned long addr, uint8_t v) {
  if (int r = mm_store(mm, addr, v)) fail("{}: store {} to {:#x} returned {}", who, show(v), addr, errno_name(r));
}

void expect(mm_struct* mm, const char* who, unsigned long addr, uint8_t want) {
  uint8_t got = 0;
  if (int r = mm_load(mm, addr, &got)) fail("{}: load from {:#x} returned {}", who, addr, errno_name(r));
  if (got != want) fail("{}: {:#x} reads {}, expected {}", who, addr, show(got), show(want));
}

// A SIGSEGV-like result: the access returns -EFAULT and nothing crashes.
void expect_segv(mm_struct* mm, const char* who, unsigned long addr, bool write) {
  uint8_t v = 'X';
  int r = write ? mm_store(mm, addr, v) : mm_load(mm, addr, &v);
  if (r != -EFAULT)
    fail("{}: {} at {:#x} returned {}, expected -EFAULT", who, write ? "store" : "load", addr, errno_name(r));
}

void expect_ok(long r, const char* what) {
  if (r < 0) fail("{} returned {}", what, errno_name(r));
}

uint64_t counter_delta(counter_id id, uint64_t before) { return counter_read(id) - before; }

// ---- the steps -------------------------------------------------------------------------
std::string step_mmap(demo_env& e) {
  e.parent = mm_alloc();
  if (!e.parent) fail("mm_alloc failed");
  long a = vm_mmap(e.parent, 0, REGION_LEN, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_);
  expect_ok(a, "vm_mmap(MAP_PRIVATE)");
  long b = vm_mmap(e.parent, 0, REGION_LEN, PROT_READ_ | PROT_WRITE_, MAP_SHARED_);
  expect_ok(b, "vm_mmap(MAP_SHARED)");
  e.priv = static_cast<unsigned long>(a);
  e.shared = static_cast<unsigned long>(b);
  return fmt::format("parent: private anon at {:#x}, shared anon at {:#x}, {} pages each", e.priv, e.shared,
                     REGION_PAGES);
}

std::string step_fault(demo_env& e) {
  store(e.parent, "parent", e.priv, 'P');
  store(e.parent, "parent", e.shared, 'S');
  expect(e.parent, "parent", e.priv, 'P');
  expect(e.parent, "parent", e.shared, 'S');
  expect(e.parent, "parent", e.priv + PAGE_SIZE, 0);
  return "parent wrote 'P' (private) and 'S' (shared) and read them back; an untouched page reads 0";
}

std::string step_fork(demo_env& e) {
  int err = 0;
  e.child = dup_mm(e.parent, &err);
  if (!e.child) fail("dup_mm returned {}", errno_name(err));
  expect(e.child, "child", e.priv, 'P');
  expect(e.child, "child", e.shared, 'S');
  return "child = dup_mm(parent) reads 'P' and 'S'; the private page is now shared, write-protected";
}

std::string step_cow(demo_env& e) {
  uint64_t copies = counter_read(CNT_cow_copies);
  store(e.child, "child", e.priv, 'C');
  expect(e.child, "child", e.priv, 'C');
  expect(e.parent, "parent", e.priv, 'P');
  if (uint64_t n = counter_delta(CNT_cow_copies, copies); n != 1) fail("cow_copies moved by {}, expected 1", n);
  return "child wrote 'C' to the private page: copied on write; parent still reads 'P'";
}

std::string step_reuse(demo_env& e) {
  uint64_t reuses = counter_read(CNT_cow_reuses);
  store(e.parent, "parent", e.priv, 'Q');
  expect(e.parent, "parent", e.priv, 'Q');
  expect(e.child, "child", e.priv, 'C');
  if (uint64_t n = counter_delta(CNT_cow_reuses, reuses); n != 1) fail("cow_reuses moved by {}, expected 1", n);
  return "parent wrote 'Q': its page has one user again, made writable in place (no copy)";
}

// GUP: pin the parent's private region for a device. Resident pages come from the lockless
// fast path, the rest from the slow path (which faults them in).
std::string step_pin(demo_env& e) {
  uint64_t fast = counter_read(CNT_gup_fast_pages), slow = counter_read(CNT_gup_slow_pages);
  long n = pin_user_pages_fast(e.parent, e.priv, REGION_PAGES, FOLL_WRITE | FOLL_LONGTERM, e.pinned);
  if (n != long(REGION_PAGES)) fail("pin_user_pages_fast returned {}, expected {}", n, REGION_PAGES);
  e.nr_pinned = n;
  for (long i = 0; i < n; i++)
    if (!folio_maybe_dma_pinned(page_folio(e.pinned[i]))) fail("page {} is not maybe_dma_pinned", i);
  return fmt::format("pin_user_pages_fast(parent, {} pages, WRITE|LONGTERM): {} by the lockless walk, {} by the slow path",
                     REGION_PAGES, counter_delta(CNT_gup_fast_pages, fast), counter_delta(CNT_gup_slow_pages, slow));
}

// fork while pinned: the pinned, exclusive page is copied for the child right away
// (copy_present_page), so a device write through the pin reaches the parent and only it.
std::string step_fork_pinned(demo_env& e) {
  uint64_t copies = counter_read(CNT_fork_pinned_copies);
  int err = 0;
  mm_struct* child2 = dup_mm(e.parent, &err);
  if (!child2) fail("dup_mm returned {}", errno_name(err));
  if (counter_delta(CNT_fork_pinned_copies, copies) == 0) fail("fork shared a pinned page");
  frame_write_byte(page_to_pfn(e.pinned[0]), 0, 'D');  // the device writes through its pin
  expect(e.parent, "parent", e.priv, 'D');
  expect(child2, "second child", e.priv, 'Q');
  mmput(child2);
  return "fork with the page pinned: the child got its own copy; a device write 'D' through the pin reaches the parent only";
}

std::string step_unpin(demo_env& e) {
  unpin_user_pages_dirty_lock(e.pinned, e.nr_pinned, true);
  e.nr_pinned = 0;
  return "unpin_user_pages_dirty_lock: pins released, the device-written folio marked dirty";
}

std::string step_shared(demo_env& e) {
  store(e.child, "child", e.shared, 'T');
  expect(e.parent, "parent", e.shared, 'T');
  return "child wrote 'T' to the shared page: parent reads 'T' (no copy-on-write there)";
}

std::string step_mprotect(demo_env& e) {
  expect_ok(do_mprotect(e.parent, e.priv, REGION_LEN, PROT_READ_), "do_mprotect(PROT_READ)");
  expect_segv(e.parent, "parent", e.priv, true);
  expect(e.parent, "parent", e.priv, 'D');
  expect_ok(do_mprotect(e.parent, e.priv, REGION_LEN, PROT_READ_ | PROT_WRITE_), "do_mprotect(PROT_READ|PROT_WRITE)");
  return "parent's private region read-only: a store gets -EFAULT (SIGSEGV), loads still work";
}

std::string step_dontneed(demo_env& e) {
  expect_ok(do_madvise(e.parent, e.priv, REGION_LEN, MADV_DONTNEED_), "do_madvise(MADV_DONTNEED)");
  expect(e.parent, "parent", e.priv, 0);
  expect(e.child, "child", e.priv, 'C');
  return "MADV_DONTNEED on the parent's private region: it reads 0 again; the child keeps 'C'";
}

std::string step_munmap(demo_env& e) {
  expect_ok(vm_munmap(e.parent, e.priv, REGION_LEN), "vm_munmap(private)");
  expect_ok(vm_munmap(e.parent, e.shared, REGION_LEN), "vm_munmap(shared)");
  expect_segv(e.parent, "parent", e.priv, false);
  expect_segv(e.parent, "parent", e.shared, false);
  expect(e.child, "child", e.shared, 'T');
  return "parent unmapped both regions: loads get -EFAULT; the child still reads 'T'";
}

std::string step_exit(demo_env& e) {
  mmput(e.child);
  e.child = nullptr;
  mmput(e.parent);
  e.parent = nullptr;
  return "mmput(child), mmput(parent): every table and page is zapped and freed";
}

struct demo_step {
  const char* name;
  std::string (*fn)(demo_env&);
};

// The script, in order. Options may later select extra steps (GUP pins and races).
std::vector<demo_step> demo_script(const demo_options&) {
  return {
      {"mmap", step_mmap},
      {"fault", step_fault},
      {"fork", step_fork},
      {"cow", step_cow},
      {"reuse", step_reuse},
      {"pin", step_pin},
      {"fork-pin", step_fork_pinned},
      {"unpin", step_unpin},
      {"shared", step_shared},
      {"mprotect", step_mprotect},
      {"dontneed", step_dontneed},
      {"munmap", step_munmap},
      {"exit", step_exit},
  };
}

// ---- printing ------------------------------------------------------------------------------
using counter_snapshot = std::array<uint64_t, NR_COUNTERS>;

counter_snapshot snapshot() {
  counter_snapshot s{};
  for (unsigned i = 0; i < NR_COUNTERS; i++) s[i] = counter_read(counter_id(i));
  return s;
}

// "faults +3, fault_anon +1, ..." wrapped at ~100 columns under the step's text.
std::string moved(const counter_snapshot& before, const counter_snapshot& after) {
  constexpr size_t indent = 24, width = 100;  // indent: "{:13} counters: "
  std::string s;
  size_t line = indent;
  for (unsigned i = 0; i < NR_COUNTERS; i++) {
    if (after[i] == before[i]) continue;
    std::string item = fmt::format("{} +{}", counter_names[i], after[i] - before[i]);
    if (!s.empty()) {
      s += ",";
      line++;
      if (line + 1 + item.size() > width) {
        s += "\n" + std::string(indent, ' ');
        line = indent;
      } else {
        s += " ";
        line++;
      }
    }
    s += item;
    line += item.size();
  }
  return s.empty() ? "none" : s;
}

void print_totals(const counter_snapshot& c) {
  fmt::print("counters (those that moved):\n");
  int col = 0;
  for (unsigned i = 0; i < NR_COUNTERS; i++) {
    if (!c[i]) continue;
    fmt::print("{}{:<18}{:>6}", col == 0 ? "  " : "   ", counter_names[i], c[i]);
    if (++col == 3) {
      fmt::print("\n");
      col = 0;
    }
  }
  if (col) fmt::print("\n");
}

bool run_steps(const std::vector<demo_step>& script, demo_env& env) {
  unsigned n = 0;
  for (const demo_step& st : script) {
    counter_snapshot before = snapshot();
    n++;
    try {
      std::string said = st.fn(env);
      fmt::print("{:>3} {:<9} {}\n", n, st.name, said);
      fmt::print("{:13} counters: {}\n", "", moved(before, snapshot()));
    } catch (const step_failed& err) {
      fmt::print("{:>3} {:<9} FAILED: {}\n", n, st.name, err.what());
      return false;
    }
  }
  return true;
}

// Whatever a failed script left behind goes, so the leak check still means something.
void teardown(demo_env& env) {
  if (env.nr_pinned) unpin_user_pages(env.pinned, env.nr_pinned);
  if (env.child) mmput(env.child);
  if (env.parent) mmput(env.parent);
  env.child = env.parent = nullptr;
}

bool leak_check() {
  unsigned long in_use = machine_frames_in_use();
  if (in_use) {
    fmt::print("leak check: FAILED: {} frames still in use after every mm exited\n", in_use);
    return false;
  }
  fmt::print("leak check: ok, 0 frames in use after every mm exited\n");
  return true;
}

}  // namespace

int run_walk(const demo_options& o) {
  if (int err = machine_create(o.cfg)) {
    fmt::print(stderr, "gupfast: machine_create returned {}\n", errno_name(err));
    return EXIT_RUN_FAILED;
  }
  fmt::print("gupfast demo --walk: {}\n", machine_describe());
  bool ok;
  {
    cpu_scope cpu;
    if (cpu.id() < 0) {
      fmt::print(stderr, "gupfast: cpu_online returned {}\n", errno_name(cpu.id()));
      machine_destroy();
      return EXIT_RUN_FAILED;
    }
    fmt::print("machine: {} frames ({}, backed lazily); this thread is cpu {}\n\n", o.cfg.frames,
               frames_size(o.cfg.frames), cpu.id());
    demo_env env;
    ok = run_steps(demo_script(o), env);
    teardown(env);
  }
  fmt::print("\n");
  ok = leak_check() && ok;
  print_totals(snapshot());
  machine_destroy();
  fmt::print("{}\n", ok ? "walk: ok" : "walk: FAILED");
  return ok ? 0 : EXIT_RUN_FAILED;
}

}  // namespace gupfast::cli
