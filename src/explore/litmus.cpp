// The litmus parser (explore/litmus.h; the grammar is docs/litmus.md's).
//
// Line oriented: a line is a statement, an optional `# comment`, or nothing. Sections
// (`setup:`, `thread NAME:`) collect the operation lines that follow them, whatever their
// indentation; `litmus`, `machine` and `expect` lines may appear anywhere outside an
// operation. The first error ends the parse.
#include "explore/litmus.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "check/oracle.h"
#include "machine/config.h"

namespace gupfast::litmus {

namespace {

constexpr const char* OP_NAMES[] = {
    "mmap",     "munmap",  "mprotect", "madvise_dontneed", "read",  "write",
    "pin_fast", "get_fast", "pin",     "get",              "unpin", "dma_write",
    "reclaim",  "migrate", "split",    "collapse",         "fork",  "mbind", "madvise_free",
};

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> w;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) j++;
    if (j > i) w.push_back(s.substr(i, j - i));
    i = j;
  }
  return w;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_on(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return out;
    i = j + 1;
  }
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::optional<unsigned long> parse_hex(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty()) return std::nullopt;
  unsigned long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<long> parse_dec(std::string_view s) {
  long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// One statement's parse: fills `err` (the message, without location) on failure.
struct line_parser {
  std::string err;

  bool fail(std::string m) {
    if (err.empty()) err = std::move(m);
    return false;
  }

  bool addr(std::string_view w, unsigned long* out) {
    auto v = parse_addr(w);
    if (!v) return fail(fmt::format("'{}' is not an address (hex, e.g. 0x200000)", w));
    if (*v & 0xfff) return fail(fmt::format("address {} is not 4 KiB aligned", w));
    *out = *v;
    return true;
  }

  // read/write take any byte address; everything else a page address.
  bool byte_addr(std::string_view w, unsigned long* out) {
    auto v = parse_addr(w);
    if (!v) return fail(fmt::format("'{}' is not an address (hex, e.g. 0x200000)", w));
    *out = *v;
    return true;
  }

  bool len(std::string_view w, unsigned long* out) {
    auto v = parse_len(w);
    if (!v || *v == 0) return fail(fmt::format("'{}' is not a length (hex, or with K/M: 4K, 2M)", w));
    if (*v & 0xfff) return fail(fmt::format("length {} is not a multiple of 4K", w));
    *out = *v;
    return true;
  }

  bool byte(std::string_view w, uint8_t* out) {
    auto v = parse_hex(w);
    if (!v || *v > 0xff) return fail(fmt::format("'{}' is not a byte (hex, 0x00 to 0xff)", w));
    *out = static_cast<uint8_t>(*v);
    return true;
  }

  bool arity(const std::vector<std::string_view>& w, size_t lo, size_t hi, const char* usage) {
    if (w.size() - 1 < lo || w.size() - 1 > hi) return fail(fmt::format("usage: {}", usage));
    return true;
  }

  bool parse_op(const std::vector<std::string_view>& w, op* o) {
    std::string_view k = w[0];
    auto it = std::find(std::begin(OP_NAMES), std::end(OP_NAMES), k);
    if (it == std::end(OP_NAMES)) return fail(fmt::format("unknown operation '{}'", k));
    o->kind = static_cast<op_kind>(it - std::begin(OP_NAMES));
    switch (o->kind) {
      case op_kind::mmap: {
        if (!arity(w, 2, 5, "mmap ADDR LEN [anon|shared] [rw|r|none] [thp]")) return false;
        if (!addr(w[1], &o->addr) || !len(w[2], &o->len)) return false;
        std::set<std::string_view> seen;
        for (size_t i = 3; i < w.size(); i++) {
          std::string_view f = w[i];
          if (f == "anon") o->shared = false;
          else if (f == "shared") o->shared = true;
          else if (f == "rw") o->protection = prot::rw;
          else if (f == "ro" || f == "r") o->protection = prot::r;
          else if (f == "none") o->protection = prot::none;
          else if (f == "thp") o->thp = true;
          else return fail(fmt::format("mmap: unknown flag '{}' (anon, shared, rw, ro, none, thp)", f));
          if (!seen.insert(f).second) return fail(fmt::format("mmap: '{}' given twice", f));
        }
        return true;
      }
      case op_kind::munmap:
      case op_kind::madvise_dontneed:
      case op_kind::madvise_free:
      case op_kind::reclaim:
      case op_kind::migrate: {
        std::string usage = fmt::format("{} ADDR LEN", k);
        if (!arity(w, 2, 2, usage.c_str())) return false;
        return addr(w[1], &o->addr) && len(w[2], &o->len);
      }
      case op_kind::mprotect: {
        if (!arity(w, 3, 3, "mprotect ADDR LEN none|r|rw")) return false;
        if (!addr(w[1], &o->addr) || !len(w[2], &o->len)) return false;
        if (w[3] == "none") o->protection = prot::none;
        else if (w[3] == "r" || w[3] == "ro") o->protection = prot::r;
        else if (w[3] == "rw") o->protection = prot::rw;
        else return fail(fmt::format("mprotect: '{}' is not one of none, r, rw", w[3]));
        return true;
      }
      case op_kind::read:
        if (!arity(w, 1, 1, "read ADDR")) return false;
        return byte_addr(w[1], &o->addr);
      case op_kind::write:
        if (!arity(w, 2, 2, "write ADDR BYTE")) return false;
        return byte_addr(w[1], &o->addr) && byte(w[2], &o->byte);
      case op_kind::pin_fast:
      case op_kind::get_fast:
      case op_kind::pin:
      case op_kind::get: {
        std::string usage = fmt::format("{} ADDR NPAGES [write] [longterm]", k);
        if (!arity(w, 2, 4, usage.c_str())) return false;
        if (!addr(w[1], &o->addr)) return false;
        auto n = parse_dec(w[2]);
        if (!n || *n < 1 || *n > MAX_GUP_PAGES)
          return fail(fmt::format("'{}' is not a page count (1 to {})", w[2], MAX_GUP_PAGES));
        o->npages = *n;
        for (size_t i = 3; i < w.size(); i++) {
          if (w[i] == "write" && !o->write) o->write = true;
          else if (w[i] == "longterm" && !o->longterm) o->longterm = true;
          else return fail(fmt::format("{}: unexpected '{}' (write, longterm)", k, w[i]));
        }
        if (o->longterm && (o->kind == op_kind::get_fast || o->kind == op_kind::get))
          return fail(fmt::format("{}: longterm needs a pin (FOLL_LONGTERM only with FOLL_PIN)", k));
        return true;
      }
      case op_kind::unpin:
        if (!arity(w, 0, 1, "unpin [dirty]")) return false;
        if (w.size() == 2 && w[1] != "dirty") return fail(fmt::format("unpin: unexpected '{}' (dirty)", w[1]));
        o->dirty = w.size() == 2;
        return true;
      case op_kind::fork:
        return arity(w, 0, 0, std::string(k).c_str());
      case op_kind::dma_write:
        if (!arity(w, 1, 1, "dma_write BYTE")) return false;
        return byte(w[1], &o->byte);
      case op_kind::mbind: {
        if (!arity(w, 3, 3, "mbind ADDR LEN NODE")) return false;
        if (!addr(w[1], &o->addr) || !len(w[2], &o->len)) return false;
        auto n = parse_dec(w[3]);
        if (!n || *n < 0 || *n > 1) return fail(fmt::format("mbind: '{}' is not a node (0 or 1)", w[3]));
        o->node = static_cast<int>(*n);
        return true;
      }
      case op_kind::split:
      case op_kind::collapse: {
        std::string usage = fmt::format("{} ADDR", k);
        if (!arity(w, 1, 1, usage.c_str())) return false;
        return addr(w[1], &o->addr);
      }
    }
    return fail("unreachable");
  }

  bool parse_expect(const std::vector<std::string_view>& w, expectation* e) {
    if (w.size() < 2) return fail("usage: expect KIND[|KIND] [with MUTANT[,MUTANT]] [on KEY=V[,V] ...]");
    for (std::string_view k : split_on(w[1], '|')) {
      check::violation_kind vk;
      if (k != "ok" && !check::parse_violation_kind(std::string(k), &vk))
        return fail(fmt::format("expect: '{}' is not ok or a violation kind ({})", k, kind_list()));
      e->kinds.emplace_back(k);
    }
    if (e->kinds.size() > 1 && std::count(e->kinds.begin(), e->kinds.end(), "ok"))
      return fail("expect: ok cannot be an alternative to a violation");
    size_t i = 2;
    if (i < w.size() && w[i] == "with") {
      if (i + 1 >= w.size()) return fail("expect: 'with' needs a mutant list");
      std::string bad;
      auto mask = parse_unsafe_list(w[i + 1], &bad);
      if (!mask) return fail(fmt::format("expect: '{}' is not a mutant (see docs/litmus.md)", bad));
      e->unsafe = *mask;
      e->unsafe_names = unsafe_mask_names(*mask);
      i += 2;
    }
    if (i < w.size()) {
      if (w[i] != "on") return fail(fmt::format("expect: unexpected '{}' (with MUTANTS, on KEY=V)", w[i]));
      if (++i == w.size()) return fail("expect: 'on' needs KEY=V[,V] settings");
      for (; i < w.size(); i++) {
        size_t eq = w[i].find('=');
        if (eq == std::string_view::npos) return fail(fmt::format("expect: '{}' is not KEY=V[,V]", w[i]));
        std::string key(w[i].substr(0, eq));
        if (e->on.count(key)) return fail(fmt::format("expect: '{}' given twice", key));
        for (std::string_view v : split_on(w[i].substr(eq + 1), ',')) {
          machine_settings probe;
          std::string m = parse_machine_words(fmt::format("{}={}", key, v), &probe);
          if (!m.empty()) return fail("expect: " + m);
          if (key == "pt-reclaim" || key == "nodes" || key == "geometry") return fail("expect: " + key + " belongs on the machine line");
          e->on[key].emplace_back(v);
        }
      }
    }
    return true;
  }

  static std::string kind_list() {
    std::string s;
    for (int k = 0; k < check::NR_VIOLATION_KINDS; k++) {
      if (k) s += ", ";
      s += check::to_string(static_cast<check::violation_kind>(k));
    }
    return s;
  }
};

// `search bound=N stale-bound=N max-steps=N max-executions=N time-limit=SECONDS`
std::string parse_search_words(const std::vector<std::string_view>& w, search_settings* s) {
  for (size_t i = 1; i < w.size(); i++) {
    size_t eq = w[i].find('=');
    if (eq == std::string_view::npos) return fmt::format("'{}' is not KEY=VALUE", w[i]);
    std::string_view key = w[i].substr(0, eq), v = w[i].substr(eq + 1);
    auto n = parse_dec(v);
    if (key == "bound" && n && *n >= 0 && *n <= 10) s->bound = static_cast<int>(*n);
    else if (key == "stale-bound" && n && *n >= 0 && *n <= 10) s->stale_bound = static_cast<int>(*n);
    else if (key == "max-steps" && n && *n > 0) s->max_steps = static_cast<uint64_t>(*n);
    else if (key == "max-executions" && n && *n > 0) s->max_executions = static_cast<uint64_t>(*n);
    else if (key == "time-limit" && n && *n > 0) s->time_limit = static_cast<double>(*n);
    else if (key != "bound" && key != "stale-bound" && key != "max-steps" && key != "max-executions" &&
             key != "time-limit")
      return fmt::format("unknown setting '{}' (bound, stale-bound, max-steps, max-executions, time-limit)", key);
    else return fmt::format("{}: '{}' is not a valid value", key, v);
  }
  return {};
}

// `zoo commit=ID[,ID] year=YYYY release=R revert=MUTANTS [era=MUTANTS]`
std::string parse_zoo_words(const std::vector<std::string_view>& w, zoo_entry* z) {
  std::set<std::string_view> seen;
  for (size_t i = 1; i < w.size(); i++) {
    size_t eq = w[i].find('=');
    if (eq == std::string_view::npos) return fmt::format("'{}' is not KEY=VALUE", w[i]);
    std::string_view key = w[i].substr(0, eq), v = w[i].substr(eq + 1);
    if (!seen.insert(key).second) return fmt::format("'{}' given twice", key);
    if (key == "commit") {
      for (std::string_view c : split_on(v, ',')) {
        bool hex = std::all_of(c.begin(), c.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); });
        if (c.size() < 12 || c.size() > 40 || !hex)
          return fmt::format("commit: '{}' is not a commit id (12 to 40 hex digits)", c);
        z->commits.emplace_back(c);
      }
    } else if (key == "year") {
      auto n = parse_dec(v);
      if (!n || *n < 1991 || *n > 2100) return fmt::format("year: '{}' is not a year", v);
      z->year = static_cast<int>(*n);
    } else if (key == "release") {
      if (!valid_name(v)) return fmt::format("release: '{}' is not a release (v6.1, 4.9.188-stable)", v);
      z->release = std::string(v);
    } else if (key == "revert" || key == "era") {
      std::string bad;
      auto mask = parse_unsafe_list(v, &bad);
      if (!mask || !*mask) return fmt::format("{}: '{}' is not a mutant list", key, mask ? v : std::string_view(bad));
      (key == "revert" ? z->revert : z->era) = *mask;
      (key == "revert" ? z->revert_names : z->era_names) = unsafe_mask_names(*mask);
    } else {
      return fmt::format("unknown setting '{}' (commit, year, release, revert, era)", key);
    }
  }
  if (z->commits.empty() || !z->year || z->release.empty() || !z->revert)
    return "usage: zoo commit=ID[,ID] year=YYYY release=R revert=MUTANTS [era=MUTANTS]";
  if (z->revert & z->era) return "a mutant is in both revert and era";
  return {};
}

