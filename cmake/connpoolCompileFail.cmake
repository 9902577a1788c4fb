# cmake -DCXX=<compiler> -DSOURCE=<file.cpp> -DINCLUDE_DIRS=<dir|dir...> -P connpoolCompileFail.cmake
#
# Passes when <file.cpp> fails to compile and the compiler's output matches the regex given on the
# file's first line, "// EXPECT: <regex>". When the file mentions CONNPOOL_COMPILE_FAIL_CONTROL it
# must also compile cleanly with -DCONNPOOL_COMPILE_FAIL_CONTROL (the control case).
foreach(var CXX SOURCE)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "${var} is not set")
    endif()
endforeach()

file(STRINGS "${SOURCE}" first_line LIMIT_COUNT 1)
if(NOT first_line MATCHES "^// EXPECT: (.+)$")
    message(FATAL_ERROR "${SOURCE}: the first line must be '// EXPECT: <regex>'")
endif()
set(expected "${CMAKE_MATCH_1}")
string(STRIP "${expected}" expected)

set(args -std=c++20 -fsyntax-only -pthread)
if(INCLUDE_DIRS)
    string(REPLACE "|" ";" dirs "${INCLUDE_DIRS}")
    foreach(dir IN LISTS dirs)
        list(APPEND args "-I${dir}")
    endforeach()
endif()

file(READ "${SOURCE}" content)
if(content MATCHES "CONNPOOL_COMPILE_FAIL_CONTROL")
    execute_process(
        COMMAND "${CXX}" ${args} -DCONNPOOL_COMPILE_FAIL_CONTROL "${SOURCE}"
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message("${out}")
        message(FATAL_ERROR
            "${SOURCE}: the control (-DCONNPOOL_COMPILE_FAIL_CONTROL) does not compile")
    endif()
endif()

execute_process(
    COMMAND "${CXX}" ${args} "${SOURCE}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE}: compiled, but must not")
endif()
if(NOT out MATCHES "${expected}")
    message("${out}")
    message(FATAL_ERROR "${SOURCE}: failed to compile, but the output does not match '${expected}'")
endif()
message(STATUS "${SOURCE}: fails to compile as expected (matched '${expected}')")
