# install.cmake - what `cmake --install` puts where (included last by the
# top CMakeLists.txt, once every target exists).
#
#   bin/                      dhtd dht dht-viz dht-sim dht-topo (dht-certs)
#   lib/libchord.a            the library, one static archive of chord_core,
#                             chord_io, chord_client and chord_sim: a program
#                             embeds the client (chord/client.h,
#                             chord/session.h) or a whole node
#                             (chord/host.h) and the linker takes only the
#                             objects it uses
#   include/chord/*.h         the public headers
#   lib/pkgconfig/chord.pc    pkg-config --cflags --libs chord
#   lib/cmake/chord/          find_package(chord) -> chord::chord
#   share/chord/python/topo/  the package behind dht-topo
#   share/chord/topologies/   the example rings (topologies/)
#   share/man/man{1,5,8}/     the manual pages (sources beside the code)
#   share/bash-completion/completions/dht
#
# Why static: the libraries are built without -fPIC and promise no ABI yet
# (version 0.x); an archive lets a program embed them without one, and
# needs no rpath or ldconfig. The pkg-config file and the CMake package
# are relocatable (paths relative to where they are installed), so the
# tree can be installed with any --prefix at install time.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# What the public headers and the archive need from elsewhere (pkg-config
# module names): libuv (chord/host.h includes <uv.h>) and libcrypto
# (SHA-1). A library that chord_* starts to link must be added here too.
set(CHORD_PC_REQUIRES "libuv libssl libcrypto libmicrohttpd")
set(CHORD_PC_LIBS_OTHER "-lm")

add_library(chord_archive STATIC
  $<TARGET_OBJECTS:chord_core> $<TARGET_OBJECTS:chord_io>
  $<TARGET_OBJECTS:chord_client> $<TARGET_OBJECTS:chord_sim>)
set_target_properties(chord_archive PROPERTIES
  OUTPUT_NAME chord
  ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)

install(TARGETS dhtd dht dht-viz dht-sim
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS chord_archive ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/chord
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# dht-topo: the launcher with the version filled in, and its package.
set(CHORD_PYTHON_DIR ${CMAKE_INSTALL_DATADIR}/chord/python)
configure_file(${PROJECT_SOURCE_DIR}/tools/dht-topo
               ${PROJECT_BINARY_DIR}/install/dht-topo @ONLY)
install(PROGRAMS ${PROJECT_BINARY_DIR}/install/dht-topo
        DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tools/topo
        DESTINATION ${CHORD_PYTHON_DIR}
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
# The example rings, for dht-topo and dht-viz.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/topologies/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chord/topologies)
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/dht-certs)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/dht-certs
          DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Manual pages: one source per page, beside its program.
set(CHORD_MAN_PAGES
  tools/dht/dht.1
  tools/viz/dht-viz.1
  tools/sim/dht-sim.1
  tools/topo/dht-topo.1
  tools/common/dht-topology.5
  tools/dhtd/dhtd.8)
foreach(page ${CHORD_MAN_PAGES})
  string(REGEX MATCH "[0-9]$" section ${page})
  install(FILES ${PROJECT_SOURCE_DIR}/${page}
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()

install(FILES ${PROJECT_SOURCE_DIR}/tools/dht/dht.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME dht)

# pkg-config and CMake package files, relative to where they land.
set(_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/chord)
file(RELATIVE_PATH CHORD_PC_TO_PREFIX /root/${_pc_dir} /root)
file(RELATIVE_PATH CHORD_CMAKE_TO_PREFIX /root/${_cmake_dir} /root)
string(REGEX REPLACE "/$" "" CHORD_PC_TO_PREFIX "${CHORD_PC_TO_PREFIX}")
string(REGEX REPLACE "/$" "" CHORD_CMAKE_TO_PREFIX "${CHORD_CMAKE_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/chord.pc.in
               ${PROJECT_BINARY_DIR}/install/chord.pc @ONLY)
configure_file(${PROJECT_SOURCE_DIR}/cmake/chordConfig.cmake.in
               ${PROJECT_BINARY_DIR}/install/chordConfig.cmake @ONLY)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/install/chordConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/install/chord.pc DESTINATION ${_pc_dir})
install(FILES ${PROJECT_BINARY_DIR}/install/chordConfig.cmake
              ${PROJECT_BINARY_DIR}/install/chordConfigVersion.cmake
        DESTINATION ${_cmake_dir})

# LICENSE and README for the packager.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# What an operator needs beside the binaries: the systemd unit, an example
# configuration file and the Grafana dashboard (contrib/README.md says how
# to use them), under share/chord/contrib.
install(FILES ${PROJECT_SOURCE_DIR}/contrib/README.md
              ${PROJECT_SOURCE_DIR}/contrib/dhtd.conf.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chord/contrib)
install(FILES ${PROJECT_SOURCE_DIR}/contrib/systemd/dhtd@.service
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chord/contrib/systemd)
install(FILES ${PROJECT_SOURCE_DIR}/contrib/grafana/chord-dashboard.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/chord/contrib/grafana)
