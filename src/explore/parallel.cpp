// A dfs search explored by many workers (explore/parallel.h).
#include "explore/parallel.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "explore/dfs.h"
#include "explore/replay.h"
#include "explore/wire.h"

GUPFAST_NS_BEGIN
namespace explore::detail {

// search.cpp: a violation found by a worker, as a report shows it (run again with tracing).
violation traced_violation(const program& prog, const options& o, const std::string& token, std::string kind,
                           std::string message, int preemptions);

namespace {

using clock_type = std::chrono::steady_clock;
using wire::msg;
double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }
int lowest(task_mask m) { return __builtin_ctz(m); }

// The search's verdict, as the coordinator tells every worker at the end.
struct verdict {
  bool exhaustive = false;
  int bound_reached = 0, stale_reached = 0;
  uint64_t executions = 0, cut = 0;
  bool found = false;
  std::string kind, message, token;
  int preemptions = 0, stale_reads = 0;
};

wire::writer stop_message(const verdict& v) {
  wire::writer w(msg::stop);
  w.u(v.exhaustive).u(static_cast<uint64_t>(v.bound_reached)).u(v.executions).u(v.cut).u(v.found);
  w.s(v.kind).s(v.message).s(v.token).u(static_cast<uint64_t>(v.preemptions));
  w.u(static_cast<uint64_t>(static_cast<int64_t>(v.stale_reached))).u(static_cast<uint64_t>(v.stale_reads));
  return w;
}

verdict read_stop(wire::reader& r) {
  verdict v;
  v.exhaustive = r.u();
  v.bound_reached = static_cast<int>(r.u());
  v.executions = r.u();
  v.cut = r.u();
  v.found = r.u();
  v.kind = r.s();
  v.message = r.s();
  v.token = r.s();
  v.preemptions = static_cast<int>(r.u());
  v.stale_reached = static_cast<int>(static_cast<int64_t>(r.u()));
  v.stale_reads = static_cast<int>(r.u());
  return v;
}

// ---- a worker ----------------------------------------------------------------------------------
struct worker_totals {
  uint64_t executions = 0, cut = 0, units = 0;
};

// Explore one unit. Returns false if the coordinator stopped the search meanwhile (*stopped).
bool run_unit(const program& prog, const options& o, int fd, wire::inbox& in, int bound, int stale,
              std::vector<uint8_t> path, worker_totals* tot, verdict* stopped, bool* got_stop) {
  dfs_config cfg;
  cfg.bound = bound;
  cfg.stale_bound = stale;
  cfg.reduction = o.reduction;
  cfg.sleep_sets = false;  // the explored tree must not depend on who explores what when
  cfg.split_depth = o.split_depth;
  dfs_driver drv(cfg, std::move(path));
  uint64_t execs = 0, cut = 0;  // since the last report
  auto last_report = clock_type::now();
  tot->units++;
  for (;;) {
    drv.begin_execution(prog.snapshot);
    outcome out = run_execution(prog, drv, o.seed, o.max_steps, false, o.memory);
    execs++;
    tot->executions++;
    if (out.kind == outcome::cut) {
      cut++;
      tot->cut++;
    }
    std::vector<node_addition> adds = drv.take_additions();
    if (!adds.empty()) {
      wire::writer w(msg::additions);
      w.u(adds.size());
      for (const node_addition& a : adds) w.path(a.path).u(a.tasks);
      w.send(fd);
    }
    if (out.v) {
      wire::writer w(msg::violation);
      w.s(out.v->kind).s(out.v->message).s(encode_token({o.seed, out.choices, static_cast<uint8_t>(o.memory)}));
      w.u(static_cast<uint64_t>(out.preemptions)).u(static_cast<uint64_t>(out.stale));
      w.u(execs).u(cut).send(fd);
      return true;
    }
    if (!wire::receive(fd, &in, false)) {
      *got_stop = true;  // the coordinator is gone
      return false;
    }
    while (auto m = in.next()) {
      if (m->first == msg::stop) {
        wire::reader r(m->second.data(), m->second.size());
        *stopped = read_stop(r);
        *got_stop = true;
        return false;
      }
      if (m->first != msg::donate) continue;
      std::vector<node_addition> shared;
      std::vector<std::vector<uint8_t>> units = drv.donate(&shared);
      if (units.empty()) {
        wire::writer(msg::nothing).send(fd);
        continue;
      }
      wire::writer w(msg::donated);
      w.u(shared.size());
      for (const node_addition& s : shared) w.path(s.path).u(s.tasks);
      w.u(units.size());
      for (const auto& u : units) w.path(u);
      w.send(fd);
    }
    if (!drv.advance()) break;
    if (since(last_report) > 0.1) {
      wire::writer(msg::progress).u(execs).u(cut).send(fd);
      execs = cut = 0;
      last_report = clock_type::now();
    }
  }
  wire::writer(msg::done).u(execs).u(cut).u(drv.bound_cut()).u(drv.stale_cut()).send(fd);
  return true;
}

// A worker's life: units until the coordinator says stop. *v gets its verdict.
void worker_loop(const program& prog, const options& o, int fd, worker_totals* tot, verdict* v) {
  wire::inbox in;
  for (;;) {
    std::optional<std::pair<msg, std::vector<uint8_t>>> m;
    while (!(m = in.next()))
      if (!wire::receive(fd, &in, true)) return;
    wire::reader r(m->second.data(), m->second.size());
    if (m->first == msg::stop) {
      *v = read_stop(r);
      return;
    }
    if (m->first != msg::unit) continue;
    int bound = static_cast<int>(static_cast<int64_t>(r.u()));
    int stale = static_cast<int>(static_cast<int64_t>(r.u()));
    std::vector<uint8_t> path = r.path();
    bool got_stop = false;
    run_unit(prog, o, fd, in, bound, stale, std::move(path), tot, v, &got_stop);
    if (got_stop) return;
  }
}

// ---- the coordinator ---------------------------------------------------------------------------
struct conn {
  int fd = -1;
  wire::inbox in;
  bool joined = false;  // hello received (local workers: at once)
  int shard = 0;
  bool busy = false, asked = false, dry = false;  // dry: had nothing to donate since its last progress
  bool stopped = false;
};

struct shard_tally {
  int workers = 0;     // joined
  int expected = -1;   // its workers, as its hello says (-1: none seen yet)
  uint64_t executions = 0, units = 0;
};

class coordinator {
 public:
  coordinator(const program& prog, const options& o, clock_type::time_point t0) : prog_(prog), o_(o), t0_(t0) {
    tallies_.resize(static_cast<size_t>(std::max(1, o.shard_count)));
  }
  void add_local(int fd) {
    conn c;
    c.fd = fd;
    c.joined = true;
    conns_.push_back(std::move(c));
    tallies_[0].workers++;
    tallies_[0].expected = std::max(o_.jobs, 1);
  }
  void set_listener(int fd) { listen_ = fd; }
  result run();

