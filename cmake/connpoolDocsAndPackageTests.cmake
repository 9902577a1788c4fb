# Included by the top-level CMakeLists.txt when CONNPOOL_BUILD_TESTS is on, after tests/.
#
#   docs_readme                     scripts/check-docs.sh: every script the README names is
#                                   executable, .ci/run runs the test command as written, the
#                                   package list matches scripts/test.sh, the README's snippets
#                                   are the examples' code
#   consumer_find_package_postgres  find_package(connpool REQUIRED COMPONENTS postgres) in a
#                                   consumer project, linking connpool::postgres (with libpq)
#   consumer_find_package_no_libpq  the same with libpq hidden from find_package: configuring
#                                   fails, and says why (connpool_NOT_FOUND_MESSAGE)

add_test(NAME docs_readme COMMAND "${PROJECT_SOURCE_DIR}/scripts/check-docs.sh")
set_tests_properties(docs_readme PROPERTIES LABELS docs TIMEOUT 60)

# The prefix that tests/CMakeLists.txt's consumer_install fixture installs connpool into.
set(connpool_pkg_prefix "${PROJECT_BINARY_DIR}/tests/consumer/prefix")
set(connpool_pkg_root "${PROJECT_BINARY_DIR}/tests/consumer")
if(CMAKE_CONFIGURATION_TYPES)
    set(connpool_pkg_config --build-config "$<CONFIG>")
else()
    set(connpool_pkg_config "")
endif()

# connpool_add_package_test(<mode> [TEST_COMMAND <cmd>...])
function(connpool_add_package_test mode)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "TEST_COMMAND")
    if(arg_TEST_COMMAND)
        set(test_command --test-command ${arg_TEST_COMMAND})
    else()
        set(test_command "")
    endif()
    add_test(NAME consumer_${mode}
        COMMAND "${CMAKE_CTEST_COMMAND}"
            --build-and-test "${PROJECT_SOURCE_DIR}/tests/consumer" "${connpool_pkg_root}/${mode}"
            --build-generator "${CMAKE_GENERATOR}"
            --build-makeprogram "${CMAKE_MAKE_PROGRAM}"
            ${connpool_pkg_config}
            --build-options
                "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
                "-DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}"
                "-DCMAKE_PREFIX_PATH=${connpool_pkg_prefix}"
                "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"
                "-DCONNPOOL_CONSUMER_MODE=${mode}"
                "-DCONNPOOL_EXPECTED_VERSION=${PROJECT_VERSION}"
            ${test_command})
    set_tests_properties(consumer_${mode} PROPERTIES
        LABELS consumer TIMEOUT 600 FIXTURES_REQUIRED connpool_installed)
endfunction()

if(CONNPOOL_INSTALL AND TARGET connpool_postgres)
    connpool_add_package_test(find_package_postgres TEST_COMMAND app)
    connpool_add_package_test(find_package_no_libpq)
    # Configuring fails on purpose; the test passes when it fails with the message.
    set_tests_properties(consumer_find_package_no_libpq PROPERTIES
        PASS_REGULAR_EXPRESSION "Reason given by package:.*connpool.s component postgres.*libpq-dev"
        FAIL_REGULAR_EXPRESSION "succeeded without libpq")
elseif(NOT TARGET connpool_postgres)
    message(STATUS "connpool: libpq not found, the consumer tests of connpool::postgres are not built")
endif()
