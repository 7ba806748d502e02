/* vk_backend.h - opening the Vulkan backend (host/vulkan/vk_backend.c). */
#ifndef VKB_VK_BACKEND_H
#define VKB_VK_BACKEND_H
#include "backend.h"
int vkb_vk_backend_create(const vkb_model *m, const vkb_backend_opts *o,
                          vkb_backend **out, vkb_error *err);
#endif
