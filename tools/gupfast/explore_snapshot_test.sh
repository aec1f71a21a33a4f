#!/bin/sh
# ctest explore.snapshot_same: a search that starts every execution from a snapshot of
# setup's state explores exactly what one that runs setup every time does: the same number
# of executions, the same verdict, the same replay token; and a token found from a snapshot
# replays from scratch to the same violation.
# Usage: explore_snapshot_test.sh GUPFAST WORKDIR [small]
# (small: the smaller searches only, for the sanitizer builds)
set -u
gupfast=$1
dir=$2
small=${3:-}
mkdir -p "$dir" && cd "$dir" || exit 1
fail=0
# The fields that must agree (render_json: one per line).
fields() { grep -E '^  "(executions|exhaustive|cut_executions|bound_reached)"|^    "(kind|message|replay|preemptions)"' "$1"; }
check() {
  name=$1
  shift
  rm -f snap.json scratch.json replay.json
  "$gupfast" explore "$@" --json snap.json >snap.txt 2>&1
  rs=$?
  "$gupfast" explore "$@" --from-scratch --json scratch.json >scratch.txt 2>&1
  rf=$?
  fields snap.json >a.txt
  fields scratch.json >b.txt
  if [ $rs -ne $rf ] || ! cmp -s a.txt b.txt || [ ! -s a.txt ]; then
    echo "FAIL $name: snapshot (exit $rs) and from scratch (exit $rf) differ:"
    diff a.txt b.txt
    fail=1
    return
  fi
  token=$(sed -n 's/^    "replay": "\(.*\)",\{0,1\}$/\1/p' snap.json)
  if [ -n "$token" ]; then
    "$gupfast" explore "$@" --from-scratch --replay "$token" --json replay.json >replay.txt 2>&1
    grep -E '^    "(kind|message)"' snap.json >a.txt
    grep -E '^    "(kind|message)"' replay.json >b.txt
    cmp -s a.txt b.txt || { echo "FAIL $name: the token does not replay from scratch"; diff a.txt b.txt; fail=1; return; }
  fi
  echo "ok   $name: $(grep -E '^  "executions"' snap.json | tr -d ' ,')"
}
check pte-recheck-mutant pte-recheck --unsafe no-pte-recheck
check pmd-recheck-mutants pmd-recheck --unsafe no-pmd-recheck,no-collapse-sync
check wp-seq-mutant wp-seq --strategy seqcount --tlb ipi --unsafe no-wp-seq
check table-reuse table-reuse --strategy seqcount --unsafe no-seq-validate,no-pmd-recheck
check reclaim reclaim-vs-pin-fast --strategy ipi
if [ -z "$small" ]; then
  check folio-recheck-mutant folio-recheck --unsafe no-folio-recheck
  check pae-aba pae-aba --strategy rcu --tlb broadcast
  check thp-split-collapse thp-split-collapse --strategy rcu --tlb broadcast
  check fork-pin-write fork-pin-write --strategy seqcount --tlb ipi
fi
exit $fail