// A zoo entry must show both sides: a violation found with the fix reverted (revert + era),
// and `ok` with the fix (era alone).
std::string check_zoo_expectations(const file& f) {
  const zoo_entry& z = *f.zoo;
  bool found = false, clean = false;
  for (const expectation& e : f.expects) {
    if (!e.expects_ok() && e.unsafe == (z.revert | z.era)) found = true;
    if (e.expects_ok() && e.unsafe == z.era) clean = true;
  }
  std::string with_era = z.era ? " with " + z.era_names : "";
  if (!found)
    return fmt::format("zoo: no 'expect KIND with {}' line: the race with the fix reverted",
                       unsafe_mask_names(z.revert | z.era));
  if (!clean) return fmt::format("zoo: no 'expect ok{}' line: the fix closes the race", with_era);
  return {};
}

}  // namespace

const char* to_string(op_kind k) { return OP_NAMES[static_cast<int>(k)]; }

std::string parse_error::what() const { return fmt::format("{}:{}: {}", path, line, message); }

const op* file::op_at(int line) const {
  for (const op& o : setup)
    if (o.line == line) return &o;
  for (const thread& t : threads)
    for (const op& o : t.ops)
      if (o.line == line) return &o;
  return nullptr;
}

std::optional<unsigned long> parse_addr(std::string_view s) { return parse_hex(s); }

