#include "pgtable/geometry.h"

GUPFAST_NS_BEGIN

namespace {
constexpr geometry_values derive(pgtable_geometry kind, int bits) {
  geometry_values g{};
  g.kind = kind;
  g.table_bits = bits;
  g.ptrs_per_table = 1 << bits;
  g.pmd_shift = PAGE_SHIFT + bits;
  g.pud_shift = g.pmd_shift + bits;
  g.pgdir_shift = g.pud_shift + bits;
  g.pmd_size = 1ul << g.pmd_shift;
  g.pmd_mask = ~(g.pmd_size - 1);
  g.pud_size = 1ul << g.pud_shift;
  g.pud_mask = ~(g.pud_size - 1);
  g.pgdir_size = 1ul << g.pgdir_shift;
  g.pgdir_mask = ~(g.pgdir_size - 1);
  // Four levels translate pgdir_shift + bits address bits; the user half is the lower half.
  g.task_size = (1ul << (g.pgdir_shift + bits - 1)) - PAGE_SIZE;
  g.hpage_pmd_order = bits;
  g.hpage_pmd_nr = 1 << bits;
  g.hpage_pmd_size = g.pmd_size;
  return g;
}
constexpr int bits_of(pgtable_geometry g) { return g == pgtable_geometry::small ? 4 : 9; }
}  // namespace

// Constant-initialized: code that runs before any machine exists sees x86-64.
GUPFAST_WORLD geometry_values g_geometry = derive(pgtable_geometry::x86_64, 9);
static_assert(derive(pgtable_geometry::x86_64, 9).pmd_shift == 21 &&
              derive(pgtable_geometry::x86_64, 9).task_size == (1ul << 47) - PAGE_SIZE);
static_assert(derive(pgtable_geometry::x86_64, 9).hpage_pmd_order == HPAGE_PMD_ORDER_MAX);

geometry_values geometry_of(pgtable_geometry g) { return derive(g, bits_of(g)); }
void geometry_set(pgtable_geometry g) { g_geometry = geometry_of(g); }

namespace {
constexpr int X86_BITS = 9;
// Re-encode the four table indices of a (from `from` bits per index to `to`), keeping the
// page offset; nullopt if an index does not fit in `to` bits.
std::optional<unsigned long> reencode(unsigned long a, int from, int to) {
  unsigned long out = a & (PAGE_SIZE - 1);
  for (int level = 0; level < 4; level++) {
    unsigned long idx = (a >> (PAGE_SHIFT + level * from)) & ((1ul << from) - 1);
    if (idx >> to) return std::nullopt;
    out |= idx << (PAGE_SHIFT + level * to);
  }
  if (a >> (PAGE_SHIFT + 4 * from)) return std::nullopt;  // beyond the four levels
  return out;
}
}  // namespace

unsigned long addr_to_x86_64(pgtable_geometry g, unsigned long a) {
  return g == pgtable_geometry::x86_64 ? a : reencode(a, bits_of(g), X86_BITS).value_or(a);
}

std::optional<unsigned long> addr_from_x86_64(pgtable_geometry g, unsigned long x, bool end) {
  if (g == pgtable_geometry::x86_64) return x;
  int bits = bits_of(g);
  if (auto a = reencode(x, X86_BITS, bits)) return a;
  if (end && x) {
    if (auto last = reencode(x - 1, X86_BITS, bits)) return *last + 1;
  }
  return std::nullopt;
}

const char* to_string(pgtable_geometry g) { return g == pgtable_geometry::small ? "small" : "x86-64"; }

std::optional<pgtable_geometry> parse_geometry(std::string_view s) {
  if (s == "x86-64") return pgtable_geometry::x86_64;
  if (s == "small") return pgtable_geometry::small;
  return std::nullopt;
}

GUPFAST_NS_END
