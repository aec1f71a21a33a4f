// The litmus interpreter: runs a parsed litmus file (explore/litmus.h) under the explorer,
// on the model backend, and hands the result back as explore/run.h's plain structs.
//
// One execution, as the explorer drives it (explore::program):
//   setup     a small machine of the run's configuration, the oracle (a violation ends the
//             execution through explore::fail), the process's mm, the setup operations
//             (each must succeed: a failure is the file's fault, kind "litmus-error");
//   threads   each litmus thread's operations in order, through check/ops.h, each announced
//             with explore::annotate("A:12 pin_fast 0x200000 1 write") so the trace names
//             the litmus line every step belongs to; results are not checked (a racing GUP
//             may legally take fewer pages, a racing munmap may make a store fault);
//   finish    pages a thread still holds are released (an implicit unpin), every mm reads
//             back what devices wrote (lost-write), oracle_finish (refcounts, pins);
//   teardown  the children and the process exit, the oracle stops, the machine goes.
//
// Context: the explorer runs one execution at a time on one OS thread, so the run is one
// global (g_run), and the state of the execution in progress another (g_lw, in the world).
#include "explore/run.h"

#include <cerrno>
#include <string>

#include <fmt/format.h>

#include "check/ops.h"
#include "check/oracle.h"
#include "explore/search.h"
#include "machine/machine.h"
#include "mm/mm.h"

