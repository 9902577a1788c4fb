# Internal build settings for connpool's own tests, examples and benchmarks.
# Nothing here is installed or exported: users of connpool::connpool never see these flags.

# --- connpool_warnings: the house warning set --------------------------------------------------
add_library(connpool_warnings INTERFACE)
if(MSVC)
    target_compile_options(connpool_warnings INTERFACE /W4 /permissive-
                           $<$<BOOL:${CONNPOOL_WERROR}>:/WX>)
else()
    target_compile_options(connpool_warnings INTERFACE
        -Wall -Wextra -Wpedantic -Wconversion -Wshadow
        $<$<BOOL:${CONNPOOL_WERROR}>:-Werror>)
endif()

# --- connpool_sanitizers: CONNPOOL_SANITIZE -----------------------------------------------------
add_library(connpool_sanitizers INTERFACE)
set(connpool_sanitizer_env "")
if(NOT CONNPOOL_SANITIZE STREQUAL "")
    if(NOT CONNPOOL_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
        message(FATAL_ERROR
            "CONNPOOL_SANITIZE='${CONNPOOL_SANITIZE}': use \"\", \"address,undefined\" or \"thread\"")
    endif()
    if(MSVC)
        message(FATAL_ERROR "CONNPOOL_SANITIZE is only supported with GCC and Clang")
    endif()
    set(connpool_san_flags -fsanitize=${CONNPOOL_SANITIZE} -fno-omit-frame-pointer)
    if(CONNPOOL_SANITIZE MATCHES "undefined")
        # Make every UBSan finding fatal, whatever UBSAN_OPTIONS says.
        list(APPEND connpool_san_flags -fno-sanitize-recover=undefined)
        if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 17)
            # Clang < 17's -fsanitize=function (part of "undefined" for C++) breaks the assembler on
            # inline functions in COMDAT sections ("Cannot represent a difference across
            # sections") at -O1.
            list(APPEND connpool_san_flags -fno-sanitize=function)
        endif()
    endif()
    target_compile_options(connpool_sanitizers INTERFACE ${connpool_san_flags})
    target_link_options(connpool_sanitizers INTERFACE ${connpool_san_flags})
    if(CONNPOOL_SANITIZE STREQUAL "thread")
        # GCC warns that TSan does not model std::atomic_thread_fence (Asio's fenced blocks use
        # it); the warning is about the tool, not the code, and must not trip -Werror.
        if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
            target_compile_options(connpool_sanitizers INTERFACE -Wno-tsan)
        endif()
        set(connpool_sanitizer_env "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")
    else()
        set(connpool_sanitizer_env
            "ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1"
            "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")
    endif()
endif()

# connpool_use_internal_flags(<target>...): link the library, the warnings and the sanitizers.
function(connpool_use_internal_flags)
    foreach(tgt IN LISTS ARGN)
        target_link_libraries(${tgt} PRIVATE connpool::connpool connpool_warnings
                              connpool_sanitizers)
    endforeach()
endfunction()

# connpool_set_test_environment(<test>...): sanitizer runtime options for tests run by ctest.
function(connpool_set_test_environment)
    if(NOT connpool_sanitizer_env STREQUAL "")
        set_property(TEST ${ARGN} APPEND PROPERTY ENVIRONMENT ${connpool_sanitizer_env})
    endif()
endfunction()

# Our own targets compile as ISO C++ (-std=c++20, not gnu++20), like a strict user's would.
set(CMAKE_CXX_EXTENSIONS OFF)
