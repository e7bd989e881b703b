# cueball_headers(TARGET DIRS dir... [PRIVATE header...])
#
# The layer walls. No target puts the repository root on its include path;
# instead each target exposes the headers directly in its DIRS (not their
# subfolders), under their repository paths, through symlinks in
# build/include/TARGET, which is on the include path of TARGET and of every
# target that links it. Headers listed PRIVATE go to build/include/TARGET.private,
# seen by TARGET alone. So `#include "server/store/postgres/pg_run_store.h"`
# compiles in an engine file only if cueball_engine linked cueball_store_pg,
# which it does not. Third-party headers (gRPC, libpqxx) live in /usr/include,
# which no build can hide: tests/lint/layers.py checks those.
function(cueball_headers target)
  cmake_parse_arguments(H "" "" "DIRS;PRIVATE" ${ARGN})
  set(public_view ${CMAKE_BINARY_DIR}/include/${target})
  set(private_view ${CMAKE_BINARY_DIR}/include/${target}.private)
  file(REMOVE_RECURSE ${public_view} ${private_view})
  file(MAKE_DIRECTORY ${public_view})
  foreach(dir ${H_DIRS})
    file(GLOB headers CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}
         ${CMAKE_SOURCE_DIR}/${dir}/*.h)
    foreach(h ${headers})
      if(h IN_LIST H_PRIVATE)
        set(view ${private_view})
      else()
        set(view ${public_view})
      endif()
      get_filename_component(parent ${view}/${h} DIRECTORY)
      file(MAKE_DIRECTORY ${parent})
      file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${h} ${view}/${h} SYMBOLIC)
    endforeach()
  endforeach()
  foreach(h ${H_PRIVATE})
    if(NOT EXISTS ${private_view}/${h})
      message(FATAL_ERROR "cueball_headers(${target}): PRIVATE ${h} is not in its DIRS")
    endif()
  endforeach()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${public_view})
  elseif(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE ${public_view})
  else()
    target_include_directories(${target} PUBLIC ${public_view})
  endif()
  if(H_PRIVATE)
    target_include_directories(${target} PRIVATE ${private_view})
  endif()
endfunction()
