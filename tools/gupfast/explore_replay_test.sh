#!/bin/sh
# ctest explore.replay_reproduces: a mutant's violation is found and printed with a replay
# command; running that command reproduces the same violation (kind, message, steps); the
# --json, --trace and --html outputs are written, and the JSON ones parse.
# Usage: explore_replay_test.sh GUPFAST WORKDIR
set -u
gupfast=$1
dir=$2
mkdir -p "$dir" && cd "$dir" || exit 1
rm -f run.txt replay.txt run.json trace.json page.html

"$gupfast" explore pte-recheck --strategy rcu --tlb broadcast --unsafe no-pte-recheck \
  --json run.json --trace trace.json --html page.html >run.txt
rc=$?
[ $rc -eq 1 ] || { echo "expected exit 1 (violation found), got $rc"; cat run.txt; exit 1; }
cmd=$(sed -n 's/^replay: gupfast //p' run.txt)
[ -n "$cmd" ] || { echo "no replay line"; cat run.txt; exit 1; }
# shellcheck disable=SC2086
"$gupfast" $cmd >replay.txt
rc=$?
[ $rc -eq 1 ] || { echo "replay: expected exit 1, got $rc"; cat replay.txt; exit 1; }
# Same counterexample: everything after the summary lines: the same steps, kernel
# functions, values and violation.
tail -n +3 run.txt >a.txt
tail -n +3 replay.txt >b.txt
cmp -s a.txt b.txt || { echo "the replay differs:"; diff a.txt b.txt; exit 1; }
grep -q '^violation: stale-pin' run.txt || { echo "expected a stale-pin"; cat run.txt; exit 1; }

for f in run.json trace.json page.html; do
  [ -s $f ] || { echo "$f not written"; exit 1; }
done
grep -q '</html>' page.html || { echo "page.html is not a whole page"; exit 1; }
if command -v python3 >/dev/null 2>&1; then
  python3 - <<'PY' || exit 1
import json
j = json.load(open("run.json"))
for k in ["litmus", "strategy", "tlb", "pte", "unsafe", "mode", "bound", "executions", "exhaustive", "seconds", "violation"]:
    assert k in j, k
v = j["violation"]
assert v and v["kind"] == "stale-pin" and v["replay"], v
t = json.load(open("trace.json"))
assert any(e.get("ph") == "X" for e in t["traceEvents"])
PY
fi
echo "replay reproduces: $cmd"
