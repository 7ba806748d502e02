# `vkbert bench` (host/cli_bench.c): JSON fields, FLOP formula, per-kernel
# times on the GPU, the end-to-end mode; once on the CPU, once on the GPU.
foreach(dev cpu gpu)
  add_test(NAME bench_cli_${dev}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_cli.sh $<TARGET_FILE:vkbert> ${dev}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  # XDG_CACHE_HOME: the tuning cache of the build tree, never the user's
  set_tests_properties(bench_cli_${dev} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "VKB_VALIDATION=1;XDG_CACHE_HOME=${CMAKE_CURRENT_BINARY_DIR}/xdg-cache")
endforeach()

# bench/gpu-run.sh --dry-run: the prepared GPU script's every step, argument
# handling and result files on this machine (tiny shapes, lavapipe, CUDA
# peers skipped with a note), so it is known to work before a GPU is reached.
add_test(NAME gpu_run_dry
         COMMAND env VKBERT=$<TARGET_FILE:vkbert> BUILD=${CMAKE_BINARY_DIR}
                 OUT=${CMAKE_CURRENT_BINARY_DIR}/gpu_run_dry
                 bash ${CMAKE_SOURCE_DIR}/bench/gpu-run.sh --dry-run
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(gpu_run_dry PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 420
  ENVIRONMENT "VKB_VALIDATION=1;XDG_CACHE_HOME=${CMAKE_CURRENT_BINARY_DIR}/xdg-cache")