GUPFAST_NS_BEGIN
namespace {

// The machine of one execution: small (a snapshot copies its memmap and the oracle's frame
// array), and big enough for a few huge pages of its geometry and their copies.
unsigned long litmus_frames(pgtable_geometry g) { return g == pgtable_geometry::x86_64 ? 2048 : 512; }

// The run: what the explorer was asked to explore.
struct litmus_run {
  const litmus::file* f = nullptr;
  machine_config cfg;
};
litmus_run* g_run = nullptr;

// One execution's state: part of the world (explore/world.h), so a snapshot taken after
// setup has it.
struct litmus_world {
  bool machine_up = false, oracle_up = false;
  mm_struct* mm = nullptr;              // the process
  std::vector<mm_struct*> children;     // from fork, oldest first
  std::vector<check::held_pages> held;  // per thread, then setup's
};
GUPFAST_WORLD litmus_world g_lw;

[[noreturn]] void litmus_error(const litmus::op& o, const std::string& what) {
  explore::fail("litmus-error", fmt::format("{}: setup: {}: {}", o.line, o.text, what));
}

int prot_of(litmus::prot p) {
  switch (p) {
    case litmus::prot::none: return PROT_NONE_;
    case litmus::prot::r: return PROT_READ_;
    case litmus::prot::rw: return PROT_READ_ | PROT_WRITE_;
  }
  return PROT_NONE_;
}

check::gup_call gup_call_of(litmus::op_kind k) {
  switch (k) {
    case litmus::op_kind::pin_fast: return check::gup_call::pin_fast;
    case litmus::op_kind::get_fast: return check::gup_call::get_fast;
    case litmus::op_kind::pin: return check::gup_call::pin;
    default: return check::gup_call::get;
  }
}

// Run one operation for thread tid (setup: the thread count). Returns what it returned,
// for setup's check.
long run_op(const litmus::op& o, int tid) {
  litmus_run& r = *g_run;
  // A child thread acts on the child of setup's first fork (the parser insists on one).
  bool child = tid < static_cast<int>(r.f->threads.size()) && r.f->threads[tid].child;
  mm_struct* mm = child ? g_lw.children.front() : g_lw.mm;
  switch (o.kind) {
    case litmus::op_kind::mmap: {
      int flags = (o.shared ? MAP_SHARED_ : MAP_PRIVATE_) | (o.thp ? MAP_HUGE_THP : 0);
      long a = check::op_mmap(mm, o.addr, o.len, prot_of(o.protection), flags);
      return a == static_cast<long>(o.addr) ? 0 : a < 0 ? a : -EINVAL;
    }
    case litmus::op_kind::munmap: return check::op_munmap(mm, o.addr, o.len);
    case litmus::op_kind::mprotect: return check::op_mprotect(mm, o.addr, o.len, prot_of(o.protection));
    case litmus::op_kind::madvise_dontneed: return check::op_madvise(mm, o.addr, o.len, MADV_DONTNEED_);
    case litmus::op_kind::madvise_free: return check::op_madvise(mm, o.addr, o.len, MADV_FREE_);
    case litmus::op_kind::read: {
      uint8_t v = 0;
      int rc = check::op_user_read(mm, o.addr, &v);
      if (rc == 0 && tid < static_cast<int>(r.f->threads.size()) && explore::annotating())  // the value read
        explore::annotate(fmt::format("{}:{} {} = {:#04x}", r.f->threads[tid].name, o.line, o.text, v));
      return rc;
    }
    case litmus::op_kind::write: return check::op_user_write(mm, o.addr, o.byte);
    case litmus::op_kind::pin_fast:
    case litmus::op_kind::get_fast:
    case litmus::op_kind::pin:
    case litmus::op_kind::get: {
      unsigned flags = (o.write ? FOLL_WRITE : 0) | (o.longterm ? FOLL_LONGTERM : 0);
      return check::op_gup(gup_call_of(o.kind), mm, o.addr, o.npages, flags, &g_lw.held[tid]);
    }
    case litmus::op_kind::unpin: check::op_release(&g_lw.held[tid], o.dirty); return 0;
    case litmus::op_kind::dma_write:
      // Each thread is its own device slot; the byte fills the 8-byte word.
      check::op_dma_write(&g_lw.held[tid], static_cast<unsigned>(tid), 0x0101010101010101ull * o.byte);
      return 0;
    case litmus::op_kind::reclaim: return check::op_reclaim(mm, o.addr, o.len);
    case litmus::op_kind::migrate: return check::op_migrate(mm, o.addr, o.len);
    case litmus::op_kind::split: return check::op_split(mm, o.addr);
    case litmus::op_kind::collapse: return check::op_collapse(mm, o.addr);
    case litmus::op_kind::mbind: return check::op_mbind(mm, o.addr, o.len, o.node);
    case litmus::op_kind::fork: {
      int err = 0;
      mm_struct* child = check::op_fork(mm, &err);
      if (!child) return err ? err : -ENOMEM;
      g_lw.children.push_back(child);
      return 0;
    }
  }
  return -EINVAL;
}

void litmus_setup() {
  litmus_run& r = *g_run;
  // Failures of the harness itself (not the file's): reported as a violation of their own.
  if (int rc = machine_create(r.cfg)) explore::fail("setup-failed", fmt::format("machine_create returned {}", rc));
  g_lw.machine_up = true;
  check::oracle_options oo;
  oo.on_violation = [](const check::violation& v) { explore::fail(check::to_string(v.kind), v.message); };
  oo.show_addr = [](unsigned long a) { return addr_to_x86_64(g_geometry.kind, a); };  // the file's coordinates
  if (int rc = check::oracle_start(oo)) explore::fail("setup-failed", fmt::format("oracle_start returned {}", rc));
  g_lw.oracle_up = true;
  g_lw.mm = check::op_mm_alloc();
  if (!g_lw.mm) explore::fail("setup-failed", "mm_alloc failed");
  int setup_slot = static_cast<int>(r.f->threads.size());
  g_lw.held.assign(setup_slot + 1, check::held_pages{});
  for (const litmus::op& o : r.f->setup) {
    if (explore::annotating()) explore::annotate(fmt::format("setup:{} {}", o.line, o.text));
    long rc = run_op(o, setup_slot);
    // Replacers return pages moved: setup expects them to move something.
    bool replacer = o.kind == litmus::op_kind::reclaim || o.kind == litmus::op_kind::migrate;
    bool moved = litmus::is_gup(o.kind) ? rc == o.npages : replacer ? rc > 0 : rc == 0;
    if (!moved) litmus_error(o, fmt::format("returned {}", rc));
  }
}

void litmus_thread(int tid) {
  const litmus::thread& t = g_run->f->threads[tid];
  for (const litmus::op& o : t.ops) {
    if (explore::annotating()) explore::annotate(fmt::format("{}:{} {}", t.name, o.line, o.text));
    run_op(o, tid);
  }
}

void litmus_finish() {
  explore::annotate("finish");
  for (check::held_pages& h : g_lw.held)
    if (!h.empty()) check::op_release(&h);
  check::op_readback(g_lw.mm);
  for (mm_struct* c : g_lw.children) check::op_readback(c);
  check::oracle_finish();
}

void litmus_teardown() {
  // After a violation the execution was abandoned midway: pages may still be held.
  for (check::held_pages& h : g_lw.held) h = check::held_pages{};
  for (auto it = g_lw.children.rbegin(); it != g_lw.children.rend(); ++it) check::op_mm_put(*it);
  g_lw.children.clear();
  if (g_lw.mm) check::op_mm_put(g_lw.mm);
  g_lw.mm = nullptr;
  if (g_lw.oracle_up) check::oracle_stop();
  g_lw.oracle_up = false;
  if (g_lw.machine_up) machine_destroy();
  g_lw = litmus_world{};  // and its buffers
}

// Why x86-64 address x has no counterpart in geometry g: the first table index beyond g's.
std::string beyond(pgtable_geometry g, unsigned long x) {
  static const char* const level[] = {"PTE", "PMD", "PUD", "PGD"};
  geometry_values v = geometry_of(g);
  for (int l = 0; l < 4; l++) {
    unsigned long idx = (x >> (PAGE_SHIFT + 9 * l)) & 511;
    if (idx >= static_cast<unsigned long>(v.ptrs_per_table))
      return fmt::format("{:#x} is entry {} of its {} table, and geometry {} has {} entries per table: name entries "
                         "0-{} at every level (docs/litmus.md), or run with --geometry x86-64",
                         x, idx, level[l], to_string(g), v.ptrs_per_table, v.ptrs_per_table - 1);
  }
  return fmt::format("{:#x} is beyond geometry {}'s address space; run with --geometry x86-64", x, to_string(g));
}

// A file's operations name x86-64 addresses; move them to geometry g's (pgtable/geometry.h:
// the same table indices, so the same tables, huge pages and subpages). "" or the error of
// the first operation that names an entry g does not have ("LINE: TEXT: why").
std::string to_geometry(std::vector<litmus::op>& ops, pgtable_geometry g) {
  using litmus::op_kind;
  for (litmus::op& o : ops) {
    if (o.kind == op_kind::unpin || o.kind == op_kind::dma_write || o.kind == op_kind::fork) continue;
    unsigned long len = litmus::is_gup(o.kind) ? static_cast<unsigned long>(o.npages) * PAGE_SIZE : o.len;
    auto a = addr_from_x86_64(g, o.addr);
    if (!a) return fmt::format("{}: {}: {}", o.line, o.text, beyond(g, o.addr));
    if (len) {
      auto e = addr_from_x86_64(g, o.addr + len, true);
      if (!e) return fmt::format("{}: {}: {}", o.line, o.text, beyond(g, o.addr + len - 1));
      if (litmus::is_gup(o.kind))
        o.npages = static_cast<long>((*e - *a) / PAGE_SIZE);
      else
        o.len = *e - *a;
    }
    o.addr = *a;
  }
  return {};
}

machine_config machine_of(const litmus::run_config& c) {
  machine_config m;
  m.frames = litmus_frames(*parse_geometry(c.geometry));
  m.strategy = *parse_strategy(c.strategy);
  m.tlb = *parse_tlb_mode(c.tlb);
  m.pte = *parse_pte_mode(c.pte);
  m.scope = *parse_seq_scope(c.seq_scope);
  m.pt_reclaim = c.pt_reclaim;
  m.nodes = c.nodes;
  m.geometry = *parse_geometry(c.geometry);
  m.unsafe = c.unsafe;
  return m;
}

}  // namespace
GUPFAST_NS_END

