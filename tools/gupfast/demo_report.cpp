// The demo's parts on the terminal and in the report folder's index.html (demo.h).
//
// The terminal gets each part's title, a few lines of what it did, its table (columns as
// wide as their widest cell) and the replay commands; the page gets the same tables with
// each cell linked to its search's HTML timeline, the whole story of a cell as its second
// line, the SVG plots inline, and every JSON report listed. The page has no scripts and no
// external resources.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "demo.h"
#include "html.h"

namespace gupfast::cli {

namespace {

namespace fs = std::filesystem;

// Terminal columns, counted in characters (every cell is ASCII).
void print_table(const demo_part& p) {
  std::vector<size_t> w(p.header.size(), 0);
  auto widen = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size() && i < w.size(); i++) w[i] = std::max(w[i], cells[i].size());
  };
  widen(p.header);
  for (const auto& row : p.rows) {
    std::vector<std::string> t;
    for (const demo_cell& c : row) t.push_back(c.text);
    widen(t);
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "   ";
    for (size_t i = 0; i < cells.size() && i < w.size(); i++)
      s += i + 1 < cells.size() ? fmt::format("{:<{}}  ", cells[i], w[i]) : cells[i];
    fmt::print("{}\n", s);
  };
  line(p.header);
  std::vector<std::string> rule;
  for (size_t n : w) rule.push_back(std::string(n, '-'));
  line(rule);
  for (const auto& row : p.rows) {
    std::vector<std::string> t;
    for (const demo_cell& c : row) t.push_back(c.text);
    line(t);
  }
}

constexpr const char* STYLE = R"css(
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d24; background: #fbfbfd; }
header { padding: 20px 32px 16px; background: #fff; border-bottom: 1px solid #d6dae3; }
h1 { margin: 0 0 6px; font-size: 22px; font-weight: 600; }
h2 { margin: 28px 0 8px; font-size: 17px; font-weight: 600; }
main { padding: 4px 32px 32px; max-width: 1200px; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 6px; font-weight: 600; }
.verdict.good { background: #e7f5ec; color: #1b6e3a; border: 1px solid #b5dfc3; }
.verdict.bad { background: #fdecea; color: #b3261e; border: 1px solid #f3b8b3; }
.muted { color: #6b6b78; }
p.intro { margin: 0 0 10px; max-width: 900px; }
table { border-collapse: collapse; background: #fff; border: 1px solid #d6dae3; }
th, td { padding: 6px 10px; border-bottom: 1px solid #eef0f4; text-align: left; vertical-align: top; }
th { background: #f1f3f8; font-weight: 600; }
td.bad { background: #fdecea; color: #b3261e; font-weight: 600; }
td.found a { color: #b3261e; }
td small { display: block; color: #6b6b78; font-size: 11.5px; max-width: 460px; }
pre { background: #1d1d24; color: #e8e8ee; padding: 8px 12px; border-radius: 5px; overflow-x: auto; font-size: 12.5px; }
ul.files { columns: 3; font-size: 12.5px; }
img { max-width: 100%; background: #fff; border: 1px solid #d6dae3; margin-top: 8px; }
)css";

std::string cell_html(const demo_cell& c) {
  std::string cls = !c.expected ? " class=\"bad\"" : c.text.rfind("found", 0) == 0 ? " class=\"found\"" : "";
  std::string text = html_escape(c.text);
  if (!c.link.empty()) text = fmt::format("<a href=\"{}\">{}</a>", html_escape(c.link), text);
  std::string detail = c.detail.empty() ? "" : "<small>" + html_escape(c.detail) + "</small>";
  return fmt::format("<td{}>{}{}</td>", cls, text, detail);
}

std::string part_html(const demo_part& p) {
  std::string h = fmt::format("<section><h2>{} <span class=\"verdict {}\">{}</span></h2>\n", html_escape(p.title),
                              p.ok ? "good" : "bad", p.ok ? "as expected" : "FAILED");
  std::string intro;
  for (const std::string& l : p.intro) intro += html_escape(l) + " ";
  h += "<p class=\"intro\">" + intro + "</p>\n<table><tr>";
  for (const std::string& t : p.header) h += "<th>" + html_escape(t) + "</th>";
  h += "</tr>\n";
  for (const auto& row : p.rows) {
    h += "<tr>";
    for (const demo_cell& c : row) h += cell_html(c);
    h += "</tr>\n";
  }
  h += "</table>\n";
  if (!p.replays.empty()) {
    h += "<p class=\"muted\">Replay a race step by step:</p><pre>";
    for (size_t i = 0; i < p.replays.size(); i++) h += html_escape(fmt::format("[{}] {}", i + 1, p.replays[i])) + "\n";
    h += "</pre>\n";
  }
  for (const std::string& n : p.notes) h += "<p class=\"muted\">" + html_escape(n) + "</p>\n";
  for (const std::string& img : p.images)
    h += fmt::format("<img src=\"{}\" alt=\"{}\">\n", html_escape(img), html_escape(img));
  if (!p.files.empty()) {
    h += "<p class=\"muted\">Reports:</p><ul class=\"files\">";
    for (const std::string& f : p.files) h += fmt::format("<li><a href=\"{0}\">{0}</a></li>", html_escape(f));
    h += "</ul>\n";
  }
  return h + "</section>\n";
}

}  // namespace

void print_part(const demo_part& p) {
  fmt::print("{}{}\n", p.title, p.ok ? "" : "  [FAILED]");
  for (const std::string& l : p.intro) fmt::print("   {}\n", l);
  fmt::print("\n");
  print_table(p);
  if (!p.replays.empty()) fmt::print("\n");
  for (size_t i = 0; i < p.replays.size(); i++) fmt::print("   [{}] {}\n", i + 1, p.replays[i]);
  if (!p.notes.empty()) fmt::print("\n");
  for (const std::string& n : p.notes) fmt::print("   {}\n", n);
  fmt::print("\n");
}

std::string write_index(const demo_context& ctx, const std::vector<demo_part>& parts, bool ok, double seconds) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>gupfast demo</title>\n<style>";
  h += STYLE;
  h += "</style></head><body>\n<header><h1>gupfast demo: can GUP-fast race with zap, reclaim and page-table "
       "freeing, and what keeps it safe?</h1>\n";
  h += fmt::format("<p class=\"muted\">The LKML thread of October 2022 (Linus Torvalds, Jann Horn), answered on the "
                   "model in {:.0f} s{}. Every verdict below is checked against its scenario's own "
                   "<code>expect</code> line; each linked page is that search's timeline.</p>\n",
                   seconds, ctx.quick ? " (--quick)" : "");
  h += fmt::format("<span class=\"verdict {}\">{}</span></header>\n<main>\n", ok ? "good" : "bad",
                   ok ? "every part as expected" : "FAILED: see the red cells");
  for (const demo_part& p : parts) h += part_html(p);
  h += "<p class=\"muted\">Run it again: <code>make demo</code>, or <code>gupfast demo [--quick] [--out DIR]</code>."
       " docs/demo.md explains every part.</p>\n</main></body></html>\n";
  std::string path = ctx.out + "/index.html";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << h;
  out.close();
  if (!out) return "cannot write " + path;
  return "";
}

}  // namespace gupfast::cli
