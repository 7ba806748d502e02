# git_version.cmake - writes OUT (a header defining VKB_GIT_COMMIT) from
# `git describe --always --dirty` of SRC, or "unknown" without git or .git.
# Run at every build (a custom target), the file is rewritten only when the
# commit changes, so nothing recompiles otherwise.
set(commit "unknown")
if(EXISTS "${SRC}/.git")
  find_program(GIT git)
  if(GIT)
    execute_process(COMMAND ${GIT} -C "${SRC}" describe --always --dirty
                    OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(rc EQUAL 0 AND out)
      set(commit "${out}")
    endif()
  endif()
endif()
set(text "#define VKB_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE "${OUT}" "${text}")
endif()
