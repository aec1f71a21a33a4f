#!/usr/bin/env bash
# Install the Debian packages gupfast needs, only those that are missing.
# Usage: scripts/deps.sh [PACKAGE...]   (called by `make demo` / `make test`; `make fuzz` adds clang-16)
set -euo pipefail
# chromium: the explorer's HTML test (explore.html_renders) renders the --html page in
# headless Chromium, the way a user sees it; without it that test skips.
pkgs=(cmake g++ make pkg-config libgtest-dev libgmock-dev libbenchmark-dev liburcu-dev
      libcli11-dev nlohmann-json3-dev libfmt-dev libboost-context-dev liburing-dev gnuplot-nox
      chromium)
# Extra packages a target needs on top (make fuzz: clang-16 and libclang-rt-16-dev, libFuzzer).
pkgs+=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "gupfast: missing Debian packages: ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
    exit 1
  fi
else SUDO=; fi
echo "gupfast: installing missing packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
