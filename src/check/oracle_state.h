// The oracle's state (check/oracle.h): frames, tables, translation history, references,
// expectations and the event log. Internal to src/check.
//
// The oracle is a checker, not algorithm code: it uses std::atomic and std::mutex directly
// and never the sync seam, so under the model backend its hooks are not scheduling points
// (a hook and the access it reports are one step of the explorer).
#pragma once
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "check/oracle.h"

GUPFAST_NS_BEGIN
namespace check::detail {

inline constexpr uint64_t OPEN = ~uint64_t{0};  // a mapping that has not ended

// One incarnation of a frame mapped at one virtual page during [start, end] (clock ticks;
// the write that made it is somewhere in its begin..end window, so both ends are wide).
struct mapping {
  unsigned long pfn;
  uint64_t epoch;
  uint64_t start, end;
};

// A frame: its incarnation (bumped at each allocation) and whether it is allocated.
struct frame_info {
  std::atomic<uint64_t> epoch{1};
  std::atomic<uint64_t> free_tick{0};   // tick of the last free
  std::atomic<uint64_t> alloc_tick{0};  // tick of the last allocation (0: before the oracle)
  std::atomic<bool> allocated{true};   // unknown at start: assume in use
  std::atomic<int> gup_refs{0};        // references GUP took on the folio headed here
  std::atomic<int> held{0};            // references callers hold on this page (op_gup)
};

// A page-table page the oracle follows: its level (1 = PTE table .. 4 = PGD), the first
// address it maps, its mm, and whether it is reachable from that mm's PGD now.
struct table_info {
  int level;
  unsigned long base;
  uint32_t mm_id;
  bool attached;
};

struct event {
  uint64_t tick;
  int cpu;
  const char* what;
  uint32_t mm_id;
  unsigned long addr;
  unsigned long pfn;
  unsigned long table;
  uint64_t a, b;
};

struct expectation {
  uint64_t value;
  uint64_t since;  // the GUP call's start: a process change after it voids the expectation
};

struct oracle_state {
  oracle_options opts;
  std::mutex lock;                     // everything below that is not atomic
  std::atomic<uint64_t> clock{1};
  // Per-frame state for the present frames only, node after node (the hole between NUMA
  // nodes has none): frame(pfn) finds a frame's, nth_pfn() says whose the nth is.
  std::unique_ptr<frame_info[]> frames;
  unsigned long nr_frames = 0;
  unsigned long node_base[MAX_NUMNODES] = {};  // index of each node's first frame
  frame_info* frame(unsigned long pfn) {
    int nid = pfn_to_nid(pfn);
    return nid < 0 ? nullptr : &frames[node_base[nid] + pfn - node_data[nid].node_start_pfn];
  }
  unsigned long nth_pfn(unsigned long i) const {
    int nid = nr_online_nodes - 1;
    while (nid > 0 && i < node_base[nid]) nid--;
    return node_data[nid].node_start_pfn + (i - node_base[nid]);
  }
  std::unordered_map<unsigned long, table_info> tables;
  // In-flight entry writes: (entry, cpu) -> (old value, begin tick).
  std::map<std::pair<const void*, int>, std::pair<uint64_t, uint64_t>> pending;
  std::unordered_map<uint64_t, std::vector<mapping>> vpages;  // vkey -> history, oldest first
  std::unordered_map<const mm_struct*, uint32_t> mm_ids;
  // References GUP handed to callers (op_gup), by frame: the mm that took each and the
  // address it was taken at (cow-leak).
  std::unordered_multimap<unsigned long, std::pair<uint32_t, unsigned long>> held_by;
  std::vector<mm_struct*> mms;  // by id (nullptr once unregistered)
  std::map<uint64_t, expectation> expects;      // wkey -> what a device wrote
  // vkey -> the process's own changes of that page: the tick of the last one to end, and
  // how many are running now (begin..end).
  std::unordered_map<uint64_t, std::pair<uint64_t, int>> changed;
  std::atomic<uint64_t> walk_start[sync::NR_CPUS + 1] = {};  // per CPU: its walker's section start
  std::atomic<uint64_t> walk_last[sync::NR_CPUS + 1] = {};   // per CPU: after its walker's last entry read
  std::atomic<uint64_t> inflight[sync::NR_CPUS + 1] = {};    // per CPU: its operation's start (0: none)
  std::deque<event> log;
  std::vector<violation> kept;
  std::atomic<uint64_t> counts[NR_VIOLATION_KINDS] = {};
};

extern oracle_state* g_oracle;

// A user address as messages print it (oracle_options::show_addr).
inline unsigned long shown(const oracle_state* o, unsigned long a) { return o->opts.show_addr ? o->opts.show_addr(a) : a; }

inline uint64_t vkey(uint32_t mm_id, unsigned long addr) { return uint64_t(mm_id) << 36 | (addr >> 12); }
inline int cpu_slot() {
  int c = sync::smp_processor_id();
  return c < 0 ? sync::NR_CPUS : c;
}
inline uint64_t tick(oracle_state* o) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t t = o->clock.fetch_add(1, std::memory_order_seq_cst) + 1;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return t;
}
// Read an entry without the seam (no scheduling point under the model).
inline uint64_t peek(const void* p) {
  return std::atomic_ref<uint64_t>(*static_cast<uint64_t*>(const_cast<void*>(p))).load(std::memory_order_relaxed);
}

