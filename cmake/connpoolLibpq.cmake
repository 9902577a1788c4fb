# connpool_find_libpq(<out-var>): finds libpq, quietly, and sets <out-var> to an imported target
# that provides it (PostgreSQL::PostgreSQL from CMake's FindPostgreSQL, else PkgConfig::libpq),
# or to an empty string. Used by the build (connpool::postgres) and by connpoolConfig.cmake.
function(connpool_find_libpq out)
    set(target "")
    find_package(PostgreSQL QUIET)
    if(PostgreSQL_FOUND AND TARGET PostgreSQL::PostgreSQL)
        set(target PostgreSQL::PostgreSQL)
    else()
        find_package(PkgConfig QUIET)
        if(PKG_CONFIG_FOUND)
            pkg_check_modules(libpq QUIET IMPORTED_TARGET GLOBAL libpq)
            if(libpq_FOUND)
                set(target PkgConfig::libpq)
            endif()
        endif()
    endif()
    set(${out} "${target}" PARENT_SCOPE)
endfunction()
