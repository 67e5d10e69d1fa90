# layering.cmake - checks, at configure time, the two rules that keep the
# house in order; either failing stops the build with the offending file.
#   1. The protocol core does no I/O: nothing under src/core includes <uv.h>.
#   2. Programs use the public API: no file under tools/ (and no program's
#      main) includes a header from the private src/ tree.

file(GLOB_RECURSE _core_files ${PROJECT_SOURCE_DIR}/src/core/*)
foreach(f ${_core_files})
  file(STRINGS ${f} _uv REGEX "#include <uv.h>")
  if(_uv)
    message(FATAL_ERROR "${f} includes <uv.h>: the core must not do I/O")
  endif()
endforeach()

# chord_check_public_only(FILE...): fail if one includes "core/...",
# "io/...", "client/..." or "sim/..." (the private headers under src/).
function(chord_check_public_only)
  foreach(f ${ARGN})
    file(STRINGS ${f} _priv REGEX "#include \"(core|io|client|sim)/")
    if(_priv)
      list(GET _priv 0 _first)
      message(FATAL_ERROR "${f}: '${_first}': a program may include only "
                          "include/chord/ and tools/common/ headers")
    endif()
  endforeach()
endfunction()

file(GLOB_RECURSE _tool_files ${PROJECT_SOURCE_DIR}/tools/*.c
     ${PROJECT_SOURCE_DIR}/tools/*.h)
chord_check_public_only(${_tool_files})