std::optional<unsigned long> parse_len(std::string_view s) {
  if (s.empty()) return std::nullopt;
  char u = s.back();
  unsigned long mult = 1;
  if (u == 'K' || u == 'k') mult = 1ul << 10;
  else if (u == 'M' || u == 'm') mult = 1ul << 20;
  if (mult == 1) return parse_hex(s);
  auto n = parse_dec(s.substr(0, s.size() - 1));
  if (!n || *n <= 0 || static_cast<unsigned long>(*n) > (1ul << 40) / mult) return std::nullopt;
  return static_cast<unsigned long>(*n) * mult;
}

std::string parse_machine_words(std::string_view words, machine_settings* s) {
  for (std::string_view w : split_words(words)) {
    size_t eq = w.find('=');
    if (eq == std::string_view::npos) return fmt::format("'{}' is not KEY=VALUE", w);
    std::string_view key = w.substr(0, eq), v = w.substr(eq + 1);
    std::string val(v);
    if (key == "strategy") {
      if (!parse_strategy(v)) return fmt::format("strategy: '{}' is not one of ipi,rcu,seqcount", v);
      s->strategy = val;
    } else if (key == "tlb") {
      if (!parse_tlb_mode(v)) return fmt::format("tlb: '{}' is not one of ipi,broadcast", v);
      s->tlb = val;
    } else if (key == "pte") {
      if (!parse_pte_mode(v)) return fmt::format("pte: '{}' is not one of native,pae", v);
      s->pte = val;
    } else if (key == "seq-scope") {
      if (!parse_seq_scope(v)) return fmt::format("seq-scope: '{}' is not one of mm,table", v);
      s->seq_scope = val;
    } else if (key == "pt-reclaim") {
      if (v != "on" && v != "off") return fmt::format("pt-reclaim: '{}' is not one of on,off", v);
      s->pt_reclaim = v == "on";
    } else if (key == "nodes") {
      if (v != "1" && v != "2") return fmt::format("nodes: '{}' is not one of 1,2", v);
      s->nodes = v == "2" ? 2 : 1;
    } else if (key == "geometry") {
      if (!parse_geometry(v)) return fmt::format("geometry: '{}' is not one of x86-64,small", v);
      s->geometry = val;
    } else if (key == "memory") {
      if (v != "sc" && v != "tso" && v != "weak") return fmt::format("memory: '{}' is not one of sc,tso,weak", v);
      s->memory = val;
    } else {
      return fmt::format(
          "unknown machine setting '{}' (strategy, tlb, pte, seq-scope, nodes, pt-reclaim, geometry, memory)", key);
    }
  }
  return {};
}

