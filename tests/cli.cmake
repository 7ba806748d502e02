# CLI script tests (tests/cli/*.sh): each runs once on the CPU reference and
# once on the GPU (Vulkan, lavapipe in CI, with the validation layer); the GPU
# run skips (77) only when no Vulkan device exists.
file(GLOB VKB_CLI_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/*.sh)
list(FILTER VKB_CLI_TESTS EXCLUDE REGEX ".*/lib\\.sh$")
foreach(script ${VKB_CLI_TESTS})
  get_filename_component(name ${script} NAME_WE)
  foreach(dev cpu gpu)
    add_test(NAME cli_${name}_${dev}
             COMMAND bash ${script} $<TARGET_FILE:vkbert> ${dev}
             WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(cli_${name}_${dev} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
      ENVIRONMENT "VKB_SHARED=${VKB_SHARED_DIR};VKB_VALIDATION=1")
  endforeach()
endforeach()
