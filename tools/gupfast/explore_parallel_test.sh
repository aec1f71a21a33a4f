#!/bin/sh
# ctest explore.jobs_same and explore.shards_merge: one search explored by several worker
# processes (--jobs), or by shards that meet at shard 0 (--shard, --coordinator) and whose
# reports --merge combines, explores exactly what one process does: the same executions,
# verdict and exhaustiveness (a violation: the same kind and preemptions; its token replays).
# Usage: explore_parallel_test.sh jobs|shards GUPFAST WORKDIR [small]
# (small: the smaller searches only, for the sanitizer builds)
set -u
what=$1
gupfast=$2
dir=$3
small=${4:-}
mkdir -p "$dir" && cd "$dir" || exit 1
fail=0
field() { sed -n "s/^  \"$2\": \\(.*\\),\$/\\1/p" "$1"; }
vfield() { sed -n "s/^    \"$2\": \\(.*\\),\$/\\1/p" "$1"; }
port=$((20000 + $$ % 30000))
check() {
  name=$1
  shift
  rm -f one.json many.json part*.json
  "$gupfast" explore "$@" --json one.json >one.txt 2>&1
  r1=$?
  if [ "$what" = jobs ]; then
    "$gupfast" explore "$@" --jobs 3 --json many.json >many.txt 2>&1
    rn=$?
  else
    port=$((port + 1))
    # Four shards at once, each its own process (as four machines would run them).
    printf '0\n1\n2\n3\n' | xargs -P 4 -I{} sh -c \
      "\"$gupfast\" explore $* --shard {}/4 --coordinator localhost:$port --json part{}.json >part{}.txt 2>&1"
    "$gupfast" explore --merge part0.json part1.json part2.json part3.json --json many.json >many.txt 2>&1
    rn=$?
  fi
  if [ $r1 -ne $rn ]; then
    echo "FAIL $name: exit $r1 alone, $rn in parallel"; cat many.txt part*.txt 2>/dev/null; fail=1; return
  fi
  e1=$(field one.json executions); en=$(field many.json executions)
  x1=$(field one.json exhaustive); xn=$(field many.json exhaustive)
  k1=$(vfield one.json kind); kn=$(vfield many.json kind)
  p1=$(vfield one.json preemptions); pn=$(vfield many.json preemptions)
  if [ "$x1" != "$xn" ] || [ "$k1" != "$kn" ] || [ "$p1" != "$pn" ] || { [ -z "$k1" ] && [ "$e1" != "$en" ]; }; then
    echo "FAIL $name: alone $e1 executions exhaustive=$x1 $k1/$p1, in parallel $en exhaustive=$xn $kn/$pn"
    fail=1
    return
  fi
  if [ -n "$k1" ]; then  # the parallel search's token replays alone
    token=$(sed -n 's/^    "replay": "\(.*\)",$/\1/p' many.json)
    "$gupfast" explore "$@" --replay "$token" >replay.txt 2>&1
    grep -q "^violation: $(echo "$kn" | tr -d '"')" replay.txt || { echo "FAIL $name: its token does not replay"; cat replay.txt; fail=1; return; }
  fi
  echo "ok   $name: $en executions, exhaustive=$xn${kn:+, $kn with $pn preemptions}"
}
check pae-torn pae-torn --strategy seqcount
check pte-recheck-mutant pte-recheck --unsafe no-pte-recheck
check table-sync table-sync --strategy ipi
if [ -z "$small" ]; then
  check wp-seq wp-seq --strategy rcu --tlb ipi
  check folio-recheck folio-recheck --strategy seqcount --tlb ipi
  check thp-split-collapse thp-split-collapse --strategy ipi
  check pmd-recheck-mutants pmd-recheck --unsafe no-pmd-recheck,no-collapse-sync
fi
exit $fail
