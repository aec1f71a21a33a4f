#!/usr/bin/env bash
# ctest cli.demo.quick: `gupfast demo --quick` as a newcomer runs it. Exit 0 and "demo: ok";
# the four parts, each "as expected"; the last line names the report's index.html; the
# folder holds a JSON report and an HTML timeline per search, the three stress reports and
# the bench report; the first replay command it printed reproduces its race; and, where
# Chromium is installed, the rendered index page shows four parts, every cell visible, no
# failed cell, and links that resolve to files of the folder.
# Usage: demo_test.sh GUPFAST [CHROMIUM]
set -euo pipefail
gupfast=$(realpath "$1") chromium=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*"; cat out.txt 2>/dev/null | tail -60; exit 1; }

rc=0
"$gupfast" demo --quick --out report >out.txt 2>err.txt || rc=$?
[ $rc -eq 0 ] || { cat err.txt; fail "gupfast demo --quick: exit $rc, expected 0"; }
grep -q '^demo: ok' out.txt || fail "no 'demo: ok' line"
for part in '^1\. The seed question' '^2\. Real kernel races' '^3\. Stress' '^4\. The pin benchmark'; do
  grep -q "$part" out.txt || fail "no part matching '$part'"
done
! grep -q 'FAILED\|UNEXPECTED' out.txt || fail "a part failed"
last=$(tail -n 1 out.txt)
[ "$last" = "report: $tmp/report/index.html" ] || fail "last line is '$last', expected the report's path"

[ -s report/index.html ] || fail "no index.html"
for f in stress-ipi.json stress-rcu.json stress-seqcount.json bench.json; do
  [ -s "report/$f" ] || fail "no report/$f"
done
nhtml=$(ls report/explore/*.html | wc -l) njson=$(ls report/explore/*.json | wc -l)
[ "$nhtml" -ge 20 ] && [ "$nhtml" -eq "$njson" ] || fail "explore/: $nhtml pages and $njson reports"

# The first replay command of part 1 reproduces its violation.
cmd=$(sed -n 's/^ *\[1\] gupfast explore /explore /p' out.txt | head -n 1)
[ -n "$cmd" ] || fail "no replay command [1]"
rc=0
# shellcheck disable=SC2086
"$gupfast" $cmd >replay.txt 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q '^violation: ' replay.txt || { cat replay.txt; fail "replay '$cmd': exit $rc, no violation"; }

if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  echo "chromium not found at configure time: the rendered page is not checked"
  exit 0
fi
# What a user sees: visible sections and tables, the verdicts, no red cell, links that work.
cp report/index.html report/probed.html
cat >>report/probed.html <<'JS'
<script>addEventListener('load', () => {
  const seen = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const all = s => [...document.querySelectorAll(s)].filter(seen);
  const out = [
    'sections: ' + all('section').length,
    'tables: ' + all('section table').length,
    'verdicts: ' + all('section h2 .verdict').map(e => e.innerText.trim()).join('|'),
    'bad: ' + all('td.bad').length,
    'links: ' + all('td a').map(a => a.getAttribute('href')).join(' '),
    'images: ' + all('img').filter(i => i.naturalWidth > 0).length,
  ];
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = out.join('\n');
  document.body.appendChild(pre);
});</script>
JS
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --window-size=1300,900 --virtual-time-budget=5000 \
  --dump-dom "file://$tmp/report/probed.html" 2>/dev/null | sed -n '/<pre id="probe">/,/<\/pre>/p' >probe.txt
cat probe.txt
grep -q '^<pre id="probe">sections: 4$' probe.txt || fail "the page does not show four parts"
grep -q '^tables: 4$' probe.txt || fail "the page does not show four tables"
grep -q '^verdicts: as expected|as expected|as expected|as expected$' probe.txt || fail "a part is not 'as expected'"
grep -q '^bad: 0$' probe.txt || fail "a failed cell is shown"
links=$(sed -n 's/^links: //p' probe.txt)
n=0
for l in $links; do
  [ -s "report/$l" ] || fail "link '$l' names no file of the report"
  n=$((n + 1))
done
[ $n -ge 20 ] || fail "only $n links to timelines"
echo "ok: four parts, $n timeline links"
