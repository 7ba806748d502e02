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
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define PAR_MIN (1 << 20) /* values: below this, one thread converts */
#define MAX_THREADS 16

typedef struct conv_job {
    const vkb_tensor *t;
    int64_t first, n;
    void *dst;
    int f16;
} conv_job;

static void *conv_run(void *p) {
    conv_job *j = p;
    vkb_tensor_convert(j->t, j->first, j->n, j->dst, j->f16);
    return NULL;
}

/* Converts values [first, first + n) of t into dst, split over threads. */
static void convert(const vkb_vk_uploader *u, const vkb_tensor *t, int64_t first, int64_t n,
                    void *dst) {
    int nt = n >= PAR_MIN ? u->threads : 1;
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    if (nt < 1) nt = 1;
    size_t es = u->f16 ? 2 : 4;
    int64_t per = (n + nt - 1) / nt;
    per = (per + 63) / 64 * 64;
    conv_job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    int nj = 0;
    for (int64_t at = 0; at < n; at += per, nj++)
        jobs[nj] = (conv_job){t, first + at, n - at < per ? n - at : per,
                              (char *)dst + (size_t)at * es, u->f16};
    for (int i = 1; i < nj; i++)
        started[i] = pthread_create(&th[i], NULL, conv_run, &jobs[i]) == 0;
    for (int i = 0; i < nj; i++)
        if (!started[i]) conv_run(&jobs[i]); /* job 0, and any thread that failed to start */
    for (int i = 1; i < nj; i++)
        if (started[i]) pthread_join(th[i], NULL);
}

void vkb_vk_uploader_init(vkb_vk_uploader *u, vkb_vk_ctx *c, vkb_vk_buffer *dst, int f16,
                          int threads) {
    memset(u, 0, sizeof *u);
    u->c = c;
    u->dst = dst;
    u->f16 = f16;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
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
        convert(u, t, 0, n, (char *)u->dst->map + off);
        return 0;
    }
    if (vkb_vk_stage_ready(u->c, err)) return -1;
    for (int64_t done = 0; done < n;) {
        VkDeviceSize room = (u->c->stage_size - u->used) / es;
        if (room == 0 || u->nreg == VKB_UPLOAD_REGIONS) {
            if (vkb_vk_uploader_flush(u, err)) return -1;
            continue;
        }
        int64_t k = n - done < (int64_t)room ? n - done : (int64_t)room;
        convert(u, t, done, k, (char *)u->c->stage_map + u->used);
        u->reg[u->nreg++] = (VkBufferCopy){.srcOffset = u->used,
                                           .dstOffset = off + (VkDeviceSize)done * es,
                                           .size = (VkDeviceSize)k * es};
        u->used = (u->used + (VkDeviceSize)k * es + 15) / 16 * 16; /* aligned for the next */
        if (u->used > u->c->stage_size) u->used = u->c->stage_size;
        done += k;
    }
    return 0;
}
