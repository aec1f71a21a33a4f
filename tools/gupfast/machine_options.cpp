// Machine options shared by the subcommands that build a machine.
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cli.h"
#include "memmap/memmap.h"

namespace gupfast::cli {

namespace {

// A CLI11 validator from one of machine/config.h's parse_* helpers, so the command line
// accepts exactly the names the machine knows.
template <class Parse>
CLI::Validator one_of(Parse parse, const char* names) {
  return CLI::Validator(
      [parse, names](std::string& s) -> std::string {
        if (parse(s)) return {};
        return fmt::format("'{}' is not one of {}", s, names);
      },
      fmt::format("{{{}}}", names));
}

// The machine's bounds on its size (physmem_init): two max-order buddy blocks at least,
// and pfns that fit PAE's 36-bit physical addresses.
constexpr unsigned long MIN_FRAMES = 2048;
constexpr unsigned long MAX_FRAMES = 1ul << 24;

}  // namespace

void add_machine_options(CLI::App* cmd, machine_options* o) {
  cmd->add_option("--strategy", o->strategy,
                  "How page tables stay alive under the lockless walker: ipi (flush IPIs wait for "
                  "irqs-off walkers), rcu (freed after a grace period), seqcount (type-stable "
                  "tables, walkers validate a counter)")
      ->check(one_of(parse_strategy, "ipi,rcu,seqcount"))
      ->capture_default_str();
  cmd->add_option("--tlb", o->tlb,
                  "How a TLB flush completes: ipi (waits for every CPU, irqs-off CPUs delay it) or "
                  "broadcast (does not wait for irqs-off CPUs). Default: ipi for --strategy ipi, "
                  "else broadcast")
      ->check(one_of(parse_tlb_mode, "ipi,broadcast"));
  cmd->add_option("--pte", o->pte,
                  "Page-table entry format: native (one 64-bit word) or pae (two 32-bit halves, "
                  "written and read in the kernel's order)")
      ->check(one_of(parse_pte_mode, "native,pae"))
      ->capture_default_str();
  cmd->add_option("--seq-scope", o->seq_scope,
                  "With --strategy seqcount: one counter per mm, or one per PTE table plus the mm's "
                  "for changes above (default: the machine's, table)")
      ->check(one_of(parse_seq_scope, "mm,table"));
  cmd->add_option("--frames", o->frames, "Physical memory in 4 KiB frames (backed lazily)")
      ->check(CLI::Range(MIN_FRAMES, MAX_FRAMES).description(fmt::format("in [{}, {}]", MIN_FRAMES, MAX_FRAMES)))
      ->capture_default_str();
  cmd->add_option("--nodes", o->nodes,
                  "NUMA nodes: 1, or 2 (node 1 from 4 GiB up with a quarter of the frames; CPUs on "
                  "node 0; migration moves pages to the other node)")
      ->check(CLI::Range(1, MAX_NUMNODES))
      ->capture_default_str();
  cmd->add_option("--geometry", o->geometry,
                  "Page-table geometry: x86-64 (512 entries per table, 2 MiB PMD leaves and THPs) or small "
                  "(16 entries, 64 KiB leaves: 16-page THPs). Default: x86-64; gupfast explore: small")
      ->check(one_of(parse_geometry, "x86-64,small"));
  cmd->add_flag("--pt-reclaim", o->pt_reclaim,
                "CONFIG_PT_RECLAIM: MADV_DONTNEED frees the PTE tables it leaves empty (under the ipi "
                "strategy with mmap_lock held for write)");
}

machine_config to_machine_config(const machine_options& o) {
  machine_config cfg;
  cfg.strategy = *parse_strategy(o.strategy);
  cfg.pte = *parse_pte_mode(o.pte);
  if (!o.tlb.empty()) cfg.tlb = *parse_tlb_mode(o.tlb);
  cfg.frames = o.frames;
  cfg.nodes = o.nodes;
  cfg.pt_reclaim = o.pt_reclaim;
  if (!o.geometry.empty()) cfg.geometry = *parse_geometry(o.geometry);
  if (!o.seq_scope.empty()) {
    if (cfg.strategy != table_strategy::seqcount)
      throw CLI::ValidationError("--seq-scope", "only means something with --strategy seqcount");
    cfg.scope = *parse_seq_scope(o.seq_scope);
  }
  // machine_create() refuses this with -EINVAL; say why while it is still a usage error.
  if (cfg.strategy == table_strategy::ipi && cfg.tlb == tlb_mode::broadcast)
    throw CLI::ValidationError("--tlb",
                               "broadcast cannot be used with --strategy ipi (that strategy relies "
                               "on flush IPIs waiting for irqs-off walkers)");
  return cfg;
}

std::string errno_name(long err) {
  switch (-err) {
    case 0: return "0";
    case EFAULT: return "-EFAULT";
    case ENOMEM: return "-ENOMEM";
    case EINVAL: return "-EINVAL";
    case EEXIST: return "-EEXIST";
    case EBUSY: return "-EBUSY";
    case ENOSPC: return "-ENOSPC";
    case EAGAIN: return "-EAGAIN";
    case EPERM: return "-EPERM";
    default: return fmt::format("{} ({})", err, std::strerror(static_cast<int>(-err)));
  }
}

std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), s;
  for (size_t i = 0; i < digits.size(); i++) {
    if (i && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

std::string frames_size(unsigned long frames) {
  unsigned long bytes = frames << PAGE_SHIFT;
  if (bytes % (1ul << 30) == 0) return fmt::format("{} GiB", bytes >> 30);
  if (bytes % (1ul << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  return fmt::format("{} KiB", bytes >> 10);
}

}  // namespace gupfast::cli
