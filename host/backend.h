/* backend.h - the interface that the CPU reference and the Vulkan backend
 * both implement (internal).  vkb_forward() dispatches through it, so tests
 * can run either backend on the same inputs. */
#ifndef VKB_BACKEND_H
#define VKB_BACKEND_H
#include "vkbert.h"
#include "../loader/model.h"

struct vkb_backend {
    int (*forward)(vkb_backend *self, const vkb_batch *b, vkb_outputs *out,
                   vkb_error *err);
    void (*destroy)(vkb_backend *self);
    const vkb_model *model;
    char device[256];
};

/* CPU reference: host/cpu_backend.c */
int vkb_cpu_backend_create(const vkb_model *m, const vkb_backend_opts *o,
                           vkb_backend **out, vkb_error *err);
/* Vulkan: host/vk_backend.c */
int vkb_vk_backend_create(const vkb_model *m, const vkb_backend_opts *o,
                          vkb_backend **out, vkb_error *err);
#endif
