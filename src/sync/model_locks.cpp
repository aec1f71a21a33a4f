// Model backend: spinlock_t and rw_semaphore (sync/model.h). A task that finds a lock held is
// not runnable until it is released (lock_enabled). Under a memory model, taking a lock
// acquires what its last release published and releasing it publishes the CPU's view
// (spin_lock is an acquire, spin_unlock a release: LKMM); under tso every lock operation
// waits for an empty store buffer (sync/model.cpp, drains()).
#include <cstdio>

#include "memory/memory_model.h"
#include "sync/model_state.h"

GUPFAST_NS_BEGIN
namespace sync {

struct rwsem_access {
  static int64_t& readers(rw_semaphore* s) { return s->readers_; }
  static int64_t& writer(rw_semaphore* s) { return s->writer_; }
  // The objects the memory model synchronises through: readers release to and writers
  // acquire from the reader count; everyone acquires what writers released.
  static const void* readers_obj(const rw_semaphore* s) { return &s->readers_; }
  static const void* writer_obj(const rw_semaphore* s) { return &s->writer_; }
};
static_assert(sizeof(rw_semaphore) == 2 * sizeof(int64_t));

namespace rt {
namespace {

constexpr int MAIN_SLOT = NR_TASKS;  // locks held by the explorer's own stack

struct held {
  const void* lock;
  hold how;
};
GUPFAST_WORLD std::vector<held> g_held[NR_TASKS + 1];

int slot() {
  int t = current_task();
  return t < 0 ? MAIN_SLOT : t;
}

struct rwsem_fields {
  int64_t readers;
  int64_t writer;
};
const rwsem_fields* fields(const void* sem) { return static_cast<const rwsem_fields*>(sem); }

}  // namespace

void hold_add(const void* l, hold how) { g_held[slot()].push_back({l, how}); }

void hold_drop(const void* l, hold how) {
  // Usually the caller's own; a lock may be released by another CPU than its taker.
  for (int k = -1; k <= NR_TASKS; k++) {
    int s = k < 0 ? slot() : k;
    for (size_t i = g_held[s].size(); i-- > 0;)
      if (g_held[s][i].lock == l && g_held[s][i].how == how) {
        g_held[s].erase(g_held[s].begin() + static_cast<long>(i));
        return;
      }
  }
}

void holds_reset() {
  for (auto& h : g_held) h.clear();
}

void holds_clear() {
  for (auto& h : g_held) std::vector<held>().swap(h);
}

void holds_release(int task) {
  for (auto it = g_held[task].rbegin(); it != g_held[task].rend(); ++it) {
    switch (it->how) {
      case hold::spin:
        *static_cast<uint32_t*>(const_cast<void*>(it->lock)) = 0;
        break;
      case hold::read:
        rwsem_access::readers(static_cast<rw_semaphore*>(const_cast<void*>(it->lock)))--;
        break;
      case hold::write:
        rwsem_access::writer(static_cast<rw_semaphore*>(const_cast<void*>(it->lock))) = 0;
        break;
    }
  }
  g_held[task].clear();
}

// 1: the explorer's stack; task t: t + 2.
uint32_t owner_tag() { return static_cast<uint32_t>(current_task() + 2); }
std::string owner_name(int64_t v) {
  if (v == 1) return "setup";
  int t = static_cast<int>(v) - 2;
  if (t == explore::detail::RCU_TASK) return "rcu callbacks";
  if (explore::detail::is_irq_task(t)) return "cpu " + std::to_string(explore::detail::fiber_of(t)) + " interrupt";
  return "thread " + std::to_string(t);
}

bool lock_enabled(const pending_op& p) {
  switch (p.kind) {
    case op::lock:
      return *static_cast<const uint32_t*>(p.addr) == 0;
    case op::down_read:
      return fields(p.addr)->writer == 0;
    case op::down_write:
      return fields(p.addr)->writer == 0 && fields(p.addr)->readers == 0;
    default:
      return true;
  }
}

void lock_footprint(const pending_op& p, footprint& fp) {
  const rwsem_fields* s = fields(p.addr);
  switch (p.kind) {
    case op::lock:
    case op::trylock:
    case op::unlock:
      fp.add(p.addr, 4, ACC_WRITE);
      break;
    case op::down_read:
    case op::down_read_trylock:
      fp.add(&s->writer, 8, ACC_READ);
      fp.add(&s->readers, 8, ACC_ADD);
      break;
    case op::up_read:
      fp.add(&s->readers, 8, ACC_ADD);
      break;
    case op::down_write:
    case op::down_write_trylock:
      fp.add(&s->writer, 8, ACC_WRITE);
      fp.add(&s->readers, 8, ACC_READ);
      break;
    case op::up_write:
      fp.add(&s->writer, 8, ACC_WRITE);
      break;
    default:
      break;
  }
}

std::string lock_describe(const pending_op& p) {
  char buf[160];
  if (p.kind == op::lock) {
    uint32_t v = *static_cast<const uint32_t*>(p.addr);
    std::snprintf(buf, sizeof buf, "spin_lock %p held by %s", p.addr, owner_name(v).c_str());
    return buf;
  }
  const rwsem_fields* s = fields(p.addr);
  std::snprintf(buf, sizeof buf, "%s %p (readers %lld, writer %s)", p.kind == op::down_read ? "down_read" : "down_write",
                p.addr, static_cast<long long>(s->readers), s->writer ? owner_name(s->writer).c_str() : "none");
  return buf;
}

}  // namespace rt

using rt::g_sched;
using rt::op;

// ---- spinlock_t -------------------------------------------------------------------------------
void spinlock_t::lock(const site& loc) {
  if (g_sched)
    rt::sched_point(op::lock, &v_, sizeof v_, loc);
  else if (v_ && !rt::unwinding())
    rt::direct_stuck("spin_lock of a lock held", loc);
  uint32_t old = v_;
  v_ = rt::owner_tag();
  if (g_sched) {
    rt::after_write(&v_, sizeof v_, old, v_);
    rt::lock_taken(&v_);
    memory::lock_acquire(this);
  }
  rt::hold_add(this, rt::hold::spin);
}

bool spinlock_t::try_lock(const site& loc) {
  if (g_sched) rt::sched_point(op::trylock, &v_, sizeof v_, loc);
  if (v_) {
    if (g_sched) rt::after_read(&v_, sizeof v_, v_);
    return false;
  }
  v_ = rt::owner_tag();
  if (g_sched) {
    rt::after_write(&v_, sizeof v_, 0, v_);
    rt::lock_taken(&v_);
    memory::lock_acquire(this);
  }
  rt::hold_add(this, rt::hold::spin);
  return true;
}

void spinlock_t::unlock(const site& loc) {
  if (g_sched) {
    rt::sched_point(op::unlock, &v_, sizeof v_, loc);
    memory::release_to(this);
  }
  uint32_t old = v_;
  v_ = 0;
  if (g_sched) {
    rt::after_write(&v_, sizeof v_, old, 0);
    rt::lock_released(&v_);
  }
  rt::hold_drop(this, rt::hold::spin);
}

// ---- rw_semaphore ------------------------------------------------------------------------------
void rw_semaphore::down_read(const site& loc) {
  if (g_sched)
    rt::sched_point(op::down_read, this, 0, loc);
  else if (writer_ && !rt::unwinding())
    rt::direct_stuck("down_read of a semaphore held for write", loc);
  readers_++;
  if (g_sched) {
    rt::after_write(&readers_, 8, static_cast<uint64_t>(readers_ - 1), static_cast<uint64_t>(readers_));
    memory::lock_acquire(rwsem_access::writer_obj(this));
  }
  rt::hold_add(this, rt::hold::read);
}

void rw_semaphore::up_read(const site& loc) {
  if (g_sched) {
    rt::sched_point(op::up_read, this, 0, loc);
    memory::release_to(rwsem_access::readers_obj(this));
  }
  readers_--;
  if (g_sched) rt::after_write(&readers_, 8, static_cast<uint64_t>(readers_ + 1), static_cast<uint64_t>(readers_));
  rt::hold_drop(this, rt::hold::read);
}

void rw_semaphore::down_write(const site& loc) {
  if (g_sched)
    rt::sched_point(op::down_write, this, 0, loc);
  else if ((writer_ || readers_) && !rt::unwinding())
    rt::direct_stuck("down_write of a semaphore held", loc);
  writer_ = rt::owner_tag();
  if (g_sched) {
    rt::after_write(&writer_, 8, 0, static_cast<uint64_t>(writer_));
    memory::lock_acquire(rwsem_access::writer_obj(this));
    memory::lock_acquire(rwsem_access::readers_obj(this));
  }
  rt::hold_add(this, rt::hold::write);
}

void rw_semaphore::up_write(const site& loc) {
  if (g_sched) {
    rt::sched_point(op::up_write, this, 0, loc);
    memory::release_to(rwsem_access::writer_obj(this));
  }
  uint64_t old = static_cast<uint64_t>(writer_);
  writer_ = 0;
  if (g_sched) rt::after_write(&writer_, 8, old, 0);
  rt::hold_drop(this, rt::hold::write);
}

bool rw_semaphore::down_read_trylock(const site& loc) {
  if (g_sched) rt::sched_point(op::down_read_trylock, this, 0, loc);
  if (writer_) {
    if (g_sched) rt::after_read(&writer_, 8, static_cast<uint64_t>(writer_));
    return false;
  }
  readers_++;
  if (g_sched) {
    rt::after_write(&readers_, 8, static_cast<uint64_t>(readers_ - 1), static_cast<uint64_t>(readers_));
    memory::lock_acquire(rwsem_access::writer_obj(this));
  }
  rt::hold_add(this, rt::hold::read);
  return true;
}

bool rw_semaphore::down_write_trylock(const site& loc) {
  if (g_sched) rt::sched_point(op::down_write_trylock, this, 0, loc);
  if (writer_ || readers_) {
    if (g_sched) rt::after_read(writer_ ? &writer_ : &readers_, 8, static_cast<uint64_t>(writer_ ? writer_ : readers_));
    return false;
  }
  writer_ = rt::owner_tag();
  if (g_sched) {
    rt::after_write(&writer_, 8, 0, static_cast<uint64_t>(writer_));
    memory::lock_acquire(rwsem_access::writer_obj(this));
    memory::lock_acquire(rwsem_access::readers_obj(this));
  }
  rt::hold_add(this, rt::hold::write);
  return true;
}

}  // namespace sync
GUPFAST_NS_END
