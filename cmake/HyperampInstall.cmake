# cmake --install: amp-node and its alias symlinks, the example role files,
# the headers, the static libraries and the CMake package `hyperamp`.
# Two components, which are also the Debian packages (cmake/HyperampCPack.cmake):
#   runtime  bin/amp-node, bin/hyper_amp_*, share/hyperamp/config/*.toml
#   dev      include/hyperamp/{shm,vocab,actors,services,config}/,
#            <libdir>/libhyperamp_*.a, <libdir>/cmake/hyperamp/
include(CMakePackageConfigHelpers)

set(HYPERAMP_INSTALL_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}/hyperamp")
set(HYPERAMP_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/hyperamp")

# The libraries as a consumer sees them: hyperamp::<name>, headers included
# as in the sources ("shm/region.hpp") from include/hyperamp.
set(hyperamp_libraries shm vocab actors services config)
foreach(lib IN LISTS hyperamp_libraries)
  add_library(hyperamp::${lib} ALIAS hyperamp_${lib})
  set_target_properties(hyperamp_${lib} PROPERTIES EXPORT_NAME ${lib})
  target_include_directories(hyperamp_${lib} INTERFACE
    "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>"
    "$<INSTALL_INTERFACE:${HYPERAMP_INSTALL_INCLUDEDIR}>")
endforeach()

install(TARGETS amp-node RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        COMPONENT runtime)
foreach(alias hyper_amp_test hyper_amp_test_mt hyper_amp_service_test
              hyper_amp_service_test_mt)
  # The symlinks apps/ makes next to amp-node, installed as symlinks.
  install(FILES "${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/${alias}"
          DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT runtime)
endforeach()
install(FILES "${PROJECT_SOURCE_DIR}/config/client.toml"
              "${PROJECT_SOURCE_DIR}/config/service.toml"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/hyperamp/config"
        COMPONENT runtime)

list(TRANSFORM hyperamp_libraries PREPEND hyperamp_
     OUTPUT_VARIABLE hyperamp_library_targets)
install(TARGETS ${hyperamp_library_targets} EXPORT hyperampTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT dev)
foreach(dir shm vocab actors services config)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/${dir}/"
          DESTINATION "${HYPERAMP_INSTALL_INCLUDEDIR}/${dir}" COMPONENT dev
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.def")
endforeach()
install(EXPORT hyperampTargets NAMESPACE hyperamp::
        DESTINATION "${HYPERAMP_INSTALL_CMAKEDIR}" COMPONENT dev)
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/hyperampConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/hyperampConfig.cmake"
  INSTALL_DESTINATION "${HYPERAMP_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/hyperampConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/hyperampConfig.cmake"
              "${PROJECT_BINARY_DIR}/hyperampConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake"
        DESTINATION "${HYPERAMP_INSTALL_CMAKEDIR}" COMPONENT dev)
