// `gupfast explore FILE --check-expectations`: every `expect` line of a litmus file, in
// each configuration it names, one verdict line per run (docs/litmus.md).
//
// Each configuration is explored in a child process (fork), up to --jobs at once: a run
// that ends in a violation abandons its threads midway, and nothing of that (a CPU left
// with irqs off, an RCU read section never closed, a crash) may leak into the next run.
// The child sends its result back as JSON through a pipe; results are printed in file
// order whatever order the children finish in.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "explore.h"
#include "explore_progress.h"
#include "render.h"

namespace gupfast::cli {

namespace {

using json = nlohmann::json;

// ---- a run_result through a pipe ----------------------------------------------------------
json to_json(const litmus::run_result& r) {
  json j = {{"executions", r.executions}, {"cut", r.cut}, {"max_steps", r.max_steps},
            {"exhaustive", r.exhaustive}, {"bound_reached", r.bound_reached}, {"stale_reached", r.stale_reached},
            {"seconds", r.seconds}, {"found", nullptr}};
  if (r.found) {
    const auto& v = *r.found;
    json steps = json::array();
    for (const auto& s : v.trace)
      steps.push_back({s.tid, s.line, s.what, s.op, s.addr, s.value, s.note, s.preemption, s.stale});
    j["found"] = {{"kind", v.kind},   {"message", v.message},           {"replay", v.replay},
                  {"preemptions", v.preemptions}, {"stale_reads", v.stale_reads}, {"trace", steps}};
  }
  return j;
}

litmus::run_result from_json(const json& j) {
  litmus::run_result r;
  r.executions = j.at("executions");
  r.cut = j.at("cut");
  r.max_steps = j.at("max_steps");
  r.exhaustive = j.at("exhaustive");
  r.bound_reached = j.at("bound_reached");
  r.stale_reached = j.at("stale_reached");
  r.seconds = j.at("seconds");
  if (!j.at("found").is_null()) {
    const json& f = j["found"];
    litmus::violation_report v;
    v.kind = f.at("kind");
    v.message = f.at("message");
    v.replay = f.at("replay");
    v.preemptions = f.at("preemptions");
    v.stale_reads = f.at("stale_reads");
    for (const json& s : f.at("trace"))
      v.trace.push_back({s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]});
    r.found = std::move(v);
  }
  return r;
}

// ---- child processes ----------------------------------------------------------------------
struct task {
  const litmus::expectation* e;
  litmus::run_config cfg;
  pid_t pid = -1;
  int fd = -1;
  std::string out;
  bool done = false;
  litmus::run_result result;
  // Live progress (a terminal only): the child's last "executions cut bound seconds" line.
  int pfd = -1;
  std::string pbuf;
  uint64_t executions = 0, cut = 0;
  int bound = 0;
  int stale = -1;  // the stale-read bound under weak memory, else -1
  double seconds = 0;
};

void start(const litmus::file& f, const litmus::search_config& search, task* t, bool live) {
  int fds[2], pfds[2] = {-1, -1};
  std::fflush(stdout);
  std::fflush(stderr);
  if (live && pipe(pfds) != 0) pfds[0] = pfds[1] = -1;
  if (pipe(fds) != 0 || (t->pid = fork()) < 0) {
    t->done = true;
    t->result.found = litmus::violation_report{};
    t->result.found->kind = "crash";
    t->result.found->message = fmt::format("cannot start a child: {}", std::strerror(errno));
    return;
  }
  if (t->pid == 0) {
    close(fds[0]);
    if (pfds[0] >= 0) close(pfds[0]);
    // A time or execution budget only bounds searches that expect no violation (cut
    // short, they still hold); one that expects a violation runs until it finds it or is
    // exhausted.
    litmus::search_config own = search;
    if (!t->e->expects_ok()) {
      own.time_limit_s = 0;
      own.max_executions = 0;
    }
    if (pfds[1] >= 0)
      own.on_progress = [fd = pfds[1], weak = t->cfg.memory == "weak"](uint64_t e, uint64_t c, int b, int st, double s,
                                                                       int) {
        std::string line = fmt::format("{} {} {} {} {}\n", e, c, b, weak ? st : -1, s);
        if (write(fd, line.data(), line.size()) < 0) {
        }
      };
    std::string s = to_json(litmus::run_litmus(f, t->cfg, own)).dump();
    for (size_t off = 0; off < s.size();) {
      ssize_t n = write(fds[1], s.data() + off, s.size() - off);
      if (n <= 0 && errno != EINTR) _exit(3);
      if (n > 0) off += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  t->fd = fds[0];
  if (pfds[1] >= 0) close(pfds[1]);
  t->pfd = pfds[0];
}

// The child's pipe reached EOF: reap it and decode what it sent.
void finish(task* t) {
  close(t->fd);
  t->fd = -1;
  if (t->pfd >= 0) close(t->pfd);
  t->pfd = -1;
  int status = 0;
  while (waitpid(t->pid, &status, 0) < 0 && errno == EINTR) {
  }
  t->done = true;
  std::string why;
  if (WIFSIGNALED(status)) why = fmt::format("the explorer process died of signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WEXITSTATUS(status) != 0) why = fmt::format("the explorer process exited with {}", WEXITSTATUS(status));
  if (why.empty()) {
    try {
      t->result = from_json(json::parse(t->out));
      return;
    } catch (const std::exception& e) {
      why = fmt::format("unreadable result from the explorer process: {}", e.what());
    }
  }
  t->result.found = litmus::violation_report{};
  t->result.found->kind = "crash";
  t->result.found->message = why;
}

// Run every task, at most `jobs` at once; call report(i) for each in order as soon as it
// and all before it are done.
// The running checks, on the live line: "explore: 5/18 checks done; line 27 [rcu/ipi]: ...".
void show_progress(progress_line& live, const std::vector<task>& tasks) {
  size_t done = 0;
  std::string running;
  for (const task& t : tasks) {
    done += t.done;
    if (t.fd < 0 || t.done) continue;
    if (!running.empty()) running += "; ";
    running += fmt::format("line {} [{}/{}]: {}", t.e->line, t.cfg.strategy, t.cfg.tlb,
                           progress_text(t.executions, t.cut, t.bound, t.stale, t.seconds, 1));
  }
  live.show(fmt::format("explore: {}/{} checks done; {}", done, tasks.size(), running));
}

// A child's progress lines: keep the last complete one.
void take_progress(task* t, const char* buf, size_t n) {
  t->pbuf.append(buf, n);
  size_t end = t->pbuf.rfind('\n');
  if (end == std::string::npos) return;
  size_t begin = t->pbuf.rfind('\n', end - 1);
  begin = begin == std::string::npos ? 0 : begin + 1;
  unsigned long long e = 0, c = 0;
  int b = 0, st = -1;
  double s = 0;
  if (std::sscanf(t->pbuf.c_str() + begin, "%llu %llu %d %d %lf", &e, &c, &b, &st, &s) == 5) {
    t->executions = e;
    t->cut = c;
    t->bound = b;
    t->stale = st;
    t->seconds = s;
  }
  t->pbuf.erase(0, end + 1);
}

template <class Report>
void run_all(const litmus::file& f, const litmus::search_config& search, std::vector<task>& tasks, unsigned jobs,
             progress_line& live, Report report) {
  size_t next_start = 0, next_report = 0;
  for (;;) {
    while (next_report < tasks.size() && tasks[next_report].done) {
      live.clear();
      report(next_report++);
    }
    if (next_report == tasks.size()) return;
    unsigned running = 0;
    for (const task& t : tasks) running += t.fd >= 0;
    while (running < jobs && next_start < tasks.size()) {
      start(f, search, &tasks[next_start++], live.on());
      running += tasks[next_start - 1].fd >= 0;
    }
    std::vector<pollfd> pfds;
    std::vector<std::pair<task*, bool>> owners;  // the task, and whether it is its progress pipe
    for (task& t : tasks) {
      if (t.fd >= 0) {
        pfds.push_back({t.fd, POLLIN, 0});
        owners.push_back({&t, false});
      }
      if (t.pfd >= 0) {
        pfds.push_back({t.pfd, POLLIN, 0});
        owners.push_back({&t, true});
      }
    }
    if (pfds.empty()) continue;  // everything started finished at once (fork failures)
    if (poll(pfds.data(), pfds.size(), -1) < 0) continue;  // EINTR
    bool moved = false;
    for (size_t i = 0; i < pfds.size(); i++) {
      if (!pfds[i].revents) continue;
      auto [t, progress] = owners[i];
      if (t->fd < 0) continue;  // finished by an earlier entry of this round
      char buf[65536];
      ssize_t n = read(pfds[i].fd, buf, sizeof buf);
      if (progress) {
        if (n > 0) {
          take_progress(t, buf, static_cast<size_t>(n));
          moved = true;
        } else if (n == 0) {
          close(t->pfd);
          t->pfd = -1;
        }
        continue;
      }
      if (n > 0) owners[i].first->out.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) finish(t);
    }
    if (moved) show_progress(live, tasks);
  }
}

void print_indented(const std::string& text) {
  for (size_t p = 0, q; p < text.size(); p = q + 1) {
    q = text.find('\n', p);
    if (q == std::string::npos) q = text.size();
    fmt::print("        {}\n", text.substr(p, q - p));
  }
}

}  // namespace

int run_checks(const litmus::file& f, const explore_options& o) {
  base_settings b = base_of(f, o);
  if (f.expects.empty()) {
    fmt::print(stderr, "{}:1: no expect lines to check\n", f.path);
    return EXIT_USAGE;
  }
  litmus::search_config search = search_of(o, f);
  std::vector<task> tasks;
  std::map<const litmus::expectation*, size_t> first_task;
  for (const litmus::expectation& e : f.expects) {
    first_task[&e] = tasks.size();
    std::vector<litmus::run_config> configs = configs_of(e, b);
    // A strategy the line names must give a machine: strategy=ipi with the file's
    // tlb=broadcast gives none, and would silently check nothing for it.
    auto named = e.on.find("strategy");
    if (named != e.on.end() && !b.strategy.from_cli && !b.tlb.from_cli && !e.on.count("tlb"))
      for (const std::string& st : named->second)
        if (std::none_of(configs.begin(), configs.end(), [&](const litmus::run_config& c) { return c.strategy == st; })) {
          fmt::print(stderr, "{}:{}: strategy={} makes no machine with tlb={} (the machine line's): name tlb= on this line\n",
                     f.path, e.line, st, b.tlb.value.value_or("broadcast"));
          return EXIT_USAGE;
        }
    for (const litmus::run_config& c : configs) {
      task t{};
      t.e = &e;
      t.cfg = c;
      tasks.push_back(std::move(t));
    }
  }

  fmt::print("litmus {} ({})\n", f.name, f.path);
  json jexp = json::array();
  int broken = 0, inconclusive = 0;
  uint64_t executions = 0;
  double seconds = 0;
  bool exhaustive = true, bad_file = false;
  auto skipped_before = [&](size_t i) {  // expectations with no configuration left, before task i
    for (const litmus::expectation& e : f.expects)
      if (first_task[&e] == i && (i == tasks.size() || tasks[i].e != &e))
        fmt::print("  skip  {}: {}  (no configuration left by the command line)\n", e.line, e.text);
  };
  progress_line live;
  run_all(f, search, tasks, o.jobs, live, [&](size_t i) {
    skipped_before(i);
    const task& t = tasks[i];
    const litmus::expectation& e = *t.e;
    const litmus::run_result& res = t.result;
    if (res.found && res.found->kind == "litmus-error") {
      if (!bad_file) litmus_error(f, *res.found);
      bad_file = true;
      return;
    }
    explore_report r{&f, t.cfg, search, res, {}};
    if (res.found) r.replay_command = replay_command(o, t.cfg, res.found->replay);
    bool holds = e.expects_ok() ? !res.found
                                : res.found && std::find(e.kinds.begin(), e.kinds.end(), res.found->kind) != e.kinds.end();
    // Executions cut at the step budget leave an "ok" unproven, and may hide a violation.
    bool inconc = res.cut && !res.found;
    if (inconc) holds = false;
    broken += !holds && !inconc;
    inconclusive += inconc;
    executions += res.executions;
    seconds += res.seconds;
    exhaustive &= res.exhaustive || bool(res.found);
    std::string stale = t.cfg.memory == "weak" ? fmt::format(", {} stale read{}", res.found ? res.found->stale_reads : 0,
                                                             res.found && res.found->stale_reads == 1 ? "" : "s")
                                               : "";
    std::string got = res.found ? fmt::format("{}, {} preemption{}{}, {} executions", res.found->kind,
                                              res.found->preemptions, res.found->preemptions == 1 ? "" : "s", stale,
                                              res.executions)
                                : fmt::format("no violation, {} executions{}", res.executions,
                                              res.exhaustive ? ", exhaustive" : ", NOT exhaustive");
    if (res.cut) got += fmt::format(", {} cut at {} steps", res.cut, res.max_steps);
    fmt::print("  {:<4}  {}: {}  [{}]: {}, {:.2f} s\n", holds ? "ok" : inconc ? "INCONCLUSIVE" : "FAIL", e.line, e.text,
               t.cfg.describe(), got, res.seconds);
    if (!holds && res.found) print_indented(render_text(r));
    std::fflush(stdout);
    json j = render_json(r);
    j["line"] = e.line;
    j["expect"] = e.text;
    j["holds"] = holds;
    j["inconclusive"] = inconc;
    jexp.push_back(std::move(j));
  });
  skipped_before(tasks.size());
  if (bad_file) return EXIT_USAGE;

  size_t checked = tasks.size();
  fmt::print("{} of {} checks hold{} ({} executions, {:.2f} s of exploration)\n", checked - broken - inconclusive,
             checked, inconclusive ? fmt::format(", {} inconclusive (executions cut at the step budget)", inconclusive) : "",
             executions, seconds);
  if (!o.json_path.empty()) {
    json j = {{"litmus", f.name},         {"file", f.path},   {"mode", o.mode},         {"bound", o.bound},
              {"executions", executions}, {"exhaustive", exhaustive}, {"seconds", seconds},
              {"all_hold", broken == 0 && inconclusive == 0},  {"checks", checked},
              {"inconclusive", inconclusive}, {"expectations", jexp}};
    if (!write_file(o.json_path, j.dump(2) + "\n")) return EXIT_RUN_FAILED;
  }
  return broken ? EXIT_RUN_FAILED : inconclusive ? EXIT_INCONCLUSIVE : 0;
}

}  // namespace gupfast::cli
