# `gupfast explore` and `gupfast scenarios` (included from tools/gupfast/CMakeLists.txt):
# the litmus parser and interpreter (on the model backend), the built-in scenarios embedded
# from tests/litmus, and their tests (label `explore`).

if(NOT TARGET gupfast_model)  # built without the model backend: the commands say so
  target_sources(gupfast PRIVATE explore_unavailable.cpp)
  return()
endif()

# The parser and the interpreter run inside the explorer: compiled against the model
# backend (gupfast_model's definitions put them in namespace gupfast::model). The oracle
# and the instrumented operations (src/check) come along on the model backend too, unless
# gupfast_model has them already.
set(litmus_sources
  ${PROJECT_SOURCE_DIR}/src/explore/litmus.cpp
  ${PROJECT_SOURCE_DIR}/src/explore/interp.cpp
)
get_target_property(model_sources gupfast_model SOURCES)
if(NOT "check/oracle.cpp" IN_LIST model_sources)
  foreach(s oracle history verdicts ops)
    list(APPEND litmus_sources ${PROJECT_SOURCE_DIR}/src/check/${s}.cpp)
  endforeach()
endif()
add_library(gupfast_litmus STATIC ${litmus_sources})
# PRIVATE: gupfast_model's definitions (the model namespace) must not reach the CLI's sources.
target_link_libraries(gupfast_litmus PRIVATE gupfast_model fmt::fmt)