 private:
  bool pump(int timeout_ms);  // false: a worker died mid-unit
  void handle(conn& c, msg type, const std::vector<uint8_t>& payload);
  void queue_unit(const std::vector<uint8_t>& path, task_mask tasks);
  void dispatch();
  bool everyone_joined() const;
  void report_progress();

  const program& prog_;
  const options& o_;
  clock_type::time_point t0_;
  std::vector<conn> conns_;
  int listen_ = -1;
  std::vector<shard_tally> tallies_;
  // the current bound's search
  int bound_ = 0;
  int stale_ = 0;  // and its stale-read bound (weak memory)
  std::deque<std::vector<uint8_t>> queue_;
  std::unordered_map<std::string, task_mask> shared_;  // a shared node's path -> alternatives handed out
  bool bound_cut_ = false, stale_cut_ = false;
  verdict v_;
  bool died_ = false;
  std::string death_;
  clock_type::time_point last_progress_ = clock_type::now();
};

void coordinator::queue_unit(const std::vector<uint8_t>& path, task_mask tasks) {
  std::string key(path.begin(), path.end());
  task_mask& known = shared_[key];
  task_mask fresh = tasks & ~known;
  known |= tasks;
  for (task_mask m = fresh; m; m &= m - 1) {
    std::vector<uint8_t> u = path;
    u.push_back(static_cast<uint8_t>(lowest(m)));
    queue_.push_back(std::move(u));
  }
}

void coordinator::handle(conn& c, msg type, const std::vector<uint8_t>& payload) {
  wire::reader r(payload.data(), payload.size());
  shard_tally& t = tallies_[static_cast<size_t>(c.shard)];
  switch (type) {
    case msg::hello: {
      int shard = static_cast<int>(r.u());
      int workers = static_cast<int>(r.u());
      if (shard <= 0 || shard >= static_cast<int>(tallies_.size())) {
        ::close(c.fd);
        c.fd = -1;
        return;
      }
      c.joined = true;
      c.shard = shard;
      tallies_[static_cast<size_t>(shard)].workers++;
      tallies_[static_cast<size_t>(shard)].expected = workers;
      break;
    }
    case msg::additions: {
      uint64_t n = r.u();
      for (uint64_t i = 0; i < n && r.ok(); i++) {
        std::vector<uint8_t> path = r.path();
        task_mask tasks = static_cast<task_mask>(r.u());
        queue_unit(path, tasks);
      }
      break;
    }
    case msg::donated: {
      uint64_t n = r.u();
      for (uint64_t i = 0; i < n && r.ok(); i++) {
        std::vector<uint8_t> path = r.path();
        shared_[std::string(path.begin(), path.end())] |= static_cast<task_mask>(r.u());
      }
      uint64_t m = r.u();
      for (uint64_t i = 0; i < m && r.ok(); i++) queue_.push_back(r.path());
      c.asked = false;
      break;
    }
    case msg::nothing:
      c.asked = false;
      c.dry = true;
      break;
    case msg::progress: {
      uint64_t e = r.u();
      v_.executions += e;
      t.executions += e;
      v_.cut += r.u();
      c.dry = false;
      break;
    }
    case msg::done: {
      uint64_t e = r.u();
      v_.executions += e;
      t.executions += e;
      v_.cut += r.u();
      bound_cut_ |= r.u() != 0;
      stale_cut_ |= r.u() != 0;
      c.busy = c.asked = c.dry = false;
      break;
    }
    case msg::violation: {
      std::string kind = r.s(), message = r.s(), token = r.s();
      int pre = static_cast<int>(r.u());
      int stale = static_cast<int>(r.u());
      uint64_t e = r.u();
      v_.executions += e;
      t.executions += e;
      v_.cut += r.u();
      c.busy = c.asked = false;
      if (!v_.found || std::pair(stale, pre) < std::pair(v_.stale_reads, v_.preemptions)) {
        v_.found = true;
        v_.kind = kind;
        v_.message = message;
        v_.token = token;
        v_.preemptions = pre;
        v_.stale_reads = stale;
      }
      break;
    }
    default:
      break;
  }
}

bool coordinator::pump(int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<size_t> who;
  for (size_t i = 0; i < conns_.size(); i++)
    if (conns_[i].fd >= 0) {
      fds.push_back({conns_[i].fd, POLLIN, 0});
      who.push_back(i);
    }
  if (listen_ >= 0) fds.push_back({listen_, POLLIN, 0});
  if (fds.empty()) return true;
  int r = ::poll(fds.data(), fds.size(), timeout_ms);
  if (r <= 0) return true;
  for (size_t k = 0; k < fds.size(); k++) {
    if (!fds[k].revents) continue;
    if (k == who.size()) {  // a shard's worker connects
      int fd = ::accept(listen_, nullptr, nullptr);
      if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn c;
        c.fd = fd;
        conns_.push_back(std::move(c));
      }
      continue;
    }
    conn& c = conns_[who[k]];
    if (!wire::receive(c.fd, &c.in, true)) {
      ::close(c.fd);
      c.fd = -1;
      if (c.busy && !c.stopped) {  // after the stop, a busy worker just goes
        died_ = true;
        death_ = c.shard ? "a worker of shard " + std::to_string(c.shard) + " went away mid-unit"
                         : "a worker process died mid-unit";
        return false;
      }
      continue;
    }
    while (auto m = c.in.next()) handle(c, m->first, m->second);
  }
  return true;
}

