# Vulkan through volk: volk.c (from libvulkan-volk-dev) is compiled into the
# Vulkan layer so there is no link-time dependency on a Vulkan loader.
find_path(VOLK_INCLUDE_DIR volk.h REQUIRED)
find_path(VULKAN_INCLUDE_DIR vulkan/vulkan.h REQUIRED)
target_sources(vkb_vulkan PRIVATE ${VOLK_INCLUDE_DIR}/volk.c)
set_source_files_properties(${VOLK_INCLUDE_DIR}/volk.c PROPERTIES COMPILE_OPTIONS -w)
target_include_directories(vkb_vulkan PRIVATE ${VOLK_INCLUDE_DIR} ${VULKAN_INCLUDE_DIR})
