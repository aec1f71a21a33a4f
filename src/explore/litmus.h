// Litmus files: small mm race scenarios in text, parsed into an AST the explorer runs
// (explore/interp.h). The format is docs/litmus.md's; an example:
//
//   # reclaim against a GUP-fast pin: the freeze must see the transient reference
//   litmus reclaim-vs-pin-fast
//   machine pte=native strategy=rcu tlb=broadcast
//   setup:
//     mmap 0x200000 4K anon rw
//     write 0x200000 0x11
//   thread A:
//     pin_fast 0x200000 1 write
//     dma_write 0x22
//     unpin
//   thread B:
//     reclaim 0x200000 4K
//   expect ok
//   expect pinned-freed with no-reclaim-freeze
//
// The parser is plain C++ with no backend: it checks names against machine/config.h's
// unsafe list and the oracle's violation kinds, and reports the first error as
// "FILE:LINE: message".
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gupfast::litmus {

enum class op_kind : uint8_t {
  mmap, munmap, mprotect, madvise_dontneed, read, write,
  pin_fast, get_fast, pin, get, unpin, dma_write,
  reclaim, migrate, split, collapse, fork, mbind, madvise_free,
};
const char* to_string(op_kind k);  // the litmus keyword
inline bool is_gup(op_kind k) { return k >= op_kind::pin_fast && k <= op_kind::get; }

// Protections of mmap / mprotect (PROT_* bits as the mm's: mm/mm_types.h).
enum class prot : uint8_t { none, r, rw };

// One operation, as written on one line.
struct op {
  op_kind kind{};
  int line = 0;          // 1-based line in the file
  std::string text;      // the line without comment and indentation: "pin_fast 0x200000 1 write"
  unsigned long addr = 0;
  unsigned long len = 0;  // mmap, munmap, mprotect, madvise_dontneed, reclaim, migrate, mbind,
                          // madvise_free
  int node = 0;           // mbind: the preferred NUMA node
  long npages = 0;        // GUP
  uint8_t byte = 0;       // write, dma_write
  prot protection = prot::rw;  // mmap, mprotect
  bool shared = false;    // mmap: MAP_SHARED anonymous (shmem) instead of private anonymous
  bool thp = false;       // mmap: MAP_HUGE_THP
  bool write = false;     // GUP: FOLL_WRITE
  bool longterm = false;  // GUP: FOLL_LONGTERM
  bool dirty = false;     // unpin: mark the pages a device wrote dirty first (direct-IO completion)
};

struct thread {
  std::string name;  // "A"
  int line = 0;
  bool child = false;  // `thread NAME child:`: acts on the child of setup's first fork
  std::vector<op> ops;
};

// `machine` settings: each unset unless the file says (command-line options win over them).
struct machine_settings {
  std::optional<std::string> strategy, tlb, pte, seq_scope;
  std::optional<bool> pt_reclaim;
  std::optional<int> nodes;
  std::optional<std::string> geometry;  // x86-64 | small (the explorer's default)
  std::optional<std::string> memory;    // sc | tso | weak (memory/memory_model.h; default sc)
};

// `search` settings: bounds for a scenario that needs them (command-line options win).
struct search_settings {
  std::optional<int> bound;
  std::optional<uint64_t> max_steps;
  std::optional<double> time_limit;
  std::optional<uint64_t> max_executions;
  std::optional<int> stale_bound;  // weak memory: stale reads per execution
};

// `expect KIND[|KIND...] [with MUTANT[,MUTANT...]] [on KEY=V[,V...] ...]`: under the
// mutants, in every configuration of the `on` product (default: the file's machine), the
// explorer finds one of the kinds ("ok": finds nothing).
struct expectation {
  int line = 0;
  std::string text;
  std::vector<std::string> kinds;    // "ok" or violation kinds (oracle names)
  uint32_t unsafe = 0;               // mask of machine/config.h unsafe_step bits
  std::string unsafe_names;          // as written, canonical order: "no-pte-recheck,no-seq-validate"
  std::map<std::string, std::vector<std::string>> on;  // "strategy" -> {"rcu", "seqcount"}
  bool expects_ok() const { return kinds.size() == 1 && kinds[0] == "ok"; }
};

// `zoo commit=ID[,ID] year=YYYY release=vX.Y revert=MUTANTS [era=MUTANTS]`: the file is a
// bug-zoo entry (docs/bug-zoo.md), a real kernel race. `revert` names the mutants that undo
// exactly the fix; `era` the safety steps the kernel of the bug's time did not have yet
// (added by later fixes), which stay removed on both sides. The parser requires the file to
// expect a violation with revert+era and `ok` with era alone: found without the fix, clean
// with it.
struct zoo_entry {
  int line = 0;
  std::vector<std::string> commits;  // abbreviated ids, 12 to 40 hex digits
  int year = 0;
  std::string release;               // "v6.0", "4.9.188 (stable only)" is written 4.9.188-stable
  uint32_t revert = 0, era = 0;      // machine/config.h unsafe_step masks
  std::string revert_names, era_names;  // canonical order
};

struct file {
  std::string path;   // as given ("tests/litmus/x.litmus", or "builtin:x")
  std::string name;   // the `litmus` line
  std::string about;  // the first comment line before `litmus`, without "# "
  machine_settings machine;
  search_settings search;
  std::vector<op> setup;
  std::vector<thread> threads;
  std::vector<expectation> expects;
  std::optional<zoo_entry> zoo;  // a bug-zoo entry
  std::string source;  // the whole text
  // The op at a file line, or nullptr.
  const op* op_at(int line) const;
};

struct parse_error {
  std::string path;
  int line = 0;
  std::string message;
  std::string what() const;  // "path:line: message"
};

inline constexpr int MAX_THREADS = 4;
inline constexpr long MAX_GUP_PAGES = 512;

// Parse a whole file. On error: nullopt and *err filled.
std::optional<file> parse(std::string_view text, const std::string& path, parse_error* err);
// Parse one `machine`-style token list ("strategy=rcu tlb=ipi") into s; error text or "".
std::string parse_machine_words(std::string_view words, machine_settings* s);
// "0x200000" or "200000" (hex); lengths also "4K", "2M", "0x1000".
std::optional<unsigned long> parse_addr(std::string_view s);
std::optional<unsigned long> parse_len(std::string_view s);

}  // namespace gupfast::litmus
