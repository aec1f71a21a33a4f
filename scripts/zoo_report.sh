#!/bin/sh
# The bug zoo's numbers and pages (docs/bug-zoo.md): for every entry of `gupfast scenarios
# --zoo`, run its expectations, then its first fix-reverted configuration once more with
# --html, and print one markdown table row. Run from the repository root after a Release build:
#   scripts/zoo_report.sh [GUPFAST] [PAGES_DIR]   (defaults: build/release/tools/gupfast/gupfast, docs/zoo)
# Exit 1 if an entry's expectations do not hold. Times are this machine's.
set -eu
G=${1:-build/release/tools/gupfast/gupfast}
OUT=${2:-docs/zoo}
mkdir -p "$OUT"
echo "| entry | year | commit | mutant (revert + era) | found: s, executions, preemptions | clean with the fix: configurations, exhaustive |"
echo "|---|---|---|---|---|---|"
"$G" scenarios --zoo | tail -n +2 | while read -r name commit year release revert rest; do
  era=$(printf '%s\n' "$rest" | sed -n 's/.*(era: \(.*\))$/\1/p')
  mut=$revert${era:+,$era}
  checks=$("$G" explore "$name" --check-expectations) || { printf '%s\n' "$checks" >&2; echo "$name: expectations do not hold" >&2; exit 1; }
  # The first configuration of the first line that finds the race with the fix reverted.
  found=$(printf '%s\n' "$checks" | grep -F " with $mut on" | grep -v 'expect ok' | head -n 1)
  cfg=$(printf '%s\n' "$found" | sed 's/.*\[\(.*\)\]:.*/\1/')
  flags=$(printf '%s\n' "$cfg" | sed 's/\([a-z-]*\)=\([a-z0-9-]*\)/--\1 \2/g; s/--pt-reclaim on/--pt-reclaim/')
  short=${name#zoo/}
  # shellcheck disable=SC2086 # flags are words
  run=$("$G" explore "$name" --unsafe "$mut" $flags --html "$OUT/$short.html" || true)
  line=$(printf '%s\n' "$run" | grep '^dfs')
  secs=$(printf '%s\n' "$line" | sed -n 's/.*(\([0-9.]*\) s).*/\1/p')
  execs=$(printf '%s\n' "$line" | sed -n 's/.*violation after \([0-9]*\) executions.*/\1/p')
  pre=$(printf '%s\n' "$line" | sed -n 's/.*, \([0-9]*\) preemptions*.*/\1/p')
  stale=$(printf '%s\n' "$line" | sed -n 's/.*, \([0-9]*\) stale reads*.*/, \1 stale read(s)/p')
  kind=$(printf '%s\n' "$run" | sed -n 's/^violation: \([a-z-]*\):.*/\1/p')
  [ -n "$execs" ] || { printf '%s\n' "$run" >&2; echo "$name: not found with $mut $flags" >&2; exit 1; }
  if [ -n "$era" ]; then okpat=" expect ok with $era on"; else okpat=" expect ok on"; fi
  oks=$(printf '%s\n' "$checks" | grep -F "$okpat" | grep -c . || true)
  exh=$(printf '%s\n' "$checks" | grep -F "$okpat" | grep -c 'exhaustive' || true)
  [ "$oks" -gt 0 ] && [ "$oks" -eq "$exh" ] && clean="$oks, yes" || clean="$oks, no ($exh exhaustive)"
  echo "| [$short](#$short) ([page](zoo/$short.html)) | $year | $commit | \`$mut\` | $kind in $secs s, $execs, $pre$stale ($cfg) | $clean |"
done
