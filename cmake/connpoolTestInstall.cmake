# cmake -DCONNPOOL_BINARY_DIR=<build> -DCONNPOOL_PREFIX=<dir> [-DCONNPOOL_CONFIG=<cfg>] -P this
# Installs the connpool build tree into a fresh prefix (the consumer tests' fixture) and checks
# that the package files landed.
foreach(var CONNPOOL_BINARY_DIR CONNPOOL_PREFIX)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "${var} is not set")
    endif()
endforeach()

file(REMOVE_RECURSE "${CONNPOOL_PREFIX}")
set(config_args "")
if(CONNPOOL_CONFIG)
    set(config_args --config "${CONNPOOL_CONFIG}")
endif()
execute_process(
    COMMAND "${CMAKE_COMMAND}" --install "${CONNPOOL_BINARY_DIR}" --prefix "${CONNPOOL_PREFIX}"
            ${config_args}
    RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install failed (${rc})")
endif()

foreach(name connpoolConfig.cmake connpoolConfigVersion.cmake connpoolTargets.cmake)
    file(GLOB_RECURSE found "${CONNPOOL_PREFIX}/${name}")
    if(NOT found)
        message(FATAL_ERROR "the installed tree lacks ${name}")
    endif()
endforeach()
file(GLOB_RECURSE headers "${CONNPOOL_PREFIX}/include/connpool/*.hpp")
if(NOT headers)
    message(FATAL_ERROR "the installed tree lacks include/connpool/*.hpp")
endif()
message(STATUS "connpool installed into ${CONNPOOL_PREFIX}")
