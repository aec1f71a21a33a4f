// The differential fuzzer's reference (docs/fuzzing.md): what a process's memory must look
// like after a sequence of mm and GUP calls, written from the syscalls' contracts and the
// kernel's documented semantics (mmap(2), mprotect(2), madvise(2), fork(2),
// Documentation/core-api/pin_user_pages.rst), not from our implementation: a flat map from
// page address to protection and content, no page tables, no refcounts, no folios.
//
// The model of a page:
//   - a private page is unfaulted (reads zero) or holds an object of its own; fork gives the
//     child a copy of every object (copy-on-write is invisible to the processes), so a
//     parent's object is never shared and a pin of it stays coherent with the parent's view
//     (pin_user_pages.rst: a pinned anonymous page is copied for the child at fork);
//   - a shared (MAP_SHARED anonymous) page is an object every mapper of it sees;
//   - a pin or a reference names the object it took; it outlives munmap and MADV_DONTNEED.
//   - a read-only pin of an unfaulted private page (no FOLL_LONGTERM, which unshares it:
//     gup_must_unshare) takes either the zero page, which stays zero whatever the process
//     does, or, in a THP mapping without the huge zero page (use_zero_page=0, as this
//     machine), the huge folio the read fault allocated, which later writes reach. Both are
//     the kernel's behaviour, so such a page is not compared (nullptr); the driver checks
//     instead that the zero page stays zero.
// Errors follow docs/errors.md, which follows the kernel's checks and their order.
#pragma once
#include <array>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace gupfast_fuzz {

inline constexpr unsigned long RPAGE = 4096;

struct object {
  std::array<uint8_t, RPAGE> bytes{};
};
using obj_ptr = std::shared_ptr<object>;

struct vpage {
  bool read = false, write = false;
  bool shared = false;
  obj_ptr obj;  // nullptr: unfaulted (a private page reads zero)
};

struct space {
  std::map<unsigned long, vpage> pages;  // by page address
};

// What a GUP call took: one object per page (nullptr: not compared, see above).
struct taken {
  std::vector<obj_ptr> objs;
  bool pin = false, write = false;
};

class reference {
 public:
  reference(unsigned long task_size, unsigned long mmap_min) : task_size_(task_size), mmap_min_(mmap_min) {}

  // ---- syscalls: the value the call returns ----------------------------------------------
  // A fixed address (MAP_FIXED_NOREPLACE): the kernel's order of checks. flags: 1 shared,
  // 2 private, 0x40000 a THP hint (contents are the same); other bits and prot bits beyond
  // read/write are refused with the mapping type.
  long mmap(space& s, unsigned long addr, unsigned long len, int prot, int flags) {
    if (len == 0) return -EINVAL;
    unsigned long alen = align(len);
    if (alen == 0 || alen > task_size_) return -ENOMEM;
    if (addr > task_size_ - alen) return -ENOMEM;
    if (addr & (RPAGE - 1)) return -EINVAL;
    if (addr < mmap_min_) return -EPERM;
    for (unsigned long a = addr; a < addr + alen; a += RPAGE)
      if (s.pages.count(a)) return -EEXIST;
    bool shared = flags & 1, private_ = flags & 2;
    if (shared == private_ || (flags & ~(1 | 2 | 0x40000)) || (prot & ~3)) return -EINVAL;
    for (unsigned long a = addr; a < addr + alen; a += RPAGE) {
      vpage p;
      p.read = prot != 0;  // PROT_WRITE implies read here, as on x86
      p.write = prot & 2;
      p.shared = shared;
      if (shared) p.obj = std::make_shared<object>();
      s.pages[a] = p;
    }
    return static_cast<long>(addr);
  }

  int munmap(space& s, unsigned long addr, unsigned long len) {
    if (!range_ok(addr, len)) return -EINVAL;
    unsigned long end = addr + align(len);
    s.pages.erase(s.pages.lower_bound(addr), s.pages.lower_bound(end));
    return 0;
  }

