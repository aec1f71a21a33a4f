# gupfast_misuse_tests(PREFIX LABELS CASE...): one ctest per case "name|arguments" that runs
# the gupfast CLI with those arguments and checks the misuse contract: exit code 2, exactly
# one line on stderr, nothing on stdout. The test is named PREFIX<name>.
function(gupfast_misuse_tests prefix labels)
  foreach(c IN LISTS ARGN)
    string(REPLACE "|" ";" parts "${c}")
    list(GET parts 0 name)
    list(LENGTH parts n)
    set(args "")
    if(n GREATER 1)
      list(GET parts 1 args)
    endif()
    add_test(NAME ${prefix}${name}
      COMMAND sh -c "out=$(\"$0\" ${args} 2>/dev/null); rc=$?; err=$(\"$0\" ${args} 2>&1 >/dev/null | wc -l); \
test $rc -eq 2 && test $err -eq 1 && test -z \"$out\"" $<TARGET_FILE:gupfast>)
    set_tests_properties(${prefix}${name} PROPERTIES LABELS "${labels}")
  endforeach()
endfunction()
