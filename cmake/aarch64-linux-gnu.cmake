# Toolchain file: hyperamp for aarch64 (arm64) Linux with Debian's cross
# toolchain (crossbuild-essential-arm64). Used by the preset "aarch64".
#
# The compiler's own sysroot (/usr/aarch64-linux-gnu) has glibc and
# libstdc++. The project's dependencies come from HYPERAMP_AARCH64_SYSROOT,
# default build-sysroot-aarch64/ in the source tree: Debian's arm64
# libcaf-dev and libcaf-core0.17 and the header-only libtoml11-dev,
# doctest-dev, libcli11-dev and nlohmann-json3-dev, unpacked with dpkg -x by
# `scripts/install-deps --aarch64` (libcaf-dev:arm64 cannot be installed
# next to the amd64 one: it is not Multi-Arch: same). Nothing is searched in
# the host's /usr, so no amd64 header or library can slip in.
#
# Tests run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR): ctest, doctest's
# test discovery at build time, and the integration harness, which starts
# amp-node through the same command (HYPERAMP_IT_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT HYPERAMP_AARCH64_SYSROOT)
  if(DEFINED ENV{HYPERAMP_AARCH64_SYSROOT})
    set(HYPERAMP_AARCH64_SYSROOT "$ENV{HYPERAMP_AARCH64_SYSROOT}")
  else()
    get_filename_component(HYPERAMP_AARCH64_SYSROOT
                           "${CMAKE_CURRENT_LIST_DIR}/../build-sysroot-aarch64"
                           ABSOLUTE)
  endif()
endif()
# try_compile projects re-read this file; pass the choice on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HYPERAMP_AARCH64_SYSROOT)
if(NOT EXISTS "${HYPERAMP_AARCH64_SYSROOT}/usr/include/caf/all.hpp")
  message(FATAL_ERROR
    "No arm64 sysroot at ${HYPERAMP_AARCH64_SYSROOT} "
    "(run scripts/install-deps --aarch64, or set HYPERAMP_AARCH64_SYSROOT)")
endif()

set(CMAKE_FIND_ROOT_PATH "${HYPERAMP_AARCH64_SYSROOT}" /usr/aarch64-linux-gnu)
# Debian's multiarch headers (openssl/opensslconf.h, ...) of the sysroot.
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES
    "${HYPERAMP_AARCH64_SYSROOT}/usr/include/aarch64-linux-gnu")
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES
    "${HYPERAMP_AARCH64_SYSROOT}/usr/include/aarch64-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# qemu-user with the target's loader and libraries: -L for glibc and
# libstdc++ (the cross toolchain's), LD_LIBRARY_PATH (guest environment only)
# for libcaf_core. Processes a test starts inherit that environment.
find_program(HYPERAMP_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(HYPERAMP_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR
      "${HYPERAMP_QEMU_AARCH64}" -L /usr/aarch64-linux-gnu
      -E "LD_LIBRARY_PATH=${HYPERAMP_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu")
endif()