void coordinator::dispatch() {
  for (conn& c : conns_) {
    if (queue_.empty()) break;
    if (c.fd < 0 || !c.joined || c.busy) continue;
    std::vector<uint8_t> u = std::move(queue_.back());
    queue_.pop_back();
    wire::writer(msg::unit)
        .u(static_cast<uint64_t>(static_cast<int64_t>(bound_)))
        .u(static_cast<uint64_t>(static_cast<int64_t>(stale_)))
        .path(u)
        .send(c.fd);
    c.busy = true;
    c.dry = false;
    tallies_[static_cast<size_t>(c.shard)].units++;
  }
  if (!queue_.empty()) return;
  // Idle workers and an empty queue: ask busy ones to share (one each, at most one request out).
  int idle = 0;
  for (const conn& c : conns_)
    if (c.fd >= 0 && c.joined && !c.busy) idle++;
  int asked = 0;
  for (const conn& c : conns_)
    if (c.asked) asked++;
  for (conn& c : conns_) {
    if (asked >= idle) break;
    if (c.fd < 0 || !c.busy || c.asked || c.dry) continue;
    wire::writer(msg::donate).send(c.fd);
    c.asked = true;
    asked++;
  }
}

bool coordinator::everyone_joined() const {
  for (const shard_tally& t : tallies_)
    if (t.expected < 0 || t.workers < t.expected) return false;
  return true;
}

