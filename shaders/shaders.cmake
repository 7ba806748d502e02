# Compiles the GLSL compute shaders with glslc at build time and embeds the
# SPIR-V in the library as C arrays (build/shaders/vkb_shaders.c), so the
# binary runs from any directory.  Every variant comes from one source file
# through -D defines: each entry below is "variant-name|source|DEF1,DEF2".
# A variant is named after the op it computes, as the CPU reference function
# (vkb_cpu_<op>) and the op matrix (`vkbert check --ops`) name it, then its
# form and storage precision.  The host refers to a variant only through the
# generated enum in build/shaders/vkb_shaders.h (VKB_SHADER_<NAME>, e.g.
# VKB_SHADER_ADD_LAYERNORM_SG_F16), so a misspelled or removed variant fails
# the build, not a run.
find_program(GLSLC glslc REQUIRED)

set(VKB_SHADER_VARIANTS
  "embed_f32|layernorm.comp|EMBED"
  "embed_f16|layernorm.comp|EMBED,F16"
  "add_layernorm_f32|layernorm.comp|"
  "add_layernorm_f16|layernorm.comp|F16"
  "embed_sg_f32|layernorm.comp|EMBED,LN_SUBGROUP"
  "embed_sg_f16|layernorm.comp|EMBED,LN_SUBGROUP,F16"
  "add_layernorm_sg_f32|layernorm.comp|LN_SUBGROUP"
  "add_layernorm_sg_f16|layernorm.comp|LN_SUBGROUP,F16"
  # LayerNorm of one input (the residual was added by the GEMM epilogue)
  "layernorm_f32|layernorm.comp|LN_NORES"
  "layernorm_f16|layernorm.comp|LN_NORES,F16"
  "layernorm_sg_f32|layernorm.comp|LN_NORES,LN_SUBGROUP"
  "layernorm_sg_f16|layernorm.comp|LN_NORES,LN_SUBGROUP,F16"
  # linear = act(X W^T + b) (+ residual) (vkb_cpu_linear): the GEMM forms.
  # linear.comp, scalar inner product (vkb_gemm_variant tiled, tiled_s):
  # 64x64x16 tiles of 4 warps (32x32 each), double-buffered shared memory;
  # 32x32x16 tiles of 2 warps (16x32), one shared buffer
  "linear_tiled_f32|linear.comp|BM=64,BN=64,BK=16,WM=32,WN=32,STAGES=2"
  "linear_tiled_f16|linear.comp|F16,BM=64,BN=64,BK=16,WM=32,WN=32,STAGES=2"
  "linear_tiled_s_f32|linear.comp|BM=32,BN=32,BK=16,WM=16,WN=32,STAGES=1"
  "linear_tiled_s_f16|linear.comp|F16,BM=32,BN=32,BK=16,WM=16,WN=32,STAGES=1"
  # the scalar twins of the coopmat configurations below (vkb_gemm_variant
  # tiled_cs, tiled_cl: fp16, shared memory in the coopmat layout), so that
  # lavapipe and CI run each coopmat tile's tiling, stages, bounds and
  # epilogue; the twin of the 128x128 coopmat (40 KiB) exceeds lavapipe's 32
  "linear_tiled_cs_f16|linear.comp|F16,SH16,BM=64,BN=64,BK=32,WM=32,WN=32,STAGES=2"
  "linear_tiled_cl_f16|linear.comp|F16,SH16,BM=256,BN=128,BK=32,WM=64,WN=64,STAGES=1"
  "linear_texel_f32|gemm_texel.comp|"
  "linear_texel_f16|gemm_texel.comp|F16"
  "attention_f32|attention.comp|"
  "attention_f16|attention.comp|F16"
  "attention_sg_f32|attention.comp|ATTN_SUBGROUP"
  "attention_sg_f16|attention.comp|ATTN_SUBGROUP,F16"
  # flash attention (query tiles; scalar register tiles or coopmat fragments)
  "attention_flash_f32|attention_flash.comp|"
  "attention_flash_f16|attention_flash.comp|F16"
  "attention_flash_coopmat_f16|attention_flash.comp|ATTN_COOPMAT,F16"
  # linear.comp, cooperative-matrix inner product (fp16 only; host/vk_coopmat.c):
  # 128x128x32 tiles of 8 warps (64x32) and 64x64x32 of 4 (32x32), both
  # double-buffered (the 128x128 one uses exactly 48 KiB of shared memory;
  # vkb_gemm_variant coopmat = the 128x128 tile where it alone fills a big GPU,
  # else the 64x64 one; coopmat_s = always 64x64); coopmat_l: 256x128x32 of
  # 8 warps (64x64, 4x4 fragments each), single-buffered: 38 KiB with the
  # epilogue scratch, under NVIDIA's 48 KiB Vulkan limit (double-buffered
  # it would take 68 KiB); the host skips a configuration whose shared
  # memory exceeds the device's maxComputeSharedMemorySize
  "linear_coopmat_f16|linear.comp|COOPMAT,F16,BM=128,BN=128,BK=32,WM=64,WN=32,STAGES=2"
  "linear_coopmat_s_f16|linear.comp|COOPMAT,F16,BM=64,BN=64,BK=32,WM=32,WN=32,STAGES=2"
  "linear_coopmat_l_f16|linear.comp|COOPMAT,F16,BM=256,BN=128,BK=32,WM=64,WN=64,STAGES=1"
)

