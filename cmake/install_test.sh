#!/usr/bin/env bash
# ctest install.consumer: install this build into a temporary prefix, then build
# examples/pin-vs-munmap against the installed copy twice, with find_package(gupfast) and
# with pkg-config, and run both: the oracle must report no violation and no leak.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR CXX
set -euo pipefail
build=$1 src=$2 cxx=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
for f in include/gupfast/gupfast.h include/gupfast/gup/gup.h lib/cmake/gupfast/gupfastConfig.cmake \
         lib/pkgconfig/gupfast.pc; do
  [ -f "$tmp/prefix/$f" ] || { echo "FAIL: not installed: $f"; exit 1; }
done
[ -n "$(ls "$tmp"/prefix/lib*/libgupfast_native.a 2>/dev/null || true)" ] || [ -f "$tmp/prefix/lib/libgupfast_native.a" ] ||
  { echo "FAIL: no libgupfast_native.a"; ls -R "$tmp/prefix" | head; exit 1; }

# find_package, from a copy of the example outside this source tree.
cp -r "$src/examples/pin-vs-munmap" "$tmp/app"
cmake -S "$tmp/app" -B "$tmp/app-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/app-build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
"$tmp/app-build/pin-vs-munmap" 500 | tee "$tmp/run1.txt"
grep -q '^oracle: no violation$' "$tmp/run1.txt"

# pkg-config.
libdir=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -n 1)
flags=$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs gupfast)
# shellcheck disable=SC2086
"$cxx" -std=c++20 -O2 "$tmp/app/main.cpp" -o "$tmp/app-pc" $flags
"$tmp/app-pc" 500 | tee "$tmp/run2.txt"
grep -q '^oracle: no violation$' "$tmp/run2.txt"
echo "ok: installed, built with find_package and with pkg-config, both clean"