std::optional<file> parse(std::string_view text, const std::string& path, parse_error* err) {
  file f;
  f.path = path;
  f.source = std::string(text);
  enum { NONE, SETUP, THREAD } section = NONE;
  std::set<std::string> thread_names;
  bool saw_machine = false, saw_litmus = false, saw_setup = false, saw_search = false;
  int lineno = 0;
  auto error = [&](int line, std::string m) {
    *err = parse_error{path, line, std::move(m)};
    return std::nullopt;
  };

  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    lineno++;
    size_t hash = raw.find('#');
    std::string_view body = trim(raw.substr(0, hash));
    if (body.empty()) {
      if (hash != std::string_view::npos && !saw_litmus && f.about.empty())
        f.about = std::string(trim(raw.substr(hash + 1)));
      continue;
    }
    auto w = split_words(body);
    line_parser p;

    if (w[0] == "litmus") {
      if (saw_litmus) return error(lineno, "a second 'litmus' line");
      if (w.size() != 2 || !valid_name(w[1])) return error(lineno, "usage: litmus NAME (letters, digits, - _ .)");
      f.name = std::string(w[1]);
      saw_litmus = true;
      continue;
    }
    if (w[0] == "machine") {
      if (saw_machine) return error(lineno, "a second 'machine' line");
      saw_machine = true;
      std::string m = parse_machine_words(body.substr(7), &f.machine);
      if (!m.empty()) return error(lineno, "machine: " + m);
      continue;
    }
    if (w[0] == "search") {
      if (saw_search) return error(lineno, "a second 'search' line");
      saw_search = true;
      std::string m = parse_search_words(w, &f.search);
      if (!m.empty()) return error(lineno, "search: " + m);
      continue;
    }
    if (w[0] == "zoo") {
      if (f.zoo) return error(lineno, "a second 'zoo' line");
      zoo_entry z;
      z.line = lineno;
      std::string m = parse_zoo_words(w, &z);
      if (!m.empty()) return error(lineno, "zoo: " + m);
      f.zoo = std::move(z);
      continue;
    }
    if (w[0] == "expect") {
      expectation e;
      e.line = lineno;
      e.text = std::string(body);
      if (!p.parse_expect(w, &e)) return error(lineno, p.err);
      f.expects.push_back(std::move(e));
      section = NONE;
      continue;
    }
    if (w[0] == "setup:" || (w[0] == "setup" && w.size() == 2 && w[1] == ":")) {
      if (saw_setup) return error(lineno, "a second 'setup:' section");
      if (!f.threads.empty()) return error(lineno, "'setup:' must come before the threads");
      saw_setup = true;
      section = SETUP;
      continue;
    }
    if (w[0] == "thread") {
      std::string name(body.substr(6));
      name = std::string(trim(name));
      if (name.empty() || name.back() != ':') return error(lineno, "usage: thread NAME [child]:");
      name.pop_back();
      name = std::string(trim(name));
      bool child = false;
      if (size_t sp = name.find_first_of(" \t"); sp != std::string::npos) {
        if (trim(name.substr(sp)) != "child") return error(lineno, "usage: thread NAME [child]:");
        child = true;
        name = std::string(trim(name.substr(0, sp)));
      }
      if (!valid_name(name)) return error(lineno, fmt::format("'{}' is not a thread name", name));
      if (!thread_names.insert(name).second) return error(lineno, fmt::format("thread {} defined twice", name));
      if (static_cast<int>(f.threads.size()) == MAX_THREADS)
        return error(lineno, fmt::format("at most {} threads", MAX_THREADS));
      f.threads.push_back(thread{name, lineno, child, {}});
      section = THREAD;
      continue;
    }
    if (section == NONE)
      return error(lineno, fmt::format("'{}' outside a section (setup:, thread NAME:)", w[0]));
    op o;
    o.line = lineno;
    o.text = std::string(body);
    if (!p.parse_op(w, &o)) return error(lineno, p.err);
    if (section == SETUP) {
      f.setup.push_back(std::move(o));
    } else {
      f.threads.back().ops.push_back(std::move(o));
    }
  }

  if (!saw_litmus) return error(lineno ? lineno : 1, "no 'litmus NAME' line");
  if (f.threads.empty()) return error(lineno ? lineno : 1, "no threads (thread NAME:)");
  bool setup_forks = std::any_of(f.setup.begin(), f.setup.end(), [](const op& o) { return o.kind == op_kind::fork; });
  for (const thread& t : f.threads) {
    if (t.ops.empty()) return error(t.line, fmt::format("thread {} has no operations", t.name));
    if (t.child && !setup_forks)
      return error(t.line, fmt::format("thread {} child: setup has no fork (a child thread acts on its child)", t.name));
  }
  if (f.zoo) {
    std::string m = check_zoo_expectations(f);
    if (!m.empty()) return error(f.zoo->line, m);
  }
  // A thread's pages (and setup's): dma_write and unpin need pages held; GUP needs none.
  std::vector<const std::vector<op>*> lists{&f.setup};
  for (const thread& t : f.threads) lists.push_back(&t.ops);
  for (const std::vector<op>* ops : lists) {
    bool held = false;
    for (const op& o : *ops) {
      if (is_gup(o.kind)) {
        if (held) return error(o.line, "pages are held already: unpin them first");
        held = true;
      } else if (o.kind == op_kind::unpin || o.kind == op_kind::dma_write) {
        if (!held) return error(o.line, fmt::format("{}: no pages are held here", to_string(o.kind)));
        if (o.kind == op_kind::unpin) held = false;
      }
    }
  }
  return f;
}

}  // namespace gupfast::litmus
