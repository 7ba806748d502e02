# CPU reference backend: the forward-pass benchmark (bench/cpu_forward_bench.c,
# not a test: run build/tests/cpu_forward_bench --batch 8 --seq 128 --threads 2).
add_executable(cpu_forward_bench ${CMAKE_SOURCE_DIR}/bench/cpu_forward_bench.c)
target_link_libraries(cpu_forward_bench PRIVATE vkb_internal_headers)
