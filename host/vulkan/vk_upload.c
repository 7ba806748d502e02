/* vk_upload.c - weight upload: checkpoint tensors are converted (f32/f16/
 * bf16 -> the storage precision) straight into the memory the copy reads,
 * never through an f32 copy of the model:
 *  - into the weight buffer itself where it is mapped (CPU devices,
 *    integrated GPUs: VKB_MEM_DEVICE_MAPPED);
 *  - else into the staging buffer, several tensors per fill, one submit of
 *    many copy regions per fill (not one submit per tensor).
 * Large tensors are converted by several threads: at distilbert-base size
 * (66M values) the f32 -> f16 conversion, not the copy, is what costs. */
#include "vk_internal.h"
#include "error.h"
#include "model.h"
#include "parallel.h"
#include <string.h>

#define PAR_MIN (1 << 20) /* values: below this, one thread converts */
#define CHUNK (1 << 18)   /* values per conversion task */

typedef struct conv_ctx {
    const vkb_tensor *t;
    int64_t first, n;
    char *dst;
    int f16;
    int failed; /* set (atomically) when a read of model.safetensors failed */
} conv_ctx;

static void conv_task(void *p, int task, int slot) {
    (void)slot;
    conv_ctx *c = p;
    int64_t at = (int64_t)task * CHUNK, k = c->n - at < CHUNK ? c->n - at : CHUNK;
    if (vkb_tensor_convert(c->t, c->first + at, k, c->dst + (size_t)at * (c->f16 ? 2 : 4), c->f16, NULL))
        __atomic_store_n(&c->failed, 1, __ATOMIC_RELAXED);
}

/* Converts values [first, first + n) of t into dst, split over threads.
 * Fails when the checkpoint file cannot be read (truncated while loading). */
static int convert(const vkb_vk_uploader *u, const vkb_tensor *t, int64_t first, int64_t n,
                   void *dst, vkb_error *err) {
    conv_ctx c = {t, first, n, dst, u->f16, 0};
    int tasks = (int)((n + CHUNK - 1) / CHUNK);
    vkb_parallel_run(n >= PAR_MIN ? vkb_parallel_slots(u->threads, tasks) : 1, tasks, conv_task, &c);
    if (c.failed) return vkb_tensor_convert(t, first, n, dst, u->f16, err); /* again, for the message */
    return 0;
}

void vkb_vk_uploader_init(vkb_vk_uploader *u, vkb_vk_ctx *c, vkb_vk_buffer *dst, int f16,
                          int threads) {
    memset(u, 0, sizeof *u);
    u->c = c;
    u->dst = dst;
    u->f16 = f16;
    u->threads = threads;
}

int vkb_vk_uploader_flush(vkb_vk_uploader *u, vkb_error *err) {
    if (!u->nreg) return 0;
    int rc = vkb_vk_copy_regions(u->c, u->c->stage, u->dst->buf, u->reg, u->nreg,
                                 "uploading weights to the device", err);
    u->nreg = 0;
    u->used = 0;
    return rc;
}

int vkb_vk_uploader_put(vkb_vk_uploader *u, const vkb_tensor *t, VkDeviceSize off,
                        vkb_error *err) {
    size_t es = u->f16 ? 2 : 4;
    int64_t n = t->numel;
    if (off + (VkDeviceSize)n * es > u->dst->size) return vkb_fail(err, "upload past the end of a buffer");
    if (u->dst->map) { /* the device reads this memory: convert in place */
        return convert(u, t, 0, n, (char *)u->dst->map + off, err);
    }
    if (vkb_vk_stage_ready(u->c, err)) return -1;
    for (int64_t done = 0; done < n;) {
        VkDeviceSize room = (u->c->stage_size - u->used) / es;
        if (room == 0 || u->nreg == VKB_UPLOAD_REGIONS) {
            if (vkb_vk_uploader_flush(u, err)) return -1;
            continue;
        }
        int64_t k = n - done < (int64_t)room ? n - done : (int64_t)room;
        if (convert(u, t, done, k, (char *)u->c->stage_map + u->used, err)) return -1;
        u->reg[u->nreg++] = (VkBufferCopy){.srcOffset = u->used,
                                           .dstOffset = off + (VkDeviceSize)done * es,
                                           .size = (VkDeviceSize)k * es};
        u->used = (u->used + (VkDeviceSize)k * es + 15) / 16 * 16; /* aligned for the next */
        if (u->used > u->c->stage_size) u->used = u->c->stage_size;
        done += k;
    }
    return 0;
}
