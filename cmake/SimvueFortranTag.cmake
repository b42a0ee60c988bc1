# simvue_fortran_module_tag(<var>): names the Fortran compiler of the current project by what
# decides whether it can read a .mod file: the compiler (CMAKE_Fortran_COMPILER_ID) and the
# version of its module format, not the compiler's exact version: gfortran 12 writes format 15
# ("GNU-mod15"), and so do the gfortran releases before and after it that kept that format; LLVM
# flang 19 writes "!mod$ v1" ("LLVMFlang-mod1"). For a compiler whose format is not recognised
# here the tag falls back to its id and major version ("IntelLLVM-2024").
#
# Used by libsimvue's CMakeLists.txt (where the modules are installed) and by the installed
# simvueConfig.cmake (which modules a consumer's compiler can read), so that both agree.
function(simvue_fortran_module_tag out)
  if(NOT CMAKE_Fortran_COMPILER_LOADED)
    message(FATAL_ERROR "simvue_fortran_module_tag: Fortran is not enabled")
  endif()
  set(_cache_key "_SIMVUE_FMOD_TAG_${CMAKE_Fortran_COMPILER_ID}_${CMAKE_Fortran_COMPILER_VERSION}")
  string(MAKE_C_IDENTIFIER "${_cache_key}" _cache_key)
  if(DEFINED ${_cache_key})
    set(${out} "${${_cache_key}}" PARENT_SCOPE)
    return()
  endif()

  string(REGEX MATCH "^[0-9]+" _major "${CMAKE_Fortran_COMPILER_VERSION}")
  set(_tag "${CMAKE_Fortran_COMPILER_ID}-${_major}")

  # Compile a one-line module and read the version its .mod file records.
  set(_dir "${CMAKE_BINARY_DIR}/CMakeFiles/simvue-fmod-probe")
  file(REMOVE_RECURSE "${_dir}")
  file(MAKE_DIRECTORY "${_dir}")
  file(WRITE "${_dir}/probe.f90" "module simvue_fmod_probe\nend module simvue_fmod_probe\n")
  execute_process(COMMAND "${CMAKE_Fortran_COMPILER}" -c probe.f90 -o probe.o
                  WORKING_DIRECTORY "${_dir}" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  set(_mod "${_dir}/simvue_fmod_probe.mod")
  if(_rc EQUAL 0 AND EXISTS "${_mod}")
    file(READ "${_mod}" _head LIMIT 2 HEX)
    if(_head STREQUAL "1f8b")
      # gfortran's modules are gzip-compressed; the first line names the format.
      find_program(SIMVUE_GZIP_EXECUTABLE gzip)
      mark_as_advanced(SIMVUE_GZIP_EXECUTABLE)
      if(SIMVUE_GZIP_EXECUTABLE)
        execute_process(COMMAND "${SIMVUE_GZIP_EXECUTABLE}" -dc "${_mod}"
                        OUTPUT_VARIABLE _text ERROR_QUIET)
      endif()
    else()
      file(READ "${_mod}" _text LIMIT 200)
    endif()
    if(_text MATCHES "^GFORTRAN module version '([0-9]+)'")
      set(_tag "${CMAKE_Fortran_COMPILER_ID}-mod${CMAKE_MATCH_1}")
    elseif(_text MATCHES "!mod\\$ v([0-9]+)")   # after a UTF-8 byte order mark
      set(_tag "${CMAKE_Fortran_COMPILER_ID}-mod${CMAKE_MATCH_1}")
    endif()
  endif()
  file(REMOVE_RECURSE "${_dir}")
  set(${_cache_key} "${_tag}" CACHE INTERNAL "Fortran module tag of ${CMAKE_Fortran_COMPILER}")
  set(${out} "${_tag}" PARENT_SCOPE)
endfunction()
