// The kernel's own pin paths, on a real 4 MiB buffer (1024 x 4 KiB pages, or two 2 MiB THP
// folios) of this process, in the same run as our figures:
//
//   pin/{4k,thp}/kernel/io_uring   io_uring_register_buffers + io_uring_unregister_buffers:
//                                  io_sqe_buffer_register -> io_pin_pages ->
//                                  pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM), then
//                                  unpin on unregister; plus the registration's own work
//                                  (bvec table, accounting, folio coalescing)
//   pin/{4k,thp}/kernel/vmsplice   vmsplice of the buffer into a pipe (GUP-fast references,
//                                  FOLL_GET, iov_iter_get_pages) + splice to /dev/null
//                                  (which drops them); plus the pipe work
//
// Both are upper bounds on the kernel's GUP-fast cost: each adds its syscall and its own
// bookkeeping. Where the kernel refuses (io_uring disabled by sysctl or seccomp in a
// container, RLIMIT_MEMLOCK too small), the row is skipped with "n/a (<errno name>)" and
// the report leaves its ratios null.
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "fixture.h"
#include "suite.h"

namespace gupfast::bench {

namespace {

constexpr size_t BUF_LEN = NPAGES * 4096;
constexpr size_t HUGE = 2u << 20;

void skip_errno(benchmark::State& state, const char* what, int err) {
  state.SkipWithError(fmt::format("n/a ({}: {})", errno_name(err), what).c_str());
}

// AnonHugePages of the mapping that contains addr, in KiB (/proc/self/smaps), or -1.
long anon_huge_kib(const void* addr) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  auto a = reinterpret_cast<uintptr_t>(addr);
  bool inside = false;
  while (std::getline(in, line)) {
    uintptr_t lo, hi;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = lo <= a && a < hi;
      continue;
    }
    long kib;
    if (inside && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kib) == 1) return kib;
  }
  return -1;
}

// A real 4 MiB anonymous buffer, faulted in: small pages (MADV_NOHUGEPAGE) or 2 MiB THP
// folios (2 MiB-aligned, MADV_HUGEPAGE; the row is n/a if the kernel gives small pages).
class user_buffer {
 public:
  user_buffer(benchmark::State& state, bool thp) {
    map_len_ = BUF_LEN + HUGE;
    void* p = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      skip_errno(state, "mmap", errno);
      return;
    }
    map_ = static_cast<char*>(p);
    buf_ = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(map_) + HUGE - 1) & ~(HUGE - 1));
    if (madvise(buf_, BUF_LEN, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) {
      skip_errno(state, thp ? "madvise(MADV_HUGEPAGE)" : "madvise(MADV_NOHUGEPAGE)", errno);
      return;
    }
    for (size_t off = 0; off < BUF_LEN; off += 4096) buf_[off] = 1;
    if (thp && anon_huge_kib(buf_) < static_cast<long>(BUF_LEN / 1024)) {
      state.SkipWithError("n/a (no THP: see /sys/kernel/mm/transparent_hugepage/enabled)");
      return;
    }
    ok_ = true;
  }
  ~user_buffer() {
    if (map_) munmap(map_, map_len_);
  }
  bool ok() const { return ok_; }
  char* data() const { return buf_; }

 private:
  char* map_ = nullptr;
  size_t map_len_ = 0;
  char* buf_ = nullptr;
  bool ok_ = false;
};

// Registered buffers count against RLIMIT_MEMLOCK for users without CAP_IPC_LOCK: raise
// the soft limit to the hard one. If that is still too small, registration fails with
// ENOMEM and the row says so.
void raise_memlock() {
  rlimit r;
  if (getrlimit(RLIMIT_MEMLOCK, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_MEMLOCK, &r);
  }
}

void bm_io_uring(benchmark::State& state, bool thp) {
  user_buffer buf(state, thp);
  if (!buf.ok()) return;
  raise_memlock();
  io_uring ring;
  if (int r = io_uring_queue_init(4, &ring, 0); r < 0) {
    skip_errno(state, "io_uring_queue_init", -r);
    return;
  }
  iovec iov{buf.data(), BUF_LEN};
  for (auto _ : state) {
    if (int r = io_uring_register_buffers(&ring, &iov, 1); r < 0) {
      skip_errno(state, r == -ENOMEM ? "io_uring_register_buffers, RLIMIT_MEMLOCK?" : "io_uring_register_buffers", -r);
      break;
    }
    if (int r = io_uring_unregister_buffers(&ring); r < 0) {
      skip_errno(state, "io_uring_unregister_buffers", -r);
      break;
    }
  }
  io_uring_queue_exit(&ring);
  state.counters[PAGES_PER_ITER] = static_cast<double>(NPAGES);
}

void bm_vmsplice(benchmark::State& state, bool thp) {
  user_buffer buf(state, thp);
  if (!buf.ok()) return;
  int pfd[2];
  if (pipe(pfd) != 0) {
    skip_errno(state, "pipe", errno);
    return;
  }
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull < 0) {
    skip_errno(state, "open /dev/null", errno);
    close(pfd[0]);
    close(pfd[1]);
    return;
  }
  // A bigger pipe means fewer syscalls per buffer: 1 MiB is the default pipe-max-size.
  fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);
  for (auto _ : state) {
    size_t off = 0;
    while (off < BUF_LEN) {
      iovec iov{buf.data() + off, BUF_LEN - off};
      ssize_t in = vmsplice(pfd[1], &iov, 1, 0);
      if (in <= 0) break;
      ssize_t out = 0;
      while (out < in) {
        ssize_t k = splice(pfd[0], nullptr, devnull, nullptr, static_cast<size_t>(in - out), 0);
        if (k <= 0) break;
        out += k;
      }
      if (out != in) break;
      off += static_cast<size_t>(in);
    }
    if (off != BUF_LEN) {
      skip_errno(state, "vmsplice/splice", errno);
      break;
    }
  }
  close(devnull);
  close(pfd[0]);
  close(pfd[1]);
  state.counters[PAGES_PER_ITER] = static_cast<double>(NPAGES);
}

}  // namespace

void register_kernel_suite(std::vector<std::string>* ids, const suite_timing& t) {
  for (bool thp : {false, true}) {
    const char* size = thp ? "thp" : "4k";
    register_one(
        ids, fmt::format("pin/{}/kernel/io_uring", size), [thp](benchmark::State& s) { bm_io_uring(s, thp); },
        t.min_time, t.repetitions);
    register_one(
        ids, fmt::format("pin/{}/kernel/vmsplice", size), [thp](benchmark::State& s) { bm_vmsplice(s, thp); },
        t.min_time, t.repetitions);
  }
}

}  // namespace gupfast::bench