  int mprotect(space& s, unsigned long addr, unsigned long len, int prot) {
    if (addr & (RPAGE - 1)) return -EINVAL;
    if (len == 0) return 0;
    unsigned long end = addr + align(len);
    if (end <= addr) return -ENOMEM;
    if (prot & ~3) return -EINVAL;
    if (end > task_size_) return -ENOMEM;
    for (unsigned long a = addr; a < end; a += RPAGE)
      if (!s.pages.count(a)) return -ENOMEM;  // a hole: nothing changes
    for (unsigned long a = addr; a < end; a += RPAGE) {
      s.pages[a].read = prot != 0;
      s.pages[a].write = prot & 2;
    }
    return 0;
  }

  // MADV_DONTNEED: private pages read zero afterwards, shared ones keep their data.
  int dontneed(space& s, unsigned long addr, unsigned long len) {
    if (addr & (RPAGE - 1)) return -EINVAL;
    unsigned long alen = align(len);
    if (len && !alen) return -EINVAL;
    unsigned long end = addr + alen;
    if (end < addr) return -EINVAL;
    if (end == addr) return 0;
    bool hole = end > task_size_;
    for (unsigned long a = addr; a < end && a < task_size_; a += RPAGE) {
      auto it = s.pages.find(a);
      if (it == s.pages.end()) {
        hole = true;
        continue;
      }
      if (!it->second.shared) it->second.obj = nullptr;
    }
    return hole ? -ENOMEM : 0;
  }

  void fork(const space& parent, space* child) {
    child->pages.clear();
    for (auto& [a, p] : parent.pages) {
      vpage c = p;
      if (!p.shared && p.obj) c.obj = std::make_shared<object>(*p.obj);
      child->pages[a] = c;
    }
  }

  // ---- the process's accesses: 0 or -EFAULT ----------------------------------------------
  int load(space& s, unsigned long addr, uint8_t* v) {
    auto it = s.pages.find(addr & ~(RPAGE - 1));
    if (it == s.pages.end() || !it->second.read) return -EFAULT;
    *v = it->second.obj ? it->second.obj->bytes[addr & (RPAGE - 1)] : 0;
    return 0;
  }
  int store(space& s, unsigned long addr, uint8_t v) {
    auto it = s.pages.find(addr & ~(RPAGE - 1));
    if (it == s.pages.end() || !it->second.write) return -EFAULT;
    own(it->second)->bytes[addr & (RPAGE - 1)] = v;
    return 0;
  }

  // ---- GUP: the number of pages taken (a prefix) or the errno of the first ---------------
  // Flag and range errors are the caller's (docs/errors.md); here, per page: no VMA -EFAULT;
  // a write where the VMA is read-only: FOLL_FORCE writes private pages (COW), else -EFAULT;
  // a read of PROT_NONE only with FOLL_FORCE.
  long gup(space& s, unsigned long start, long n, bool write, bool force, bool longterm, bool pin, taken* out) {
    start &= ~(RPAGE - 1);
    long i = 0;
    for (; i < n; i++) {
      auto it = s.pages.find(start + i * RPAGE);
      if (it == s.pages.end()) break;
      vpage& p = it->second;
      if (write && !p.write && (!force || p.shared)) break;
      if (!write && !p.read && !force) break;
      obj_ptr o;
      if (p.shared) {
        o = p.obj;
      } else if (write || p.obj || (pin && longterm)) {
        o = own(p);  // a write, or a long-term pin, makes the page the process's own first
      } else {
        o = nullptr;  // an unfaulted private page, read: the zero page or a fresh THP
      }
      out->objs.push_back(o);
    }
    out->pin = pin;
    out->write = write;
    return i ? i : -EFAULT;
  }

 private:
  static unsigned long align(unsigned long len) { return (len + RPAGE - 1) & ~(RPAGE - 1); }
  bool range_ok(unsigned long addr, unsigned long len) const {
    if (addr & (RPAGE - 1)) return false;
    if (len == 0) return false;
    unsigned long alen = align(len);
    if (alen < len) return false;
    if (addr + alen < addr) return false;
    return addr + alen <= task_size_;
  }
  static const obj_ptr& own(vpage& p) {
    if (!p.obj) p.obj = std::make_shared<object>();
    return p.obj;
  }

  unsigned long task_size_, mmap_min_;
};

}  // namespace gupfast_fuzz
