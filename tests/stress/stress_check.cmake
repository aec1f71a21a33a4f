# Runs one `gupfast stress` command and checks its exit code and JSON report (ctest label
# `stress`; no python on the CI image, so the check is CMake's own string(JSON)).
#
#   cmake -DGUPFAST=<gupfast> -DARGS="<stress options>" -DOUT=<report.json> -DEXPECT_RC=0|1
#         [-DEXPECT_KIND=<violation kind>] [-DEXPECT_MUTATORS=ON] -P stress_check.cmake
#
# EXPECT_RC=0: no violation, no unexpected error, no leak. EXPECT_KIND: at least one
# violation of that kind (a mutant caught as it should be). EXPECT_MUTATORS: every mutator
# named in the report ran at least once, and GUP took pages on both paths.
cmake_minimum_required(VERSION 3.20)
separate_arguments(argv UNIX_COMMAND "${ARGS}")
file(REMOVE "${OUT}")
execute_process(COMMAND "${GUPFAST}" stress ${argv} --json "${OUT}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("gupfast stress ${ARGS}\n${out}${err}")
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "exit code ${rc}, expected ${EXPECT_RC}")
endif()
if(NOT EXISTS "${OUT}")
  message(FATAL_ERROR "no JSON report written to ${OUT}")
endif()
file(READ "${OUT}" j)

# The keys the report promises (docs/stress.md).
foreach(key strategy tlb pte seed seconds threads unsafe ops fast_path_stops violation_count violations)
  string(JSON v ERROR_VARIABLE e GET "${j}" ${key})
  if(e)
    message(FATAL_ERROR "report has no '${key}': ${e}")
  endif()
endforeach()
foreach(key gup_fast_pages gup_slow_pages unpins)
  string(JSON v ERROR_VARIABLE e GET "${j}" ops ${key})
  if(e)
    message(FATAL_ERROR "report has no ops.${key}: ${e}")
  endif()
endforeach()

string(JSON nviol GET "${j}" violation_count)
if(EXPECT_RC STREQUAL "0")
  string(JSON nerr GET "${j}" unexpected_errors)
  string(JSON leaked GET "${j}" leaked_frames)
  if(NOT nviol EQUAL 0 OR NOT nerr EQUAL 0 OR NOT leaked EQUAL 0)
    message(FATAL_ERROR "violations ${nviol}, unexpected errors ${nerr}, leaked frames ${leaked}")
  endif()
endif()

if(EXPECT_KIND)
  string(JSON n ERROR_VARIABLE e GET "${j}" violations_by_kind ${EXPECT_KIND})
  if(e OR n EQUAL 0)
    message(FATAL_ERROR "no ${EXPECT_KIND} violation (violation_count ${nviol})")
  endif()
  string(JSON kind0 GET "${j}" violations 0 kind)
  string(JSON msg0 GET "${j}" violations 0 message)
  message("caught: ${n} x ${EXPECT_KIND}; first: ${kind0}: ${msg0}")
endif()

if(EXPECT_MUTATORS)
  string(JSON nmut LENGTH "${j}" mutators)
  math(EXPR last "${nmut} - 1")
  foreach(i RANGE ${last})
    string(JSON m GET "${j}" mutators ${i})
    string(JSON n GET "${j}" ops ${m})
    if(n EQUAL 0)
      message(FATAL_ERROR "mutator ${m} never ran")
    endif()
  endforeach()
  # Every GUP count moves when its operation runs: pages taken on each path, pins given
  # back (unpins) and FOLL_GET references given back (puts), and each of the four calls.
  foreach(key gup_fast_pages gup_slow_pages unpins puts)
    string(JSON n GET "${j}" ops ${key})
    if(n EQUAL 0)
      message(FATAL_ERROR "ops.${key} is 0")
    endif()
  endforeach()
  string(JSON ncalls LENGTH "${j}" gup_calls)
  if(NOT ncalls EQUAL 4)
    message(FATAL_ERROR "gup_calls has ${ncalls} entries, expected 4")
  endif()
  math(EXPR last "${ncalls} - 1")
  foreach(i RANGE ${last})
    string(JSON call MEMBER "${j}" gup_calls ${i})
    string(JSON n GET "${j}" gup_calls ${call})
    if(n EQUAL 0)
      message(FATAL_ERROR "gup_calls.${call} is 0")
    endif()
  endforeach()
endif()