void coordinator::report_progress() {
  if (!o_.on_progress || since(last_progress_) < 0.1) return;
  last_progress_ = clock_type::now();
  int busy = 0;
  for (const conn& c : conns_) busy += c.busy;
  o_.on_progress(progress{v_.executions, v_.cut, bound_, stale_, since(t0_), busy});
}

result coordinator::run() {
  bool stopped = false;  // a budget ran out
  // Iterative deepening as run_dfs does it: stale reads outside, preemptions inside.
  int stale_to = o_.memory == memory::model::weak ? o_.stale_bound : 0;
  int stale_from = (o_.iterative && stale_to >= 0) ? 0 : stale_to;
  int from = (o_.iterative && o_.bound >= 0) ? 0 : o_.bound;
  bool over = false;
  for (int sb = stale_from; !over && (sb <= stale_to || (stale_to < 0 && sb == stale_from)); sb++) {
    stale_ = sb;
    v_.stale_reached = sb;
    bool stale_cut = false;
    for (int b = from; b <= o_.bound || (o_.bound < 0 && b == from); b++) {
      bound_ = b;
      v_.bound_reached = b;
      queue_.clear();
      shared_.clear();
      bound_cut_ = stale_cut_ = false;
      queue_.push_back({});
      for (;;) {
        dispatch();
        bool busy = false;
        for (const conn& c : conns_) busy |= c.busy;
        if (!busy && queue_.empty()) break;
        if (!pump(100)) break;
        report_progress();
        if (v_.found) break;
        if ((o_.time_limit_s > 0 && since(t0_) > o_.time_limit_s) ||
            (o_.max_executions && v_.executions >= o_.max_executions)) {
          stopped = true;
          break;
        }
      }
      if (died_ || v_.found || stopped) {
        over = true;
        break;
      }
      stale_cut = stale_cut_;
      if (b == o_.bound || o_.bound < 0 || !bound_cut_) {
        v_.bound_reached = o_.bound;
        break;
      }
    }
    if (over) break;
    if (sb == stale_to || stale_to < 0 || !stale_cut) {
      v_.exhaustive = v_.cut == 0;
      v_.stale_reached = stale_to;
      break;
    }
  }
  // The search is over: tell every worker, and the shards' workers that join late.
  auto stop_all = [&] {
    for (conn& c : conns_)
      if (c.fd >= 0 && c.joined && !c.stopped) {
        stop_message(v_).send(c.fd);
        c.stopped = true;
      }
  };
  stop_all();
  auto deadline = clock_type::now() + std::chrono::duration<double>(o_.connect_timeout_s);
  while (listen_ >= 0 && !everyone_joined() && clock_type::now() < deadline) {
    pump(100);
    stop_all();
  }
  // A busy worker finishes its execution before it sees the stop (what it ran then is not
  // counted: the search was stopped, not exhausted); wait for each to go.
  for (conn& c : conns_) {
    if (c.fd < 0) continue;
    while (wire::receive(c.fd, &c.in, true)) {
    }
    ::close(c.fd);
    c.fd = -1;
  }
  result res;
  res.executions = v_.executions;
  res.cut = v_.cut;
  res.exhaustive = v_.exhaustive && !died_;
  res.bound_reached = v_.bound_reached;
  res.stale_reached = v_.stale_reached;
  res.units = tallies_[0].units;
  res.own_executions = tallies_[0].executions;
  res.workers = 0;
  for (size_t i = 0; i < tallies_.size(); i++) {
    const shard_tally& t = tallies_[i];
    res.workers += t.workers;
    res.shares.push_back({static_cast<int>(i), t.workers, t.units, t.executions});
  }
  if (died_) {
    violation v;
    v.kind = "crash";
    v.message = death_;
    res.found = v;
  } else if (v_.found) {
    res.found = traced_violation(prog_, o_, v_.token, v_.kind, v_.message, v_.preemptions);
  }
  res.seconds = since(t0_);
  return res;
}

