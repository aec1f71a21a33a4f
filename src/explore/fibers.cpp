// The explorer's fibers: one per thread (running it on its CPU), one for RCU callbacks, each
// a boost::context fiber on a stack allocated once (with a guard page) and reused by every
// execution; switching between them, with the stack switches announced to ASan.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "explore/sched_state.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

GUPFAST_NS_BEGIN
namespace explore::detail {
namespace {

namespace bctx = boost::context;

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t STACK_SIZE = 4u << 20;
#else
constexpr size_t STACK_SIZE = 1u << 20;
#endif

// ---- stacks ----------------------------------------------------------------------------------
char* g_stack[NR_FIBERS];

char* stack_for(int f) {
  if (!g_stack[f]) {
    size_t guard = 4096;
    void* m = mmap(nullptr, STACK_SIZE + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
      perror("gupfast explore: mmap fiber stack");
      std::abort();
    }
    mprotect(m, guard, PROT_NONE);
    g_stack[f] = static_cast<char*>(m) + guard;
  }
  return g_stack[f];
}

// A boost StackAllocator over a stack that outlives the fiber.
struct reuse_stack {
  char* base;
  bctx::stack_context allocate() {
    bctx::stack_context sc;
    sc.size = STACK_SIZE;
    sc.sp = base + STACK_SIZE;
    return sc;
  }
  void deallocate(bctx::stack_context&) noexcept {}
};

// ---- switching --------------------------------------------------------------------------------
// ASan must be told about every stack switch (its fake stacks and stack bounds are per stack):
// Boost.Context's fcontext flavour, which Debian's library is, does not do it, so we do. The
// explorer's own stack's bounds are learnt at the first switch into a fiber.
#if defined(__SANITIZE_ADDRESS__)
const void* g_main_stack_bottom = nullptr;
size_t g_main_stack_size = 0;

void asan_start_switch(void** fake_save, int to) {
  if (to == MAIN)
    __sanitizer_start_switch_fiber(fake_save, g_main_stack_bottom, g_main_stack_size);
  else
    __sanitizer_start_switch_fiber(fake_save, stack_for(to), STACK_SIZE);
}
void asan_finish_switch(void* fake_save) {
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake_save, &bottom, &size);
  if (g_x.from == MAIN && !g_main_stack_bottom) {
    g_main_stack_bottom = bottom;
    g_main_stack_size = size;
  }
}
#else
inline void asan_start_switch(void**, int) {}
inline void asan_finish_switch(void*) {}
#endif

}  // namespace

void switch_to(int to) {
  int me = g_x.running;
  g_x.from = me;
  g_x.running = to;
  sync::rt::g_cpu = cpu_of(to);
  void* fake = nullptr;
  asan_start_switch(&fake, to);
  bctx::fiber c = std::move(g_x.ctxs[to]).resume();
  asan_finish_switch(fake);
  g_x.ctxs[g_x.from] = std::move(c);
  g_x.running = me;
  sync::rt::g_cpu = cpu_of(me);
}

// ---- fibers -------------------------------------------------------------------------------------
namespace {

void thread_body(int i) {
  world_code();
  // First resumed for its start transition, or for its interrupt task to take an IPI that came
  // before it started.
  if (g_x.chosen == irq_task(i)) {
    sync::rt::ipi_run_one(g_x.f[i].cpu);
    sync::rt::point_ex(pending_op{op::start});
  }
  g_x.prog->thread(i);
  g_x.f[i].body_done = true;
  // Idle (its CPU still takes IPIs) until the execution ends; then return without unwinding.
  while (!g_x.unwinding) sync::rt::point_ex(pending_op{op::idle});
}

void rcu_body() {
  // First resumed for its rcu_callback transition: a callback's grace period is over.
  world_code();
  while (!g_x.unwinding) {
    sync::rt::rcu_run_one_callback();
    sync::rt::point_ex(pending_op{op::rcu_callback});
  }
}

bctx::fiber fiber_main(int i, bctx::fiber&& from) {
  exec_state& x = g_x;
  asan_finish_switch(nullptr);
  x.ctxs[x.from] = std::move(from);
  x.running = i;
  sync::rt::g_cpu = cpu_of(i);
  try {
    if (!x.unwinding) {
      if (i == RCU_TASK)
        rcu_body();
      else
        thread_body(i);
    }
  } catch (const unwind_fiber&) {
  } catch (const abort_execution&) {
  } catch (const std::exception& e) {
    world::set_allocating(false);
    record_violation("exception", task_name(cur_task()) + " threw: " + e.what());
    x.aborted = true;
    sync::rt::g_sched = false;
  }
  world::set_allocating(false);  // back to the explorer
  x.f[i].alive = false;
  x.f[i].in_irq = false;
  x.from = i;
  x.running = MAIN;
  sync::rt::g_cpu = cpu_of(MAIN);
  asan_start_switch(nullptr, MAIN);  // this fiber's stack is done with (it is reused later)
  return std::move(x.ctxs[MAIN]);
}

}  // namespace

void create_fiber(int i, const pending_op& first) {
  fiber_rec& f = g_x.f[i];
  f.alive = true;
  f.body_done = false;
  f.in_irq = false;
  f.cpu = cpu_of(i);
  reset_task(g_x.t[i], first);
  if (i < MAX_THREADS) reset_task(g_x.t[irq_task(i)], pending_op{op::ipi_run});
  g_x.ctxs[i] = bctx::fiber(std::allocator_arg, reuse_stack{stack_for(i)},
                            [i](bctx::fiber&& from) { return fiber_main(i, std::move(from)); });
}

void unwind_fibers() {
  g_x.unwinding = true;
  for (int i = 0; i < NR_FIBERS; i++)
    if (g_x.f[i].alive) switch_to(i);
  g_x.unwinding = false;
}

}  // namespace explore::detail
GUPFAST_NS_END
