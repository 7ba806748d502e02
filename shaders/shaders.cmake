# Compiles shaders/*.comp with glslc and embeds the SPIR-V in the library.
# (Filled in by the Vulkan backend work.)
set(VKB_SHADER_SRC "")
