# Debian packages with CPack (cpack -G DEB, or cmake --build <dir> --target
# package), one per install component (cmake/HyperampInstall.cmake):
#   hyperamp       amp-node, its alias symlinks, share/hyperamp/config/*.toml
#   hyperamp-dev   headers, static libraries, the CMake package
# for the architecture of the build: amd64 natively, arm64 from the aarch64
# preset. The dependencies are written out rather than computed with
# dpkg-shlibdeps, which cannot see the arm64 libcaf of a cross build's
# sysroot; scripts/test package checks them against dpkg-shlibdeps for amd64.
set(HYPERAMP_PACKAGE_MAINTAINER "hyperamp developers <hyperamp@localhost>"
    CACHE STRING "Maintainer field of the Debian packages")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(hyperamp_deb_arch arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(hyperamp_deb_arch amd64)
else()
  set(hyperamp_deb_arch "${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hyperamp)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${HYPERAMP_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON) # amp-node; static libraries are never stripped
set(CPACK_OUTPUT_FILE_PREFIX "${PROJECT_BINARY_DIR}/packages")
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${hyperamp_deb_arch}")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME hyperamp)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# (CPack indents the lines after the summary.)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "request/response messaging between two zones over shared memory
amp-node runs a service zone or a client zone of HyperAMP: requests and
responses go through a queue in a shared-memory region, a file under
/dev/shm on a plain Linux host, or physical memory through /dev/mem and
the hvisor doorbell (/dev/hvisor, /dev/hshm0) on a board. Also installs
the hvisor-tool command names (hyper_amp_test, ...) and example role
files in /usr/share/hyperamp/config.")
# amp-node links CAF's core, io and openssl libraries and OpenSSL's libssl
# dynamically (the gateway and call --remote), everything else statically.
# What dpkg-shlibdeps says for amd64; the arm64 binary needs the same symbol
# versions (GLIBC_2.34, GLIBCXX_3.4.29, GCC_3.0).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libcaf-core0.17 (>= 0.17.6), libcaf-io0.17 (>= 0.17.6), libcaf-openssl0.17 (>= 0.17.6), libgcc-s1 (>= 3.0), libssl3 (>= 3.0.0), libstdc++6 (>= 11)")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME hyperamp-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "hyperamp: headers, static libraries and CMake package
For programs that embed a HyperAMP zone: find_package(hyperamp) gives
hyperamp::shm, hyperamp::vocab, hyperamp::actors, hyperamp::services and
hyperamp::config; headers in /usr/include/hyperamp.")
# The headers include CAF's; toml11 stays inside hyperamp::config.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "hyperamp (= ${PROJECT_VERSION}), libcaf-dev (>= 0.17.6)")

include(CPack)