# The SPV_KHR_cooperative_matrix form of each coopmat variant (AMD RDNA3,
# Intel Arc: VK_KHR_cooperative_matrix only), named with "coopmat" turned
# into "coopmat_khr" (linear_coopmat_f16 -> linear_coopmat_khr_f16): Debian's
# glslc cannot compile GL_KHR_cooperative_matrix, so shaders/spirv_coopmat_khr.py
# rewrites the NV module glslc made (Python 3 stdlib; operand layouts from
# the SPIR-V grammar of the spirv-headers package).  A module the rewrite
# cannot map (a value used as two matrix uses, say) fails the build.
set(VKB_SHADER_COOPMAT_KHR linear_coopmat_f16 linear_coopmat_s_f16 linear_coopmat_l_f16
    attention_flash_coopmat_f16)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_file(VKB_SPIRV_GRAMMAR spirv.core.grammar.json
          PATHS /usr/include/spirv/unified1 /usr/local/include/spirv/unified1 NO_DEFAULT_PATH)
if(NOT VKB_SPIRV_GRAMMAR)
  message(FATAL_ERROR "spirv.core.grammar.json not found: install spirv-headers (setup.sh)")
endif()

set(_dir ${CMAKE_BINARY_DIR}/shaders)
file(MAKE_DIRECTORY ${_dir})
file(GLOB _shader_deps CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/shaders/*.comp
     ${CMAKE_SOURCE_DIR}/shaders/*.glsl)
set(_spvs "")
set(_names "")
set(_linear_cfgs "")
foreach(v ${VKB_SHADER_VARIANTS})
  string(REPLACE "," "|" v "${v}")
  string(REPLACE "|" ";" parts "${v}")
  list(GET parts 0 name)
  list(GET parts 1 src)
  list(LENGTH parts n)
  set(defs "")
  if(n GREATER 2)
    list(SUBLIST parts 2 -1 dlist)
    foreach(d ${dlist})
      if(d)
        list(APPEND defs "-D${d}")
      endif()
    endforeach()
  endif()
  # linear.comp's configuration, for the host (vkb_shader_linear_cfg)
  if(src STREQUAL "linear.comp")
    set(_c_BM 64)
    set(_c_BN 64)
    set(_c_BK 16)
    set(_c_WM 32)
    set(_c_WN 32)
    set(_c_STAGES 2)
    set(_c_COOPMAT 0)
    set(_c_SH16 0)
    foreach(d ${defs})
      if(d MATCHES "^-D(BM|BN|BK|WM|WN|STAGES)=([0-9]+)$")
        set(_c_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
      elseif(d MATCHES "^-D(COOPMAT|SH16)$")
        set(_c_${CMAKE_MATCH_1} 1)
      endif()
    endforeach()
    set(_cfg_${name} "${_c_BM}, ${_c_BN}, ${_c_BK}, ${_c_WM}, ${_c_WN}, ${_c_STAGES}, ${_c_COOPMAT}, ${_c_SH16}")
    string(TOUPPER "${name}" up)
    string(APPEND _linear_cfgs "        {VKB_SHADER_${up}, ${_cfg_${name}}},\n")
  endif()
  add_custom_command(
    OUTPUT ${_dir}/${name}.spv
    COMMAND ${GLSLC} --target-env=vulkan1.1 -O -fshader-stage=compute ${defs}
            -I${CMAKE_SOURCE_DIR}/shaders ${CMAKE_SOURCE_DIR}/shaders/${src}
            -o ${_dir}/${name}.spv
    DEPENDS ${_shader_deps}
    COMMENT "glslc ${name} (${src} ${defs})" VERBATIM)
  list(APPEND _spvs ${_dir}/${name}.spv)
  list(APPEND _names ${name})
endforeach()

set(VKB_SHADER_KHR_SPVS "")
foreach(nv ${VKB_SHADER_COOPMAT_KHR})
  string(REPLACE "coopmat" "coopmat_khr" name "${nv}")
  add_custom_command(
    OUTPUT ${_dir}/${name}.spv
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/shaders/spirv_coopmat_khr.py
            ${VKB_SPIRV_GRAMMAR} ${_dir}/${nv}.spv ${_dir}/${name}.spv
    DEPENDS ${_dir}/${nv}.spv ${CMAKE_SOURCE_DIR}/shaders/spirv_coopmat_khr.py
    COMMENT "SPIR-V NV -> KHR cooperative matrix: ${name}" VERBATIM)
  list(APPEND _spvs ${_dir}/${name}.spv)
  list(APPEND _names ${name})
  list(APPEND VKB_SHADER_KHR_SPVS "${nv}|${name}")
  if(DEFINED _cfg_${nv})
    string(TOUPPER "${name}" up)
    string(APPEND _linear_cfgs "        {VKB_SHADER_${up}, ${_cfg_${nv}}},\n")
  endif()
endforeach()

# The enum of variants, written at configure time (only when the list
# changes) so that host code can compile against it.
set(_enum "")
foreach(name ${_names})
  string(TOUPPER "${name}" up)
  string(APPEND _enum "  VKB_SHADER_${up},\n")
endforeach()
file(CONFIGURE OUTPUT ${_dir}/vkb_shaders.h CONTENT
"/* generated by shaders/shaders.cmake from VKB_SHADER_VARIANTS - do not edit */
#ifndef VKB_SHADERS_H
#define VKB_SHADERS_H
#include <stddef.h>
#include <stdint.h>
typedef enum vkb_shader_id {
${_enum}  VKB_SHADER_COUNT
} vkb_shader_id;
/* The embedded SPIR-V of a variant and its size in bytes (NULL if out of range). */
const uint32_t *vkb_shader_code(vkb_shader_id id, size_t *size);
/* The variant's name in shaders/shaders.cmake, e.g. \"add_layernorm_sg_f16\". */
const char *vkb_shader_name(vkb_shader_id id);
/* linear.comp's configuration of a variant (its defines in shaders.cmake):
 * cfg = BM, BN, BK, WM, WN, STAGES, COOPMAT, SH16; 0, or -1 when id is not
 * a linear.comp variant. */
static inline int vkb_shader_linear_cfg(vkb_shader_id id, int cfg[8]) {
    static const int t[][9] = {
${_linear_cfgs}    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i][0] == (int)id) {
            for (int j = 0; j < 8; j++) cfg[j] = t[i][j + 1];
            return 0;
        }
    return -1;
}
#endif
" @ONLY)

add_custom_command(
  OUTPUT ${_dir}/vkb_shaders.c
  COMMAND ${CMAKE_COMMAND} -DOUT=${_dir}/vkb_shaders.c "-DNAMES=${_names}"
          -DDIR=${_dir} -P ${CMAKE_SOURCE_DIR}/shaders/embed_spirv.cmake
  DEPENDS ${_spvs} ${CMAKE_SOURCE_DIR}/shaders/embed_spirv.cmake ${_dir}/vkb_shaders.h
  COMMENT "Embedding SPIR-V into vkb_shaders.c" VERBATIM)
set(VKB_SHADER_SRC ${_dir}/vkb_shaders.c)
set(VKB_SHADER_INCLUDE_DIR ${_dir})
