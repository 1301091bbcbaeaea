# Install rules and package files for libhv.
#
# `cmake --install` puts the public headers, the freestanding archive, an
# exported CMake package (find_package(libhv) gives the target libhv::hv)
# and a pkg-config file (libhv.pc) under the prefix. The hosted library,
# tests and examples are never installed: they are development artefacts.
#
# A parent project that add_subdirectory()s libhv gets no install rules
# unless it sets HV_INSTALL=ON (it usually links libhv into its own image).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(HV_INSTALL "Generate install rules for libhv" ${PROJECT_IS_TOP_LEVEL})
if(NOT HV_INSTALL)
    return()
endif()

set(HV_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/libhv)

install(TARGETS hv EXPORT libhvTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${HV_TOP}/include/hv DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(EXPORT libhvTargets NAMESPACE libhv:: DESTINATION ${HV_INSTALL_CMAKEDIR})

configure_package_config_file(${HV_TOP}/cmake/libhvConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/libhvConfig.cmake
    INSTALL_DESTINATION ${HV_INSTALL_CMAKEDIR})
# 0.x releases promise nothing across minor versions.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/libhvConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libhvConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/libhvConfigVersion.cmake
        DESTINATION ${HV_INSTALL_CMAKEDIR})

# pkg-config: the prefix is found from the .pc file's own location, so the
# file stays right for `cmake --install --prefix DIR` (which does not
# reconfigure) and when the installed tree is moved.
set(HV_PC_PKGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(HV_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
    file(RELATIVE_PATH HV_PC_UP /prefix/${HV_PC_PKGDIR} /prefix)
    string(REGEX REPLACE "/$" "" HV_PC_UP "${HV_PC_UP}")
    set(HV_PC_PREFIX "\${pcfiledir}/${HV_PC_UP}")
endif()
foreach(kind LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
        set(HV_PC_${kind} "${CMAKE_INSTALL_${kind}}")
    else()
        set(HV_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
    endif()
endforeach()
configure_file(${HV_TOP}/cmake/libhv.pc.in ${CMAKE_CURRENT_BINARY_DIR}/libhv.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libhv.pc DESTINATION ${HV_PC_PKGDIR})
