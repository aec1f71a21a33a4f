// The explorer's trace: steps as reports show them (kernel function, operation, value, the
// litmus line), and how an execution ends in a violation, a deadlock or a livelock.
#include <cstdio>
#include <exception>
#include <string>
#include <unordered_map>

#include "explore/sched_state.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

// ---- trace ------------------------------------------------------------------------------------
std::string short_fn(const char* pretty) {
  static std::unordered_map<const char*, std::string> cache;
  if (!pretty) return "?";
  auto it = cache.find(pretty);
  if (it != cache.end()) return it->second;
  // "ret ns::{anonymous}::name(args) [with ...]" -> "name"
  std::string s(pretty);
  int angle = 0;
  size_t end = s.size();
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '<') angle++;
    else if (c == '>') angle--;
    else if (c == '(' && angle == 0) {
      end = i;
      break;
    }
  }
  std::string name = s.substr(0, end);
  angle = 0;
  size_t start = 0;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    if (c == '<') angle++;
    else if (c == '>') angle--;
    else if (angle == 0 && (c == ' ' || (c == ':' && i + 1 < name.size() && name[i + 1] == ':')))
      start = c == ' ' ? i + 1 : i + 2;
  }
  name = name.substr(start);
  if (name.empty()) name = s;
  return cache.emplace(pretty, name).first->second;
}

std::string short_file(const char* file) {
  if (!file) return "?";
  std::string s(file);
  size_t p = s.rfind("/src/");
  if (p != std::string::npos) return s.substr(p + 5);
  p = s.rfind("/tests/");
  if (p != std::string::npos) return s.substr(p + 1);
  p = s.rfind('/');
  return p == std::string::npos ? s : s.substr(p + 1);
}

namespace {
std::vector<step> materialize() {
  std::vector<step> out;
  out.reserve(g_x.steps.size());
  for (const raw_step& r : g_x.steps) {
    step s;
    s.tid = fiber_of(r.task) < MAX_THREADS ? fiber_of(r.task) : -2;
    s.cpu = cpu_index(r.task);
    s.irq = is_irq_task(r.task);
    if (r.kind == op::ipi_run || r.kind == op::ipi_ack)
      s.what = std::string("ipi from ") + short_fn(r.name);
    else if (r.name)
      s.what = r.name;
    else
      s.what = short_fn(r.loc.function_name());
    s.op = sync::rt::op_name(r.kind);
    s.addr = reinterpret_cast<uintptr_t>(r.addr);
    s.value = r.value;
    if (r.loc.line()) s.where = short_file(r.loc.file_name()) + ":" + std::to_string(r.loc.line());
    s.note = g_x.notes[r.note];
    s.preemption = r.preempted;
    s.stale = r.stale;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

void record_violation(std::string kind, std::string message) {
  g_x.aborted = true;
  if (g_x.out.v) return;  // the first one wins (teardown may find more)
  explore::violation v;
  v.kind = std::move(kind);
  v.message = std::move(message);
  if (g_x.tracing) v.trace = materialize();  // else the search replays it with tracing on
  v.preemptions = g_x.out.preemptions;
  v.stale_reads = g_x.out.stale;
  g_x.out.v = std::move(v);
  g_x.out.kind = outcome::violation;
}

[[noreturn]] void abort_now() {
  g_x.aborted = true;
  sync::rt::g_sched = false;  // from here on (unwinding) every operation acts directly
  memory::g_active = false;
  throw abort_execution{};
}

std::string task_name(int i) {
  if (i == RCU_TASK) return "rcu callbacks";
  if (is_flush_task(i)) return "cpu " + std::to_string(fiber_of(i)) + " store buffer";
  if (is_irq_task(i)) return "cpu " + std::to_string(fiber_of(i)) + " interrupt";
  return "thread " + std::to_string(i);
}

[[noreturn]] void stuck() {
  bool spinning = false;
  std::string msg;
  for (int i = 0; i < NR_TASKS; i++) {
    const fiber_rec& f = g_x.f[fiber_of(i)];
    const task_rec& t = g_x.t[i];
    if (!f.alive) continue;
    if (i < MAX_THREADS && f.body_done) continue;
    if (i == RCU_TASK && t.p.kind == op::rcu_callback) continue;  // idle, no callback due
    if (is_irq_task(i) && !f.in_irq) continue;
    if (is_flush_task(i)) continue;  // an empty buffer (a full one could run)
    if (t.p.kind == op::relax) spinning = true;
    if (!msg.empty()) msg += "; ";
    msg += task_name(i) + " waits: " + sync::rt::describe_wait(t.p, cpu_index(i));
    if (t.p.loc.line())
      msg += " in " + short_fn(t.p.loc.function_name()) + " (" + short_file(t.p.loc.file_name()) + ":" +
             std::to_string(t.p.loc.line()) + ")";
  }
  record_violation(spinning ? "livelock" : "deadlock", "no CPU can run: " + msg);
  abort_now();
}

}  // namespace explore::detail
GUPFAST_NS_END
