// The counterexample as one self-contained HTML page (--html): a header with the verdict and
// the replay command, a lane per litmus thread with the numbered steps in order (each step a
// card: its litmus line, the kernel functions it ran, the values it read; preemptions
// marked), and the litmus source. No scripts, no external resources: it opens anywhere.
#include <fmt/format.h>

#include "machine/config.h"
#include "html.h"
#include "render.h"

namespace gupfast::cli {

namespace {

std::string esc(const std::string& s) { return html_escape(s); }

constexpr const char* STYLE = R"css(
:root { --bg:#fbfbfd; --fg:#1d1d24; --muted:#6b6b78; --lane:#f1f3f8; --lane2:#eaeef6; --card:#fff;
        --line:#d6dae3; --bad:#b3261e; --badbg:#fdecea; --good:#1b6e3a; --goodbg:#e7f5ec; --pre:#c77700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 18px 28px 14px; border-bottom: 1px solid var(--line); background: #fff; }
h1 { margin: 0 0 4px; font-size: 20px; font-weight: 600; }
h1 small { color: var(--muted); font-weight: 400; font-size: 14px; margin-left: 8px; }
.about { color: var(--muted); margin: 0 0 10px; }
.cfg span { display: inline-block; margin: 0 6px 6px 0; padding: 1px 8px; border-radius: 10px; background: var(--lane); font-size: 12px; }
.cfg span.unsafe { background: var(--badbg); color: var(--bad); }
.verdict { margin-top: 8px; padding: 10px 14px; border-radius: 6px; }
.verdict.bad { background: var(--badbg); border: 1px solid #f3b8b3; }
.verdict.good { background: var(--goodbg); border: 1px solid #b5dfc3; color: var(--good); }
.verdict b { color: var(--bad); }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.replay { margin-top: 8px; padding: 6px 10px; background: #1d1d24; color: #e8e8ee; border-radius: 5px; overflow-x: auto; white-space: pre; }
main { display: flex; gap: 20px; padding: 18px 28px; align-items: flex-start; }
.lanes { flex: 1; min-width: 0; display: grid; gap: 0; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; background: #fff; }
.lanes .hd { position: sticky; top: 0; z-index: 1; padding: 8px 10px; font-weight: 600; background: #fff; border-bottom: 2px solid var(--line); }
.lanes .num { padding: 8px 6px; text-align: right; color: var(--muted); font-variant-numeric: tabular-nums; border-bottom: 1px solid #eef0f4; }
.lanes .cell { padding: 4px 8px; border-left: 1px solid var(--line); border-bottom: 1px solid #eef0f4; min-height: 10px; }
.lanes .cell.l0 { background: var(--lane); } .lanes .cell.l1 { background: var(--lane2); }
.lanes .cell.l2 { background: var(--lane); } .lanes .cell.l3 { background: var(--lane2); }
.lanes .span { grid-column: 2 / -1; padding: 6px 10px; color: var(--muted); border-left: 1px solid var(--line); border-bottom: 1px solid #eef0f4; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 5px; padding: 5px 8px; box-shadow: 0 1px 1px rgba(0,0,0,.04); }
.card.pre { border-left: 4px solid var(--pre); }
.card.last { border: 2px solid var(--bad); }
.card .op { font-weight: 600; }
.card .op .ln { color: var(--muted); font-weight: 400; margin-right: 6px; }
.card .badge { float: right; font-size: 11px; color: var(--pre); }
.card ul { margin: 3px 0 0; padding: 0; list-style: none; }
.card li { display: flex; gap: 8px; justify-content: space-between; color: #3a3a46; }
.card li .acc { color: var(--muted); white-space: nowrap; }
aside { width: 420px; flex: none; }
aside h2 { font-size: 14px; margin: 0 0 6px; }
aside pre { margin: 0 0 16px; padding: 10px; background: #fff; border: 1px solid var(--line); border-radius: 6px; white-space: pre-wrap; font-size: 11.5px; }
aside pre > span { display: block; padding-left: 2.5em; text-indent: -2.5em; }
aside pre .hit { background: #fff3cd; }
aside pre .n { color: var(--muted); display: inline-block; width: 2.5em; }
.legend { color: var(--muted); font-size: 12px; }
)css";

std::string cfg_badges(const explore_report& r) {
  std::string s = "<div class=\"cfg\">";
  s += fmt::format("<span>strategy={}</span><span>tlb={}</span><span>pte={}</span>", esc(r.cfg.strategy),
                   esc(r.cfg.tlb), esc(r.cfg.pte));
  if (r.cfg.strategy == "seqcount") s += fmt::format("<span>seq-scope={}</span>", esc(r.cfg.seq_scope));
  if (r.cfg.nodes != 1) s += fmt::format("<span>nodes={}</span>", r.cfg.nodes);
  s += fmt::format("<span>geometry={}</span>", r.cfg.geometry);
  if (r.cfg.pt_reclaim) s += "<span>pt-reclaim=on</span>";
  s += r.cfg.unsafe ? fmt::format("<span class=\"unsafe\">unsafe={}</span>", esc(unsafe_mask_names(r.cfg.unsafe)))
                    : std::string("<span>unsafe=none</span>");
  return s + "</div>";
}

std::string source_panel(const litmus::file& f, const std::vector<step_row>& rows) {
  std::vector<bool> hit;
  for (const step_row& row : rows) {
    if (row.line >= static_cast<int>(hit.size())) hit.resize(row.line + 1);
    if (row.line > 0) hit[row.line] = true;
  }
  std::string s = "<h2>" + esc(f.path) + "</h2><pre>";
  int n = 0;
  size_t pos = 0;
  while (pos <= f.source.size()) {
    size_t nl = f.source.find('\n', pos);
    if (nl == std::string::npos && pos == f.source.size()) break;
    std::string line = f.source.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    n++;
    bool h = n < static_cast<int>(hit.size()) && hit[n];
    s += fmt::format("<span{}><span class=\"n\">{}</span>{}</span>", h ? " class=\"hit\"" : "", n, esc(line));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return s + "</pre>";
}

}  // namespace

std::string render_html(const explore_report& r) {
  const litmus::file& f = *r.file;
  const auto& res = r.result;
  std::vector<step_row> rows = res.found ? condense(f, res.found->trace) : std::vector<step_row>{};
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += fmt::format("<title>litmus {} - gupfast explore</title><style>{}</style></head><body>\n", esc(f.name), STYLE);

  h += fmt::format("<header><h1>litmus {}<small>gupfast explore</small></h1>", esc(f.name));
  if (!f.about.empty()) h += "<p class=\"about\">" + esc(f.about) + "</p>";
  h += cfg_badges(r);
  std::string summary = render_summary(r);
  summary = summary.substr(summary.find('\n') + 1);  // the first line repeats the badges
  if (res.found) {
    const auto& v = *res.found;
    h += fmt::format("<div class=\"verdict bad\"><b>{}</b>: {}<br><span class=\"legend\">{}</span></div>", esc(v.kind),
                     esc(v.message), esc(summary));
    if (!r.replay_command.empty()) h += "<div class=\"replay\">$ " + esc(r.replay_command) + "</div>";
  } else {
    h += "<div class=\"verdict good\">" + esc(summary) + "</div>";
  }
  h += "</header>\n<main>";

  if (res.found) {
    size_t nt = f.threads.size();
    h += fmt::format("<div class=\"lanes\" style=\"grid-template-columns: 3.2em repeat({}, minmax(0, 1fr))\">", nt);
    h += "<div class=\"hd\">#</div>";
    for (const litmus::thread& t : f.threads) h += "<div class=\"hd\">thread " + esc(t.name) + "</div>";
    for (const step_row& row : rows) {
      bool last = row.number == static_cast<int>(rows.size());
      std::string card = fmt::format("<div class=\"card{}{}\">", row.preempted ? " pre" : "", last ? " last" : "");
      if (row.preempted) card += "<span class=\"badge\">preempts</span>";
      card += "<div class=\"op mono\">";
      if (row.line) card += fmt::format("<span class=\"ln\">{}:</span>", row.line);
      card += esc(row.op_text) + "</div><ul>";
      for (const step_detail& d : row.details)
        card += fmt::format("<li><span class=\"mono\">{}</span><span class=\"acc mono\">{}</span></li>", esc(d.function),
                            esc(describe_access(d)));
      card += "</ul></div>";
      h += fmt::format("<div class=\"num\">{}</div>", row.number);
      if (row.tid < 0 || static_cast<size_t>(row.tid) >= nt) {
        h += "<div class=\"span\">" + card + "</div>";
        continue;
      }
      for (size_t t = 0; t < nt; t++)
        h += fmt::format("<div class=\"cell l{}\">{}</div>", t % 4, static_cast<size_t>(row.tid) == t ? card : "");
    }
    h += "</div>";
  }
  h += "<aside>" + source_panel(f, rows);
  h += "<p class=\"legend\">Each numbered step is one thread running one litmus line until another thread runs; "
       "the list under it is the kernel functions it went through, each with its last memory access "
       "(a load shows the value read). An orange edge marks a preemption; the red card is the step "
       "where the oracle saw the violation.</p></aside></main></body></html>\n";
  return h;
}

}  // namespace gupfast::cli
