#!/bin/sh
# Every mutable global of the model backend is either part of the world (GUPFAST_WORLD:
# the section explorer snapshots copy, explore/world.h) or one of the explorer's own, listed
# here. A global of the algorithm code without the mark would keep its value from one
# execution to the next and make executions depend on each other: this test names it.
# Usage: world_globals.sh OBJDUMP LIB...
set -u
objdump=$1
shift
# The explorer's own state (the search, its fibers, the world's bookkeeping), the seam's
# scheduler flags and test hooks, the memory models (reset by every execution), and the interpreter's pointer to the run being explored.
own='^gupfast::model::memory::|^gupfast::model::explore::|^gupfast::model::\(anonymous namespace\)::g_run$|^gupfast::model::physmem_alloc_observer$|^gupfast::model::sync::g_yield_hooked$|^gupfast::model::sync::rt::\(anonymous namespace\)::g_hook(_ctx)?$|^gupfast::model::sync::rt::g_(cpu|sched)$'
found=$("$objdump" -t -C "$@" 2>/dev/null | grep ' O ' | grep -E '	?\.(data|bss|tdata|tbss)' | grep -v '\.data\.rel\.ro' |
  grep -v gupfast_world | sed 's/.*	[0-9a-f]* //' | grep '^gupfast::model::' | grep -Ev '^(typeinfo|vtable|guard variable)' |
  grep -Ev "$own" | sort -u)
world=$("$objdump" -t -C "$@" 2>/dev/null | grep ' O ' | grep -c gupfast_world)
if [ "$world" -lt 20 ]; then
  echo "only $world globals in the world section: is GUPFAST_WORLD still a section attribute?"
  exit 1
fi
if [ -n "$found" ]; then
  echo "mutable globals of the model backend that are neither GUPFAST_WORLD nor the explorer's own:"
  echo "$found"
  exit 1
fi
echo "$world world globals; every other mutable global is the explorer's own"
