# `vkbert bench` (host/cli_bench.c): JSON fields, FLOP formula, per-kernel
# times on the GPU, the end-to-end mode; once on the CPU, once on the GPU.
foreach(dev cpu gpu)
  add_test(NAME bench_cli_${dev}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_cli.sh $<TARGET_FILE:vkbert> ${dev}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(bench_cli_${dev} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "VKB_VALIDATION=1")
endforeach()
