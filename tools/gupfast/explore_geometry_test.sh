#!/bin/sh
# ctest explore.geometry.NAME: a scenario's expectations give the same verdicts under the
# explorer's small geometry (exhaustive) and under x86-64's (512 entries per table, 2 MiB
# THPs), where an execution budget bounds the safe searches (a mutant's search runs until it
# finds its violation): for every expect line and configuration, the same kind found or none.
# Usage: explore_geometry_test.sh GUPFAST FILE WORKDIR BUDGET
set -u
gupfast=$1
file=$2
dir=$3
budget=$4
mkdir -p "$dir" && cd "$dir" || exit 1
rm -f small.json x86.json
"$gupfast" explore "$file" --check-expectations --geometry small --json small.json >small.txt 2>&1
rs=$?
"$gupfast" explore "$file" --check-expectations --geometry x86-64 --max-executions "$budget" --json x86.json >x86.txt 2>&1
rx=$?
[ $rs -eq 0 ] || { echo "small geometry: exit $rs"; cat small.txt; exit 1; }
[ $rx -eq 0 ] || { echo "x86-64 geometry: exit $rx"; cat x86.txt; exit 1; }
# Per check, in file order: holds, and the kind found (render_json, one key per line).
verdicts() { grep -E '^        "kind"|^      "holds"|^      "violation": null' "$1" | sed 's/,$//'; }
verdicts small.json >a.txt
verdicts x86.json >b.txt
[ -s a.txt ] || { echo "no verdicts in the report"; exit 1; }
cmp -s a.txt b.txt || { echo "the geometries disagree (small < > x86-64):"; diff a.txt b.txt; exit 1; }
echo "$(grep -c holds a.txt) checks agree: $(tail -1 small.txt) / $(tail -1 x86.txt)"
