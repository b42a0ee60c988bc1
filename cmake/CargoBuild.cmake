# Build step of libsimvue (run by the simvue_cargo target with `cmake -P`): builds the crate's
# libraries with cargo and records which native libraries the static library needs.
#
#   cmake -DCARGO=<cargo> -DPROFILE=<profile> -DTARGET_DIR=<dir> -DPROFILE_DIR=<dir>
#         -DSONAME=<name> -DNATIVE_LIBS_FILE=<file> -P CargoBuild.cmake
#
# (working directory: the source tree, so that cargo reads its .cargo/config.toml, which in a
# release tarball points at the vendored crates.)
#
# `cargo rustc ... -- --print native-static-libs` builds exactly what `cargo build --lib` builds
# and, when rustc links libsimvue.a, prints the system libraries a program linking it needs.
# That line is kept in NATIVE_LIBS_FILE (beside the library); the test native_static_libs
# compares it with the list the installed package names. When nothing is rebuilt cargo replays
# rustc's cached messages, the line included; should it be missing all the same (a target
# directory built with other arguments) and no list be kept yet, the crate alone is rebuilt.
foreach(var CARGO PROFILE TARGET_DIR PROFILE_DIR SONAME NATIVE_LIBS_FILE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "CargoBuild.cmake: ${var} is not set")
  endif()
endforeach()

function(simvue_cargo_rustc out_var)
  execute_process(
    COMMAND "${CARGO}" rustc --lib --locked --profile "${PROFILE}" --target-dir "${TARGET_DIR}"
            -- --print native-static-libs
    RESULT_VARIABLE rc
    ERROR_VARIABLE err
    ECHO_ERROR_VARIABLE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cargo failed (${rc})")
  endif()
  set(${out_var} "${err}" PARENT_SCOPE)
endfunction()

simvue_cargo_rustc(err)
if(NOT err MATCHES "native-static-libs: ([^\n]*)" AND NOT EXISTS "${NATIVE_LIBS_FILE}")
  execute_process(COMMAND "${CARGO}" clean --package simvue --profile "${PROFILE}"
                          --target-dir "${TARGET_DIR}"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cargo clean failed (${rc})")
  endif()
  simvue_cargo_rustc(err)
endif()
if(err MATCHES "native-static-libs: ([^\n]*)")
  string(STRIP "${CMAKE_MATCH_1}" libs)
  file(WRITE "${NATIVE_LIBS_FILE}" "${libs}\n")
endif()

# Programs linked against the library in the build tree look for it by its SONAME.
file(CREATE_LINK libsimvue.so "${PROFILE_DIR}/${SONAME}" SYMBOLIC)
