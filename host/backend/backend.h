/* backend.h - the interface that the CPU reference and the Vulkan backend
 * both implement (internal).  vkb_forward() dispatches through it, so tests
 * can run either backend on the same inputs. */
#ifndef VKB_BACKEND_H
#define VKB_BACKEND_H
#include "vkbert_backend.h"
#include "model.h"

struct vkb_backend {
    int (*forward)(vkb_backend *self, const vkb_batch *b, vkb_outputs *out,
                   vkb_error *err);
    void (*destroy)(vkb_backend *self);
    const vkb_model *model;
    char device[256];
    char note[256]; /* vkb_backend_note(): "" or what differs from the options */
    /* CPU: what its linear layers compute in (FP32, BF16, INT8); AUTO from
     * the Vulkan backend, whose storage precision is in its policy */
    vkb_precision prec;
};

#endif