// Under o->lock.
void log_event(oracle_state* o, const char* what, uint32_t mm_id, unsigned long addr, unsigned long pfn,
               unsigned long table, uint64_t a = 0, uint64_t b = 0);
std::optional<uint32_t> mm_id_of(oracle_state* o, const mm_struct* mm);
// A violation, filled with the last events touching its addr/pfn/table. Under o->lock.
violation make_violation(oracle_state* o, violation_kind k, std::string msg, uint32_t mm_id, unsigned long addr,
                         unsigned long pfn, unsigned long table);
// Count, keep and hand to the callback. NOT under o->lock (the callback may not return).
void deliver(oracle_state* o, violation v);

// ---- translation history (history.cpp), under o->lock ----------------------------------
// An entry of a followed table changed from old to now during [tb, te].
void apply_entry_change(oracle_state* o, uint32_t mm_id, int level, unsigned long va, uint64_t old, uint64_t now,
                        uint64_t tb, uint64_t te);
void attach_table(oracle_state* o, unsigned long tpfn, int level, unsigned long base, uint32_t mm_id, uint64_t tb,
                  uint64_t te);
void detach_table(oracle_state* o, unsigned long tpfn, uint64_t tb, uint64_t te);
// Does (mm, addr) map pfn now, while a write on the way to it is in flight (its
// entry_write_begin by t1, its end not yet seen): the entry itself, or a table entry above
// whose attach the history has not recorded yet? Such a store is visible to walkers before
// entry_write_end records it. Context: o->lock held.
bool pending_maps(oracle_state* o, mm_struct* mm, unsigned long addr, unsigned long pfn, uint64_t t1);
// Is a write to this entry between its begin (by tick t1) and end hooks on some CPU?
bool write_in_flight(oracle_state* o, const void* entry, uint64_t t1);
// Was (pfn, epoch) mapped at (mm, addr) at some tick of [t0, t1]?
bool was_mapped(oracle_state* o, uint32_t mm_id, unsigned long addr, unsigned long pfn, uint64_t epoch, uint64_t t0,
                uint64_t t1);
// Could pfn be a mix of two values' halves (PAE) that were stored at (mm, addr)?
bool is_torn_mix(oracle_state* o, uint32_t mm_id, unsigned long addr, unsigned long pfn);
std::string history_string(oracle_state* o, uint32_t mm_id, unsigned long addr);

}  // namespace check::detail
GUPFAST_NS_END