namespace gupfast::litmus {

std::string run_config::describe() const {
  std::string s = fmt::format("strategy={} tlb={} pte={} geometry={}", strategy, tlb, pte, geometry);
  if (strategy == "seqcount" && seq_scope != "table") s += " seq-scope=" + seq_scope;
  if (nodes != 1) s += fmt::format(" nodes={}", nodes);
  if (pt_reclaim) s += " pt-reclaim=on";
  if (memory != "sc") s += " memory=" + memory;
  return s;
}

bool parse_note(const file& f, const std::string& note, int* tid, int* line) {
  size_t colon = note.find(':');
  if (colon == std::string::npos) return false;
  std::string who = note.substr(0, colon);
  int n = 0;
  size_t i = colon + 1;
  while (i < note.size() && note[i] >= '0' && note[i] <= '9') n = n * 10 + (note[i++] - '0');
  if (i == colon + 1) return false;
  if (who == "setup") {
    *tid = -1;
    *line = n;
    return true;
  }
  for (size_t t = 0; t < f.threads.size(); t++)
    if (f.threads[t].name == who) {
      *tid = static_cast<int>(t);
      *line = n;
      return true;
    }
  return false;
}

run_result run_litmus(const file& file_in, const run_config& cfg, const search_config& search) {
  namespace ex = gupfast::explore;
  litmus_run state;
  state.cfg = machine_of(cfg);
  // The operations in the run's geometry (the file's lines and texts stay as written).
  file f = file_in;
  std::string err = to_geometry(f.setup, state.cfg.geometry);
  for (thread& t : f.threads)
    if (err.empty()) err = to_geometry(t.ops, state.cfg.geometry);
  if (!err.empty()) {
    run_result bad;
    bad.found = violation_report{};
    bad.found->kind = "litmus-error";
    bad.found->message = err;
    return bad;
  }
  state.f = &f;
  g_run = &state;

  ex::program p;
  p.nthreads = static_cast<int>(f.threads.size());
  p.setup = litmus_setup;
  p.thread = litmus_thread;
  p.finish = litmus_finish;
  p.teardown = litmus_teardown;
  p.snapshot = search.snapshot;

  ex::options o;
  o.mode = search.mode == "random" ? ex::mode::random : search.mode == "pct" ? ex::mode::pct : ex::mode::dfs;
  o.bound = search.bound;
  o.memory = gupfast::memory::parse_model(cfg.memory).value_or(gupfast::memory::model::sc);
  o.stale_bound = search.stale_bound;
  o.iterative = search.iterative;
  o.runs = search.runs;
  o.seed = search.seed;
  o.pct_depth = search.pct_depth;
  o.jobs = search.jobs;
  o.shard_index = search.shard_index;
  o.shard_count = search.shard_count;
  o.coordinator = search.coordinator;
  o.connect_timeout_s = search.connect_timeout_s;
  if (search.on_progress)
    o.on_progress = [cb = search.on_progress](const ex::progress& p) {
      cb(p.executions, p.cut, p.bound, p.stale, p.seconds, p.workers);
    };
  if (search.max_steps) o.max_steps = search.max_steps;
  o.replay = search.replay;
  o.time_limit_s = search.time_limit_s;
  o.max_executions = search.max_executions;

  ex::result res = ex::explore(p, o);
  g_run = nullptr;

  run_result out;
  out.executions = res.executions;
  out.own_executions = res.own_executions;
  out.units = res.units;
  out.workers = res.workers;
  for (const ex::share& s : res.shares) out.shares.push_back({s.shard, s.workers, s.units, s.executions});
  out.cut = res.cut;
  out.max_steps = o.max_steps;
  out.exhaustive = res.exhaustive;
  out.bound_reached = res.bound_reached;
  out.stale_reached = res.stale_reached;
  out.seconds = res.seconds;
  if (res.found) {
    violation_report v;
    v.kind = res.found->kind;
    v.message = res.found->message;
    v.replay = res.found->replay;
    v.preemptions = res.found->preemptions;
    v.stale_reads = res.found->stale_reads;
    for (const ex::step& s : res.found->trace) {
      trace_step t{s.tid, 0, s.what, s.op, s.addr, s.value, s.note, s.preemption, s.stale};
      int tid;
      parse_note(f, s.note, &tid, &t.line);
      v.trace.push_back(std::move(t));
    }
    out.found = std::move(v);
  }
  return out;
}

}  // namespace gupfast::litmus
