#!/usr/bin/env bash
# Configure and build quietly (make demo): one line while it builds, the log's tail only if it
# fails. Usage: scripts/quiet-build.sh BUILD_DIR JOBS
set -uo pipefail
build=$1 jobs=$2
mkdir -p "$build"
log="$build/build.log"
start=$(date +%s)
printf 'gupfast: building (Release, %s jobs; log in %s) ...' "$jobs" "$log"
if cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1 &&
   cmake --build "$build" -j "$jobs" >>"$log" 2>&1; then
  printf ' done in %d s\n\n' $(( $(date +%s) - start ))
else
  printf ' FAILED\n'
  tail -n 40 "$log" >&2
  exit 1
fi
