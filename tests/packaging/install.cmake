# ctest fixture: a fresh `cmake --install` of the build tree BUILD_DIR into PREFIX.
#   cmake -DPREFIX=<dir> -DBUILD_DIR=<build> -P install.cmake
if(NOT PREFIX OR NOT BUILD_DIR)
  message(FATAL_ERROR "usage: cmake -DPREFIX=<dir> -DBUILD_DIR=<build> -P install.cmake")
endif()
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
