# FindCAF: locate the C++ Actor Framework (Debian's libcaf-dev ships no CMake config).
#
# Components: core io openssl. Defines CAF_FOUND, CAF_VERSION, CAF_INCLUDE_DIRS,
# CAF_LIBRARIES, CAF_<comp>_FOUND, CAF_LIBRARY_<COMP> and the imported targets
# CAF::core (-> Threads::Threads), CAF::io (-> CAF::core), CAF::openssl (-> CAF::io),
# the names upstream's later CAFConfig.cmake uses.
#
# In a cross build the search goes through CMAKE_FIND_ROOT_PATH: with
# cmake/aarch64-linux-gnu.cmake that is the arm64 sysroot only, where
# CMAKE_LIBRARY_ARCHITECTURE (aarch64-linux-gnu) leads find_library to
# usr/lib/aarch64-linux-gnu/libcaf_core.so. Installed next to hyperamp's
# CMake package, which finds CAF with it.

find_package(Threads REQUIRED)

find_path(CAF_INCLUDE_DIR NAMES caf/all.hpp caf/config.hpp)

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE "^#define CAF_VERSION ([0-9]+).*" "\\1" caf_v "${caf_version_line}")
  math(EXPR caf_major "${caf_v} / 10000")
  math(EXPR caf_minor "(${caf_v} / 100) % 100")
  math(EXPR caf_patch "${caf_v} % 100")
  set(CAF_VERSION "${caf_major}.${caf_minor}.${caf_patch}")
endif()

if(NOT CAF_FIND_COMPONENTS)
  set(CAF_FIND_COMPONENTS core)
endif()

set(CAF_LIBRARIES "")
foreach(comp IN LISTS CAF_FIND_COMPONENTS)
  string(TOUPPER "${comp}" COMP)
  find_library(CAF_LIBRARY_${COMP} NAMES caf_${comp})
  if(CAF_LIBRARY_${COMP})
    set(CAF_${comp}_FOUND TRUE)
    list(APPEND CAF_LIBRARIES "${CAF_LIBRARY_${COMP}}")
  else()
    set(CAF_${comp}_FOUND FALSE)
  endif()
endforeach()
list(APPEND CAF_LIBRARIES Threads::Threads)
set(CAF_INCLUDE_DIRS "${CAF_INCLUDE_DIR}")

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

if(CAF_FOUND)
  set(caf_parent_core Threads::Threads)
  set(caf_parent_io CAF::core)
  set(caf_parent_openssl CAF::io)
  foreach(comp core io openssl)
    string(TOUPPER "${comp}" COMP)
    if(CAF_${comp}_FOUND AND NOT TARGET CAF::${comp})
      add_library(CAF::${comp} UNKNOWN IMPORTED)
      set_target_properties(CAF::${comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_LIBRARY_${COMP}}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES "${caf_parent_${comp}}")
    endif()
  endforeach()
endif()
mark_as_advanced(CAF_INCLUDE_DIR CAF_LIBRARY_CORE CAF_LIBRARY_IO CAF_LIBRARY_OPENSSL)
