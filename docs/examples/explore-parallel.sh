#!/bin/sh
# One gupfast explore search in N shards on this machine with GNU parallel (Debian: parallel),
# then one report. Each shard is its own process; shard 0 coordinates on PORT, the others
# connect to it; every shard writes its part, and --merge combines them.
#   usage: explore-parallel.sh SCENARIO N PORT [explore options...]
# e.g.: explore-parallel.sh pae-aba 4 7400 --strategy rcu --tlb ipi --bound 3
set -eu
scenario=$1
n=$2
port=$3
shift 3
out=${OUT:-parts}
mkdir -p "$out"
seq 0 $((n - 1)) | parallel -j "$n" --halt never \
  gupfast explore "$scenario" "$@" --shard {}/"$n" --coordinator localhost:"$port" --json "$out"/part{}.json
gupfast explore --merge "$out"/part*.json --json "$out"/merged.json
