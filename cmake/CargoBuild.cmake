# Build step of libsimvue (run by the simvue_cargo target with `cmake -P`): builds the crate's
# libraries with cargo and records which native libraries the static library needs.
#
#   cmake -DCARGO=<cargo> -DPROFILE=<profile> -DTARGET_DIR=<dir> -DPROFILE_DIR=<dir>
#         -DSONAME=<name> -DNATIVE_LIBS_FILE=<file> -P CargoBuild.cmake
#
# (working directory: the source tree, so that cargo reads its .cargo/config.toml, which in a
# release tarball points at the vendored crates.)
#
# The libraries are built with a plain `cargo build --lib`: the lib unit is then the very one
# that `cargo build --bin simvue` (the simvue_cli target) links, so neither run rebuilds what
# the other built. (Building it with `cargo rustc --lib -- --print native-static-libs` instead
# gave the lib unit other rustc arguments than the CLI's dependency on it has: each of the two
# targets rebuilt the crate after the other, twice on every `cmake --build` and again at
# `cmake --install`, Spack's install phase included.)
#
# `cargo rustc --lib ... -- --print native-static-libs` runs only to record the system
# libraries a program linking libsimvue.a needs: when NATIVE_LIBS_FILE (beside the library) is
# missing or older than Cargo.lock or Cargo.toml (what names the dependencies that could add
# one). It prints them when rustc links libsimvue.a; the test native_static_libs compares that
# list with the one the installed package names. Should the line be missing (cargo replays
# rustc's cached messages of an up-to-date crate, and a target directory built with other
# arguments has none), the crate alone is rebuilt.
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

set(_stale TRUE)
if(EXISTS "${NATIVE_LIBS_FILE}")
  set(_stale FALSE)
  get_filename_component(_root "${CMAKE_CURRENT_LIST_DIR}" DIRECTORY)
  foreach(input "${_root}/Cargo.lock" "${_root}/Cargo.toml")
    if(EXISTS "${input}" AND "${input}" IS_NEWER_THAN "${NATIVE_LIBS_FILE}")
      set(_stale TRUE)
    endif()
  endforeach()
endif()
if(_stale)
  simvue_cargo_rustc(err)
  if(NOT err MATCHES "native-static-libs: ([^\n]*)")
    execute_process(COMMAND "${CARGO}" clean --package simvue --profile "${PROFILE}"
                            --target-dir "${TARGET_DIR}"
                    RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "cargo clean failed (${rc})")
    endif()
    simvue_cargo_rustc(err)
  endif()
  if(NOT err MATCHES "native-static-libs: ([^\n]*)")
    message(FATAL_ERROR "cargo rustc printed no native-static-libs line for libsimvue.a")
  endif()
  string(STRIP "${CMAKE_MATCH_1}" libs)
  file(WRITE "${NATIVE_LIBS_FILE}" "${libs}\n")
endif()

# The libraries, as the simvue command's build links them (see above).
execute_process(
  COMMAND "${CARGO}" build --lib --locked --profile "${PROFILE}" --target-dir "${TARGET_DIR}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cargo failed (${rc})")
endif()

# Programs linked against the library in the build tree look for it by its SONAME.
file(CREATE_LINK libsimvue.so "${PROFILE_DIR}/${SONAME}" SYMBOLIC)