# Every tests/litmus/*.litmus, as raw string literals (embed_litmus.cmake).
set(litmus_dir ${PROJECT_SOURCE_DIR}/tests/litmus)
file(GLOB litmus_files CONFIGURE_DEPENDS ${litmus_dir}/*.litmus)
list(SORT litmus_files)
file(GLOB zoo_files CONFIGURE_DEPENDS ${litmus_dir}/zoo/*.litmus)
list(SORT zoo_files)
set(litmus_embedded ${CMAKE_CURRENT_BINARY_DIR}/builtin_litmus.cpp)
add_custom_command(
  OUTPUT ${litmus_embedded}
  COMMAND ${CMAKE_COMMAND} -DOUT=${litmus_embedded} -DDIR=${litmus_dir} -P ${CMAKE_CURRENT_SOURCE_DIR}/embed_litmus.cmake
  DEPENDS ${litmus_files} ${zoo_files} ${CMAKE_CURRENT_SOURCE_DIR}/embed_litmus.cmake
  COMMENT "Embedding tests/litmus"
  VERBATIM)

target_sources(gupfast PRIVATE
  explore.cpp
  explore_checks.cpp
  explore_progress.cpp
  explore_merge.cpp
  scenarios.cpp
  render_text.cpp
  render_trace.cpp
  render_html.cpp
  demo_explore.cpp  # `gupfast demo`'s parts 1 and 2 (demo.h)
  ${litmus_embedded}
)
target_include_directories(gupfast PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(gupfast PRIVATE gupfast_litmus)

# ---- tests -------------------------------------------------------------------------------
# Every scenario's expectations: each mutant it names is found, its safe version is clean,
# and every safe search is exhausted within its bound (no execution budget: docs/explore.md
# has the times). Sanitizer builds (10-30x slower) check the small scenarios only.
set(litmus_small flush-before-free try-get pae-torn pte-recheck table-sync reclaim-vs-pin-fast)
set(sanitize_small "")
if(GUPFAST_SANITIZE)
  set(sanitize_small small)  # the scripted checks run their smaller searches only
endif()
foreach(f IN LISTS litmus_files)
  get_filename_component(name ${f} NAME_WE)
  if(GUPFAST_SANITIZE AND NOT name IN_LIST litmus_small)
    continue()
  endif()
  add_test(NAME explore.litmus.${name} COMMAND gupfast explore ${f} --check-expectations)
  set_tests_properties(explore.litmus.${name} PROPERTIES LABELS "explore" TIMEOUT 900)
  # The same verdicts under x86-64's geometry (2 MiB THPs), its safe searches cut at 100
  # executions each (explore_geometry_test.sh). Release builds only.
  if(NOT GUPFAST_SANITIZE)
    add_test(NAME explore.geometry.${name}
      COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/explore_geometry_test.sh $<TARGET_FILE:gupfast> ${f}
              ${CMAKE_CURRENT_BINARY_DIR}/explore_geometry/${name} 100)
    set_tests_properties(explore.geometry.${name} PROPERTIES LABELS "explore" TIMEOUT 900)
  endif()
endforeach()

# The bug zoo (tests/litmus/zoo, docs/bug-zoo.md): each real kernel race found with its fix
# reverted and clean with it, every `ok` exhaustive within its bound (label `zoo`).
# Sanitizer builds (10-30x slower) run the entries whose searches take under half a second.
set(zoo_small x86-paravirt-table-free pt-reclaim-refault pte-map-lock-recheck collapse-pmd-recheck
  cow-either-way pinned-swap-cache madvise-free-dio)
foreach(f IN LISTS zoo_files)
  get_filename_component(name ${f} NAME_WE)
  if(GUPFAST_SANITIZE AND NOT name IN_LIST zoo_small)
    continue()
  endif()
  add_test(NAME zoo.${name} COMMAND gupfast explore ${f} --check-expectations)
  set_tests_properties(zoo.${name} PROPERTIES LABELS "zoo" TIMEOUT 900)
endforeach()
# `gupfast scenarios --zoo` lists every entry; each names its commit in `gupfast scenarios`.
list(LENGTH zoo_files nr_zoo)
add_test(NAME zoo.listed
  COMMAND sh -c "n=$(\"$0\" scenarios --zoo | tail -n +2 | wc -l); test $n -eq $1 && \
test $(\"$0\" scenarios | grep -c '^zoo/.*\\[zoo [0-9a-f,]* [0-9]*\\] ') -eq $1"
          $<TARGET_FILE:gupfast> ${nr_zoo})
# Every entry has its section in docs/bug-zoo.md and its counterexample page in docs/zoo/
# (scripts/zoo_report.sh writes them).
add_test(NAME zoo.documented
  COMMAND sh -c "cd \"$0\" && for f in tests/litmus/zoo/*.litmus; do n=\$(basename \"$f\" .litmus); \
grep -qx \"## $n\" docs/bug-zoo.md || { echo \"docs/bug-zoo.md: no section for $n\"; exit 1; }; \
grep -q 'class=\"replay\"' \"docs/zoo/$n.html\" || { echo \"docs/zoo/$n.html: no counterexample page\"; exit 1; }; done"
          ${PROJECT_SOURCE_DIR})
set_tests_properties(zoo.listed zoo.documented PROPERTIES LABELS "zoo;cli")

# Executions from a snapshot of setup's state are the executions from scratch: the same
# count, verdict and replay token (explore_snapshot_test.sh); and every mutable global of the
# model backend is part of the world snapshots copy or the explorer's own (world_globals.sh).
add_test(NAME explore.snapshot_same
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/explore_snapshot_test.sh $<TARGET_FILE:gupfast> ${CMAKE_CURRENT_BINARY_DIR}/explore_snapshot
          ${sanitize_small})
add_test(NAME explore.world_globals
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/model/world_globals.sh ${CMAKE_OBJDUMP} $<TARGET_FILE:gupfast_model>
          $<TARGET_FILE:gupfast_litmus>)
set_tests_properties(explore.snapshot_same explore.world_globals PROPERTIES LABELS "explore" TIMEOUT 900)

# One search on several workers (--jobs 3), and on four shards run through xargs -P that
# meet at shard 0 and are merged (--shard, --coordinator, --merge): the same executions,
# verdict and exhaustiveness as one process (explore_parallel_test.sh).
foreach(kind jobs shards)
  set(t explore.${kind}_same)
  add_test(NAME ${t} COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/explore_parallel_test.sh ${kind} $<TARGET_FILE:gupfast>
                             ${CMAKE_CURRENT_BINARY_DIR}/explore_${kind} ${sanitize_small})
  set_tests_properties(${t} PROPERTIES LABELS "explore" TIMEOUT 900)
endforeach()

# Every mutant is caught by some scenario; the built-ins all parse and are listed.
add_test(NAME explore.mutants_covered COMMAND gupfast scenarios --mutants)
list(LENGTH litmus_files nr_litmus)
math(EXPR nr_litmus "${nr_litmus} + ${nr_zoo}")
add_test(NAME explore.scenarios_listed
  COMMAND sh -c "n=$(\"$0\" scenarios | wc -l); test $n -eq $1 && ! \"$0\" scenarios | grep -q 'does not parse'"
          $<TARGET_FILE:gupfast> ${nr_litmus})
add_test(NAME explore.builtin_names_match
  COMMAND sh -c "cd \"$0\" && for f in *.litmus zoo/*.litmus; do n=\$(basename \"$f\" .litmus); grep -qx \"litmus $n\" \"$f\" || { echo \"$f: its litmus line does not match the file name\"; exit 1; }; done"
          ${litmus_dir})
set_tests_properties(explore.mutants_covered explore.scenarios_listed explore.builtin_names_match PROPERTIES LABELS "explore;cli")

# A violation found, printed with a replay token; the token reproduces it exactly; the
# JSON, trace and HTML outputs are written and well formed.
add_test(NAME explore.replay_reproduces
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/explore_replay_test.sh $<TARGET_FILE:gupfast> ${CMAKE_CURRENT_BINARY_DIR}/explore_replay)
set_tests_properties(explore.replay_reproduces PROPERTIES LABELS "explore;cli")

# The --html page as a user sees it: headless Chromium lays it out, a probe reads the lanes,
# steps, violation and token off the rendered page, and a screenshot is not blank
# (explore_html_test.sh). Without Chromium the test is registered but skips (exit 77);
# `make test` runs scripts/deps.sh, which installs chromium, so CI always runs it.
find_program(GUPFAST_CHROMIUM NAMES chromium chromium-browser)
add_test(NAME explore.html_renders
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/explore_html_test.sh $<TARGET_FILE:gupfast> ${GUPFAST_CHROMIUM})
set_tests_properties(explore.html_renders PROPERTIES LABELS "explore;cli" SKIP_RETURN_CODE 77 TIMEOUT 180)

# `gupfast demo --quick`: the four parts as expected (exit 0), the report folder complete, a
# replay command it printed reproducing its race, and (with Chromium) the index page showing
# the four parts (demo_test.sh). Release only: under a sanitizer the explorer is 10-30x
# slower. Run alone: its stress part starts a dozen threads per strategy.
if(NOT GUPFAST_SANITIZE)
  add_test(NAME cli.demo.quick
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/demo_test.sh $<TARGET_FILE:gupfast> ${GUPFAST_CHROMIUM})
  set_tests_properties(cli.demo.quick PROPERTIES LABELS "demo;cli" TIMEOUT 300 RUN_SERIAL TRUE)
endif()

# Misuse: exit 2, one line on stderr, nothing on stdout.
set(explore_misuse_cases
  "no_scenario|explore"
  "unknown_scenario|explore no-such-scenario"
  "bad_mode|explore ${litmus_dir}/pte-recheck.litmus --mode bfs"
  "bad_unsafe|explore pte-recheck --unsafe no-such-check"
  "bad_shard|explore pte-recheck --shard 3/2"
  "bad_shard_form|explore pte-recheck --shard 1"
  "runs_with_dfs|explore pte-recheck --runs 10"
  "bound_with_random|explore pte-recheck --mode random --bound 1"
  "check_with_unsafe|explore pte-recheck --check-expectations --unsafe no-pte-recheck"
  "check_with_html|explore pte-recheck --check-expectations --html x.html"
  "replay_with_shard|explore pte-recheck --replay abc --shard 0/2 --coordinator localhost:7000"
  "shard_without_coordinator|explore pte-recheck --shard 1/2"
  "bad_coordinator|explore pte-recheck --shard 1/2 --coordinator nowhere"
  "jobs_with_random|explore pte-recheck --mode random --jobs 2"
  "ipi_broadcast|explore pte-recheck --strategy ipi --tlb broadcast"
  "bad_geometry|explore pte-recheck --geometry tiny"
  "merge_with_scenario|explore pte-recheck --merge a.json"
  "merge_missing_file|explore --merge /nonexistent/part0.json"
  "scenarios_extra|scenarios extra"
)
gupfast_misuse_tests(explore.misuse. "explore;cli" ${explore_misuse_cases})

# A bad litmus file: "FILE:LINE: message" on stderr, exit 2 (tests/litmus/errors/).
file(GLOB litmus_bad ${litmus_dir}/errors/*.litmus)
foreach(f IN LISTS litmus_bad)
  get_filename_component(name ${f} NAME_WE)
  file(STRINGS ${f} want REGEX "^# error: ")
  string(REGEX REPLACE "^# error: " "" want "${want}")
  add_test(NAME explore.parse_error.${name}
    COMMAND sh -c "err=$(\"$0\" explore \"$1\" 2>&1 >/dev/null); rc=$?; \
test $rc -eq 2 && test \"$err\" = \"$1:$2\" || { echo \"rc=$rc got: $err\"; echo \"want: $1:$2\"; exit 1; }"
            $<TARGET_FILE:gupfast> ${f} "${want}")
  set_tests_properties(explore.parse_error.${name} PROPERTIES LABELS "explore;cli")
endforeach()
# A file that parses but whose expect lines --check-expectations cannot check as written
# (tests/litmus/check-errors/): "FILE:LINE: message" on stderr, exit 2.
file(GLOB litmus_check_bad ${litmus_dir}/check-errors/*.litmus)
foreach(f IN LISTS litmus_check_bad)
  get_filename_component(name ${f} NAME_WE)
  file(STRINGS ${f} want REGEX "^# error: ")
  string(REGEX REPLACE "^# error: " "" want "${want}")
  add_test(NAME explore.check_error.${name}
    COMMAND sh -c "err=$(\"$0\" explore \"$1\" --check-expectations 2>&1 >/dev/null); rc=$?; \
test $rc -eq 2 && test \"$err\" = \"$1:$2\" || { echo \"rc=$rc got: $err\"; echo \"want: $1:$2\"; exit 1; }"
            $<TARGET_FILE:gupfast> ${f} "${want}")
  set_tests_properties(explore.check_error.${name} PROPERTIES LABELS "explore;cli")
endforeach()