// ---- processes ---------------------------------------------------------------------------------
struct child {
  pid_t pid = -1;
  int report = -1;  // the worker's totals and verdict when it ends (remote shards)
};

// Fork a worker that talks on fd (closing the parent's ends in it); report: a pipe for its
// totals, or -1.
pid_t fork_worker(const program& prog, const options& o, int fd, const std::vector<int>& close_in_child, int report) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  for (int c : close_in_child) ::close(c);
  std::signal(SIGPIPE, SIG_IGN);
  worker_totals tot;
  verdict v;
  options own = o;
  own.on_progress = nullptr;
  worker_loop(prog, own, fd, &tot, &v);
  if (report >= 0) {
    wire::writer w(msg::done);
    w.u(tot.executions).u(tot.cut).u(tot.units);
    stop_message(v).send(report);  // the verdict...
    w.send(report);                 // ...then its own totals
  }
  ::_exit(0);
}

int listen_on(const std::string& hostport, std::string* err) {
  size_t colon = hostport.rfind(':');
  std::string port = colon == std::string::npos ? hostport : hostport.substr(colon + 1);
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  bool v6 = fd >= 0;
  if (!v6) fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    *err = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(static_cast<uint16_t>(std::stoi(port)));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 || ::listen(fd, 64) != 0) {
    *err = "cannot listen on port " + port + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_to(const std::string& hostport, double timeout_s, std::string* err) {
  size_t colon = hostport.rfind(':');
  std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
  if (!host.empty() && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto deadline = clock_type::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) == 0) {
      for (addrinfo* a = res; a; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          ::freeaddrinfo(res);
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          return fd;
        }
        ::close(fd);
      }
      ::freeaddrinfo(res);
    }
    if (clock_type::now() > deadline) {
      *err = "cannot reach the coordinator at " + hostport + " (shard 0) within " + std::to_string(int(timeout_s)) + " s";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

result explore_parallel(const program& prog, const options& o, clock_type::time_point t0) {
  int jobs = std::max(o.jobs, 1);
  std::signal(SIGPIPE, SIG_IGN);
  if (o.shard_count <= 1 || o.shard_index == 0) {
    // The coordinator, with `jobs` local workers (and the other shards' over TCP).
    coordinator co(prog, o, t0);
    if (o.shard_count > 1) {
      std::string err;
      int l = listen_on(o.coordinator, &err);
      if (l < 0) throw std::runtime_error("explore: shard 0: " + err);
      co.set_listener(l);
    }
    std::vector<int> parents;
    std::vector<pid_t> pids;
    for (int i = 0; i < jobs; i++) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) throw std::runtime_error("explore: socketpair failed");
      std::vector<int> close_in_child = parents;
      close_in_child.push_back(sv[0]);
      pids.push_back(fork_worker(prog, o, sv[1], close_in_child, -1));
      ::close(sv[1]);
      parents.push_back(sv[0]);
      co.add_local(sv[0]);
    }
    result r = co.run();
    for (pid_t p : pids) ::waitpid(p, nullptr, 0);
    return r;
  }
  // Another shard: `jobs` workers that join shard 0's search.
  std::vector<child> kids;
  for (int i = 0; i < jobs; i++) {
    std::string err;
    int fd = connect_to(o.coordinator, o.connect_timeout_s, &err);
    if (fd < 0) throw std::runtime_error("explore: shard " + std::to_string(o.shard_index) + ": " + err);
    wire::writer(msg::hello).u(static_cast<uint64_t>(o.shard_index)).u(static_cast<uint64_t>(jobs)).send(fd);
    int rp[2];
    if (::pipe(rp) != 0) throw std::runtime_error("explore: pipe failed");
    std::vector<int> close_in_child = {rp[0]};
    for (const child& k : kids) close_in_child.push_back(k.report);
    child k;
    k.pid = fork_worker(prog, o, fd, close_in_child, rp[1]);
    ::close(rp[1]);
    ::close(fd);
    k.report = rp[0];
    kids.push_back(k);
  }
  result r;
  verdict v;
  bool have = false;
  for (child& k : kids) {
    wire::inbox in;
    std::vector<std::pair<msg, std::vector<uint8_t>>> got;
    while (got.size() < 2 && wire::receive(k.report, &in, true))
      while (auto m = in.next()) got.push_back(std::move(*m));
    ::close(k.report);
    ::waitpid(k.pid, nullptr, 0);
    if (got.size() < 2) continue;
    wire::reader sr(got[0].second.data(), got[0].second.size());
    v = read_stop(sr);
    have = true;
    wire::reader tr(got[1].second.data(), got[1].second.size());
    r.own_executions += tr.u();
    tr.u();
    r.units += tr.u();
  }
  if (!have) throw std::runtime_error("explore: shard " + std::to_string(o.shard_index) + ": no verdict from the coordinator");
  r.executions = v.executions;
  r.cut = v.cut;
  r.exhaustive = v.exhaustive;
  r.bound_reached = v.bound_reached;
  r.stale_reached = v.stale_reached;
  r.workers = jobs;
  r.shares.push_back({o.shard_index, jobs, r.units, r.own_executions});
  if (v.found) {
    violation x;
    x.kind = v.kind;
    x.message = v.message;
    x.replay = v.token;
    x.preemptions = v.preemptions;
    x.stale_reads = v.stale_reads;
    r.found = x;
  }
  r.seconds = since(t0);
  return r;
}

}  // namespace explore::detail
GUPFAST_NS_END
