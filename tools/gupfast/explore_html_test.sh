#!/usr/bin/env bash
# ctest explore.html_renders: the --html counterexample page, rendered by headless Chromium
# at the size a user's window has, shows what it must: a lane per thread side by side, every
# step numbered in order, the violation and the replay token. The page has no scripts; a
# probe appended to a copy of it reads the laid-out page (boxes, rendered text) after load
# and writes what it saw into the DOM, which --dump-dom prints. A raw-HTML grep cannot see a
# broken <style>, a tag swallowing the body, or lanes stacked instead of side by side.
# Usage: explore_html_test.sh GUPFAST CHROMIUM   (exit 77 = skipped: no Chromium)
set -euo pipefail
gupfast=$(realpath "$1") chromium=${2:-}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  echo "SKIP: chromium not found at configure time (scripts/deps.sh installs it)"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*"; echo "--- probe:"; cat probe.txt 2>/dev/null || true; exit 1; }

rc=0
"$gupfast" explore pte-recheck --strategy rcu --tlb broadcast --unsafe no-pte-recheck \
  --html page.html --json run.json >run.txt || rc=$?
[ $rc -eq 1 ] || { cat run.txt; fail "gupfast explore: expected exit 1 (violation found), got $rc"; }
token=$(sed -n 's/^ *"replay": "\([^"]*\)",*$/\1/p' run.json)
nsteps=$(grep -c '^ *"step": ' run.json || true)
[ -n "$token" ] && [ "$nsteps" -gt 1 ] || fail "run.json: no replay token or steps"

# The probe: only what the user sees counts (innerText skips what CSS hides; a box of zero
# size is not seen). Lane headers are listed only if they share one row, left to right.
cp page.html probed.html
cat >>probed.html <<'JS'
<script>addEventListener('load', () => {
  const seen = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const all = s => [...document.querySelectorAll(s)].filter(seen);
  const hd = all('.lanes .hd').filter(e => e.innerText.startsWith('thread '));
  const row = hd.every(e => e.getBoundingClientRect().top === hd[0].getBoundingClientRect().top);
  hd.sort((a, b) => a.getBoundingClientRect().left - b.getBoundingClientRect().left);
  const out = [
    'lanes: ' + (row ? hd.map(e => e.innerText.trim()).join(' | ') : 'not side by side'),
    'steps: ' + all('.lanes .num').map(e => e.innerText.trim()).join(' '),
    'cards: ' + all('.lanes .card').length,
    'violation: ' + all('.verdict.bad b').map(e => e.innerText).join(),
    'replay: ' + all('.replay').map(e => e.innerText).join(),
    'wide: ' + (document.documentElement.scrollWidth > innerWidth ? 'overflows' : 'fits'),
  ];
  const p = document.createElement('pre'); p.id = 'probe'; p.textContent = '\n' + out.join('\n') + '\n';
  document.body.append(p);
});</script>
JS
browse() { HOME="$tmp" timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
  --user-data-dir="$tmp/profile" --window-size=1400,1100 "$@" 2>>chromium.log; }
browse --dump-dom "file://$tmp/probed.html" >dom.html || { cat chromium.log; fail "chromium --dump-dom"; }
sed -n '/^<pre id="probe">$/,/^<\/pre>/{//!p}' dom.html >probe.txt
# The probe ran (its output exists only in the DOM after load, never in the page itself).
[ -s probe.txt ] && ! grep -q 'id="probe"' page.html || fail "the probe did not run (a broken tag swallowed the page?)"

# One lane per thread of the 2-thread scenario, named A and B, side by side.
grep -qx 'lanes: thread A | thread B' probe.txt || fail "lanes"
# Every step of the counterexample, numbered 1..N in order, each with a visible card.
want=$(seq -s ' ' 1 "$nsteps")
grep -qx "steps: $want" probe.txt || fail "steps: want $want"
grep -qx "cards: $nsteps" probe.txt || fail "cards: want $nsteps"
# The violation's kind, and the replay command with the token the CLI printed.
grep -qx 'violation: stale-pin' probe.txt || fail "violation"
grep -q "^replay: \$ gupfast explore .*--replay $token\$" probe.txt || fail "replay token $token"
grep -qx 'wide: fits' probe.txt || fail "the page is wider than the window"

# The screenshot of the unmodified page: a blank 1400x1100 page (or one whose body a broken
# tag swallowed) is ~7 KB, the real page ~270 KB; 50 KB separates them with room for fonts.
browse --screenshot="$tmp/page.png" "file://$tmp/page.html" >/dev/null || fail "chromium --screenshot"
size=$(stat -c %s page.png 2>/dev/null || echo 0)
[ "$size" -gt 51200 ] || fail "screenshot is $size bytes: a blank page?"
echo "rendered: $nsteps steps in lanes A | B, stale-pin, token $token, screenshot $size bytes"
