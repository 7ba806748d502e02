# Python binding tests (python/tests/*.py, plain scripts run by Debian's
# /usr/bin/python3): the ctypes binding over libvkbert.so (test_model.py) and
# the Dask recipe on a real LocalCluster (test_dask.py, needs python3-dask and
# python3-distributed and ../shared data), and docs/python.md's Dask example
# run as written with its output compared to `vkbert score` (test_doc_dask.py).  Each skips (77) when what it
# needs is absent.  PYTHONPATH is set by the scripts themselves; the library
# is the one this build made.
find_program(VKB_PY_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(VKB_PY_ENV "VKBERT_LIBRARY=$<TARGET_FILE:vkbert_shared>;VKBERT_BIN=$<TARGET_FILE:vkbert>;VKB_REQUIRE_LIBRARY=1;PYTHONDONTWRITEBYTECODE=1;VKB_SHARED=${VKB_SHARED_DIR};VKB_VALIDATION=1")
if(VKB_SANITIZE)
  # An ASan-built libvkbert.so can only be loaded into an uninstrumented
  # python with the runtime preloaded; Python's own allocations are not
  # leak-checked.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE VKB_ASAN_RT OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND VKB_PY_ENV "LD_PRELOAD=${VKB_ASAN_RT}" "ASAN_OPTIONS=detect_leaks=0")
endif()
foreach(name model embed dask doc_dask)
  if(VKB_PY_PYTHON)
    add_test(NAME python_${name}
             COMMAND ${VKB_PY_PYTHON} ${CMAKE_SOURCE_DIR}/python/tests/test_${name}.py
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  else()
    add_test(NAME python_${name} COMMAND sh -c "echo '/usr/bin/python3 not found: skipping'; exit 77")
  endif()
  set_tests_properties(python_${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       ENVIRONMENT "${VKB_PY_ENV}")
endforeach()
