# CPU reference backend: the forward-pass benchmark (bench/cpu_forward_bench.c,
# not a test: run build/tests/cpu_forward_bench --batch 8 --seq 128 --threads 2).
add_executable(cpu_forward_bench ${CMAKE_SOURCE_DIR}/bench/cpu_forward_bench.c)
target_link_libraries(cpu_forward_bench PRIVATE vkb_internal_headers)

# The oneDNN linear layers with oneDNN capped at AVX2 (its own
# ONEDNN_MAX_CPU_ISA): bf16 and int8 must refuse (unsupported), fp32 runs.
add_test(NAME test_cpu_lowp_avx2 COMMAND test_cpu_lowp WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
set_tests_properties(test_cpu_lowp_avx2 PROPERTIES ENVIRONMENT "ONEDNN_MAX_CPU_ISA=AVX2")
