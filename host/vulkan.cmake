# Vulkan through volk: volk.c (from libvulkan-volk-dev) is compiled into the
# library so there is no link-time dependency on a Vulkan loader.
find_path(VOLK_INCLUDE_DIR volk.h REQUIRED)
find_path(VULKAN_INCLUDE_DIR vulkan/vulkan.h REQUIRED)
add_library(vkb_volk OBJECT ${VOLK_INCLUDE_DIR}/volk.c)
target_include_directories(vkb_volk PUBLIC ${VOLK_INCLUDE_DIR} ${VULKAN_INCLUDE_DIR})
target_compile_options(vkb_volk PRIVATE -w)
target_sources(vkbert_lib PRIVATE $<TARGET_OBJECTS:vkb_volk>)
target_include_directories(vkbert_lib PRIVATE ${VOLK_INCLUDE_DIR})
# The generated shader-variant enum (build/shaders/vkb_shaders.h,
# shaders/shaders.cmake) is part of the Vulkan-internal header vk_internal.h,
# which the white-box tests and benchmarks include too.
target_include_directories(vkbert_lib PUBLIC ${VKB_SHADER_INCLUDE_DIR})
