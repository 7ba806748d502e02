# The SPV_KHR_cooperative_matrix modules (shaders/spirv_coopmat_khr.py): each
# one checked against the NV module it was made from, instruction by
# instruction (tests/test_spirv_coopmat_khr.py; no GPU, and no validator
# here knows the KHR extension), and the rewriter's refusals and the
# checker's own fault detection on every NV coopmat variant.
foreach(p ${VKB_SHADER_KHR_SPVS})
  string(REPLACE "|" ";" p "${p}")
  list(GET p 0 nv)
  list(GET p 1 khr)
  add_test(NAME spirv_${khr}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_spirv_coopmat_khr.py
                   ${VKB_SPIRV_GRAMMAR} ${CMAKE_BINARY_DIR}/shaders/${nv}.spv
                   ${CMAKE_BINARY_DIR}/shaders/${khr}.spv)
  add_test(NAME spirv_${khr}_self_test
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/test_spirv_coopmat_khr.py
                   --self-test ${VKB_SPIRV_GRAMMAR} ${CMAKE_BINARY_DIR}/shaders/${nv}.spv)
endforeach()
