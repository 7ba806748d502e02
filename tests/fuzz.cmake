# Fuzz targets (tests/fuzz/): one per parser of untrusted input.
#
# Every build: fuzz_replay_<target> links the target with replay_main.c and
# the ctest test of the same name runs it once over tests/fuzz/corpus/<target>/
# (seeds and regression inputs).  In the sanitizer build (VKB_SANITIZE=ON)
# the replay runs under ASan/UBSan.
#
# -DVKB_FUZZ=ON (clang only): also builds libFuzzer binaries fuzz_<target>,
# with the library instrumented for coverage and ASan/UBSan.  Run them with
# tests/fuzz/run.sh.
set(VKB_FUZZ_TARGETS safetensors config vocab tokenizer model_dir jsonl csv tsv st_config)
set(VKB_FUZZ_SRC_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
option(VKB_FUZZ "Build libFuzzer targets (clang; instruments the library)" OFF)

add_library(vkb_fuzz_common STATIC ${VKB_FUZZ_SRC_DIR}/fuzz_common.c)
target_link_libraries(vkb_fuzz_common PUBLIC vkb_internal_headers)
target_include_directories(vkb_fuzz_common PUBLIC ${VKB_FUZZ_SRC_DIR})

foreach(t ${VKB_FUZZ_TARGETS})
  add_executable(fuzz_replay_${t} ${VKB_FUZZ_SRC_DIR}/fuzz_${t}.c ${VKB_FUZZ_SRC_DIR}/replay_main.c)
  target_link_libraries(fuzz_replay_${t} PRIVATE vkb_fuzz_common)
  add_test(NAME fuzz_replay_${t} COMMAND fuzz_replay_${t} ${VKB_FUZZ_SRC_DIR}/corpus/${t}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
endforeach()

if(VKB_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VKB_FUZZ=ON needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  set(VKB_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  # Every layer of the library (volk in the Vulkan one) gets coverage instrumentation for libFuzzer;
  # whatever links it gets the sanitizer runtimes.
  foreach(l ${VKB_LAYERS})
    target_compile_options(${l} PRIVATE -fsanitize=fuzzer-no-link ${VKB_FUZZ_SAN})
  endforeach()
  target_link_options(vkbert_lib INTERFACE -fsanitize=address,undefined)
  target_compile_options(vkb_fuzz_common PRIVATE ${VKB_FUZZ_SAN})
  foreach(t ${VKB_FUZZ_TARGETS})
    add_executable(fuzz_${t} ${VKB_FUZZ_SRC_DIR}/fuzz_${t}.c)
    target_link_libraries(fuzz_${t} PRIVATE vkb_fuzz_common)
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer ${VKB_FUZZ_SAN})
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
endif()
