# Compiles the GLSL compute shaders with glslc at build time and embeds the
# SPIR-V in the library as C arrays (build/shaders/vkb_shaders.c), so the
# binary runs from any directory.  Every variant comes from one source file
# through -D defines: each entry below is "variant-name|source|DEF1,DEF2".
find_program(GLSLC glslc REQUIRED)

set(VKB_SHADER_VARIANTS
  "embed_f32|layernorm.comp|EMBED"
  "embed_f16|layernorm.comp|EMBED,F16"
  "add_ln_f32|layernorm.comp|"
  "add_ln_f16|layernorm.comp|F16"
  "embed_sg_f32|layernorm.comp|EMBED,LN_SUBGROUP"
  "embed_sg_f16|layernorm.comp|EMBED,LN_SUBGROUP,F16"
  "add_ln_sg_f32|layernorm.comp|LN_SUBGROUP"
  "add_ln_sg_f16|layernorm.comp|LN_SUBGROUP,F16"
  "gemm_tiled_f32|gemm_tiled.comp|"
  "gemm_tiled_f16|gemm_tiled.comp|F16"
  "gemm_texel_f32|gemm_texel.comp|"
  "gemm_texel_f16|gemm_texel.comp|F16"
  "attention_f32|attention.comp|"
  "attention_f16|attention.comp|F16"
  "attention_sg_f32|attention.comp|ATTN_SUBGROUP"
  "attention_sg_f16|attention.comp|ATTN_SUBGROUP,F16"
  # cooperative-matrix GEMM (fp16 only; host/vk_coopmat.c): 128x128 and 64x64 tiles
  "gemm_coopmat_f16|gemm_coopmat.comp|F16"
  "gemm_coopmat_s_f16|gemm_coopmat.comp|F16,BM=64,BN=64,WM=32,WN=32"
)

set(_dir ${CMAKE_BINARY_DIR}/shaders)
file(MAKE_DIRECTORY ${_dir})
file(GLOB _shader_deps CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/shaders/*.comp
     ${CMAKE_SOURCE_DIR}/shaders/*.glsl)
set(_spvs "")
set(_names "")
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

add_custom_command(
  OUTPUT ${_dir}/vkb_shaders.c
  COMMAND ${CMAKE_COMMAND} -DOUT=${_dir}/vkb_shaders.c "-DNAMES=${_names}"
          -DDIR=${_dir} -P ${CMAKE_SOURCE_DIR}/shaders/embed_spirv.cmake
  DEPENDS ${_spvs} ${CMAKE_SOURCE_DIR}/shaders/embed_spirv.cmake
  COMMENT "Embedding SPIR-V into vkb_shaders.c" VERBATIM)
set(VKB_SHADER_SRC ${_dir}/vkb_shaders.c)
