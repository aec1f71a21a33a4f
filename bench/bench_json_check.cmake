# The `gupfast bench` smoke test (ctest bench.smoke), run with cmake -P:
#   cmake -DGUPFAST=path/to/gupfast -DFILTER=regex -DOUT=report.json -P bench_json_check.cmake
# Runs `gupfast bench --quick --filter FILTER --json OUT` and checks that the report has the
# keys the issue promises: rows (each with name, unit, and ns_per_page or value), ratios
# (the six named ones, each a number or null) and machine (cpu_model, cores, kernel). It
# never looks at the figures: timings on a loaded or sanitized build mean nothing.
foreach(v GUPFAST FILTER OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "bench_json_check.cmake: -D${v}=... is required")
  endif()
endforeach()

file(REMOVE "${OUT}")
execute_process(
  COMMAND "${GUPFAST}" bench --quick --filter "${FILTER}" --json "${OUT}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gupfast bench exited ${rc}\nstdout:\n${out}\nstderr:\n${err}")
endif()
message(STATUS "gupfast bench output:\n${out}")
if(NOT EXISTS "${OUT}")
  message(FATAL_ERROR "gupfast bench wrote no ${OUT}")
endif()
file(READ "${OUT}" json)

# string(JSON) raises a fatal error itself on a missing key unless ERROR_VARIABLE is given;
# check each key by hand so the message names it.
function(require_key what)
  string(JSON value ERROR_VARIABLE e GET "${json}" ${ARGN})
  if(e)
    message(FATAL_ERROR "report: ${what} missing (${e})")
  endif()
endfunction()

foreach(k cpu_model cores kernel)
  require_key("machine.${k}" machine ${k})
endforeach()
foreach(k fast_vs_kernel_io_uring fast_vs_kernel_vmsplice fast_vs_floor thp_vs_4k seqcount_vs_rcu ipi_vs_rcu)
  string(JSON type ERROR_VARIABLE e TYPE "${json}" ratios ${k})
  if(e OR NOT (type STREQUAL "NUMBER" OR type STREQUAL "NULL"))
    message(FATAL_ERROR "report: ratios.${k} missing or not a number/null (${type} ${e})")
  endif()
endforeach()

string(JSON nrows ERROR_VARIABLE e LENGTH "${json}" rows)
if(e OR nrows LESS 1)
  message(FATAL_ERROR "report: rows missing or empty (${e})")
endif()
math(EXPR last "${nrows} - 1")
foreach(i RANGE ${last})
  require_key("rows[${i}].name" rows ${i} name)
  require_key("rows[${i}].unit" rows ${i} unit)
  string(JSON a ERROR_VARIABLE ea TYPE "${json}" rows ${i} ns_per_page)
  string(JSON b ERROR_VARIABLE eb TYPE "${json}" rows ${i} value)
  if(ea AND eb)
    message(FATAL_ERROR "report: rows[${i}] has neither ns_per_page nor value")
  endif()
endforeach()
message(STATUS "report: ${nrows} rows, every required key present")
