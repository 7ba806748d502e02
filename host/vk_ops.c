/* vk_ops.c - op-level entry points for the shader tests: each runs one
 * kernel on host arrays (upload, one dispatch, download).  They allocate on
 * every call; the forward pass (vk_backend.c) does not. */
#include "vk_internal.h"
#include "error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OP_TIMEOUT_NS (120ull * 1000000000ull)

typedef struct op_run {
    vkb_vk_ctx *c;
    vkb_vk_kernels k;
    VkDescriptorPool pool;
    vkb_vk_buffer bufs[8];
    VkBufferView views[4];
    int nbufs, nviews;
    VkCommandBuffer cmd;
} op_run;

static int op_begin(op_run *o, vkb_vk_ctx *c, int f16, int hd, vkb_error *err) {
    memset(o, 0, sizeof *o);
    o->c = c;
    if (vkb_vk_kernels_create(c, f16, hd, &o->k, err)) return -1;
    if (vkb_vk_pool_create(c, 4, 16, 8, &o->pool, err)) return -1;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = c->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkResult r = c->d.vkAllocateCommandBuffers(c->dev, &ai, &o->cmd);
    return r == VK_SUCCESS ? 0 : vkb_vk_fail(c, r, "allocating a command buffer", err);
}

static void op_end(op_run *o) {
    vkb_vk_ctx *c = o->c;
    if (o->cmd) c->d.vkFreeCommandBuffers(c->dev, c->pool, 1, &o->cmd);
    for (int i = 0; i < o->nviews; i++) c->d.vkDestroyBufferView(c->dev, o->views[i], NULL);
    for (int i = 0; i < o->nbufs; i++) vkb_vk_buffer_destroy(c, &o->bufs[i]);
    if (o->pool) c->d.vkDestroyDescriptorPool(c->dev, o->pool, NULL);
    vkb_vk_kernels_destroy(c, &o->k);
}

/* A device buffer holding n values (floats packed at the storage precision,
 * or raw int32 when ints != NULL). */
static vkb_vk_buffer *op_buf(op_run *o, const float *vals, const int32_t *ints, size_t n,
                             vkb_vk_bind *bind, vkb_error *err) {
    int f16 = o->k.f16 && !ints;
    size_t es = f16 ? 2 : 4;
    vkb_vk_buffer *b = &o->bufs[o->nbufs];
    if (vkb_vk_buffer_create(o->c, n * es, 0, "test operand", b, err)) return NULL;
    o->nbufs++;
    if (vals || ints) {
        void *tmp = malloc(n * es + 1);
        if (!tmp) { vkb_fail(err, "out of memory"); return NULL; }
        if (ints) memcpy(tmp, ints, n * 4);
        else vkb_vk_pack(vals, tmp, n, f16);
        int rc = vkb_vk_upload(o->c, b, 0, tmp, n * es, err);
        free(tmp);
        if (rc) return NULL;
    }
    *bind = (vkb_vk_bind){.buf = b->buf, .off = 0, .range = VK_WHOLE_SIZE};
    return b;
}

static int op_view(op_run *o, vkb_vk_bind *bind, vkb_error *err) {
    if (vkb_vk_view_create(o->c, bind->buf, 0, VK_WHOLE_SIZE, o->k.f16, &o->views[o->nviews], err))
        return -1;
    bind->view = o->views[o->nviews++];
    return 0;
}

static int op_run_one(op_run *o, const vkb_vk_pipe *p, const vkb_vk_bind *binds,
                      const void *push, const uint32_t g[3], vkb_error *err) {
    vkb_vk_ctx *c = o->c;
    VkDescriptorSet set;
    if (vkb_vk_set_create(c, o->pool, p, binds, &set, err)) return -1;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = c->d.vkBeginCommandBuffer(o->cmd, &bi);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "recording a test dispatch", err);
    vkb_vk_dispatch(c, o->cmd, p, set, push, g[0], g[1], g[2]);
    vkb_vk_barrier(c, o->cmd);
    r = c->d.vkEndCommandBuffer(o->cmd);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "recording a test dispatch", err);
    if (vkb_vk_submit_wait(c, o->cmd, OP_TIMEOUT_NS, "running a test dispatch", err)) return -1;
    return vkb_vk_ctx_check_validation(c, err);
}

static int op_read(op_run *o, vkb_vk_buffer *b, float *dst, size_t n, vkb_error *err) {
    size_t es = o->k.f16 ? 2 : 4;
    void *tmp = malloc(n * es + 1);
    if (!tmp) return vkb_fail(err, "out of memory");
    int rc = vkb_vk_download(o->c, b, 0, tmp, n * es, err);
    if (!rc) vkb_vk_unpack(tmp, dst, n, o->k.f16);
    free(tmp);
    return rc;
}

int vkb_vk_op_linear(vkb_vk_ctx *c, int f16, int variant, const float *X,
                     const float *W, const float *b, float *Y, int M, int N,
                     int K, vkb_act act, vkb_error *err) {
    if (variant == VKB_GEMM_TEXEL && !vkb_vk_texel_ok(K, K))
        return vkb_fail(err, "texel GEMM needs K %% 4 == 0 (K=%d)", K);
    op_run o;
    int rc = op_begin(&o, c, f16, 64, err);
    if (!rc && variant == VKB_GEMM_COOPMAT) rc = vkb_vk_coopmat_pipes_create(c, &o.k, err); /* coopmat */
    vkb_vk_bind bind[4];
    float *zb = NULL;
    vkb_vk_buffer *yb = NULL;
    if (!rc && !b) {
        zb = calloc((size_t)N, sizeof *zb);
        if (!zb) rc = vkb_fail(err, "out of memory");
    }
    rc = rc || !op_buf(&o, X, NULL, (size_t)M * K, &bind[0], err);
    rc = rc || !op_buf(&o, W, NULL, (size_t)N * K, &bind[1], err);
    rc = rc || !op_buf(&o, b ? b : zb, NULL, (size_t)N, &bind[2], err);
    rc = rc || !(yb = op_buf(&o, NULL, NULL, (size_t)M * N, &bind[3], err));
    if (!rc && variant == VKB_GEMM_TEXEL)
        rc = op_view(&o, &bind[0], err) || op_view(&o, &bind[1], err);
    vkb_vk_gemm_pc pc = {(uint32_t)M, (uint32_t)N, (uint32_t)K, (uint32_t)K, (uint32_t)N, (uint32_t)act};
    uint32_t g[3];
    vkb_vk_gemm_groups(variant, M, N, g);
    const vkb_vk_pipe *p = variant == VKB_GEMM_TEXEL ? &o.k.gemm_texel : &o.k.gemm_tiled;
    if (variant == VKB_GEMM_COOPMAT) p = vkb_vk_coopmat_pipe(&o.k, M, N);
    rc = rc || op_run_one(&o, p, bind, &pc, g, err);
    rc = rc || op_read(&o, yb, Y, (size_t)M * N, err);
    free(zb);
    op_end(&o);
    return rc ? -1 : 0;
}

int vkb_vk_op_add_layernorm(vkb_vk_ctx *c, int f16, const float *x,
                            const float *r, const float *g, const float *beta,
                            float *y, int rows, int dim, float eps, vkb_error *err) {
    op_run o;
    int rc = op_begin(&o, c, f16, 64, err);
    vkb_vk_bind bind[6];
    vkb_vk_buffer *yb = NULL;
    float *zr = NULL;
    if (!rc && !r) {
        zr = calloc((size_t)rows * dim, sizeof *zr);
        if (!zr) rc = vkb_fail(err, "out of memory");
    }
    rc = rc || !op_buf(&o, x, NULL, (size_t)rows * dim, &bind[0], err);
    rc = rc || !op_buf(&o, r ? r : zr, NULL, (size_t)rows * dim, &bind[1], err);
    rc = rc || !op_buf(&o, g, NULL, (size_t)dim, &bind[3], err);
    rc = rc || !op_buf(&o, beta, NULL, (size_t)dim, &bind[4], err);
    rc = rc || !(yb = op_buf(&o, NULL, NULL, (size_t)rows * dim, &bind[5], err));
    bind[2] = bind[3]; /* binding 2 is unused by add_ln */
    vkb_vk_ln_pc pc = {(uint32_t)rows, (uint32_t)dim, 1, eps};
    uint32_t gr[3];
    vkb_vk_rows_groups(rows, gr);
    rc = rc || op_run_one(&o, &o.k.add_ln, bind, &pc, gr, err);
    rc = rc || op_read(&o, yb, y, (size_t)rows * dim, err);
    free(zr);
    op_end(&o);
    return rc ? -1 : 0;
}

int vkb_vk_op_embed(vkb_vk_ctx *c, int f16, const int32_t *ids, const float *word,
                    const float *pos, const float *g, const float *beta, float *x,
                    int B, int L, int dim, int vocab, int max_pos, float eps,
                    vkb_error *err) {
    for (int i = 0; i < B * L; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return vkb_fail(err, "token id %d at %d outside the vocabulary (%d)", ids[i], i, vocab);
    if (L > max_pos) return vkb_fail(err, "L=%d exceeds max_pos %d", L, max_pos);
    op_run o;
    int rc = op_begin(&o, c, f16, 64, err);
    vkb_vk_bind bind[6];
    vkb_vk_buffer *yb = NULL;
    rc = rc || !op_buf(&o, NULL, ids, (size_t)B * L, &bind[0], err);
    rc = rc || !op_buf(&o, word, NULL, (size_t)vocab * dim, &bind[1], err);
    rc = rc || !op_buf(&o, pos, NULL, (size_t)max_pos * dim, &bind[2], err);
    rc = rc || !op_buf(&o, g, NULL, (size_t)dim, &bind[3], err);
    rc = rc || !op_buf(&o, beta, NULL, (size_t)dim, &bind[4], err);
    rc = rc || !(yb = op_buf(&o, NULL, NULL, (size_t)B * L * dim, &bind[5], err));
    vkb_vk_ln_pc pc = {(uint32_t)(B * L), (uint32_t)dim, (uint32_t)L, eps};
    uint32_t gr[3];
    vkb_vk_rows_groups(B * L, gr);
    rc = rc || op_run_one(&o, &o.k.embed, bind, &pc, gr, err);
    rc = rc || op_read(&o, yb, x, (size_t)B * L * dim, err);
    op_end(&o);
    return rc ? -1 : 0;
}

int vkb_vk_op_attention(vkb_vk_ctx *c, int f16, const float *q, const float *k,
                        const float *v, float *ctx, int B, int L, int H, int hd,
                        const int32_t *lens, vkb_error *err) {
    int D = H * hd;
    size_t T = (size_t)B * L;
    /* pack q, k, v side by side, as the fused QKV projection writes them */
    float *qkv = malloc(T * 3 * D * sizeof *qkv);
    if (!qkv) return vkb_fail(err, "out of memory");
    for (size_t t = 0; t < T; t++) {
        memcpy(qkv + t * 3 * D, q + t * D, D * sizeof *qkv);
        memcpy(qkv + t * 3 * D + D, k + t * D, D * sizeof *qkv);
        memcpy(qkv + t * 3 * D + 2 * D, v + t * D, D * sizeof *qkv);
    }
    op_run o;
    int rc = op_begin(&o, c, f16, hd, err);
    vkb_vk_bind bind[3];
    vkb_vk_buffer *yb = NULL;
    rc = rc || !op_buf(&o, qkv, NULL, T * 3 * D, &bind[0], err);
    rc = rc || !op_buf(&o, NULL, lens, (size_t)B, &bind[1], err);
    rc = rc || !(yb = op_buf(&o, NULL, NULL, T * D, &bind[2], err));
    vkb_vk_attn_pc pc = {(uint32_t)L, (uint32_t)(3 * D), 0, (uint32_t)D, (uint32_t)(2 * D),
                         (uint32_t)D, 1.0f / sqrtf((float)hd)};
    uint32_t g[3];
    vkb_vk_attn_groups(B, L, H, g);
    rc = rc || op_run_one(&o, &o.k.attn, bind, &pc, g, err);
    rc = rc || op_read(&o, yb, ctx, T * D, err);
    op_end(&o);
    free(qkv);
    return rc ? -1 : 0;
}
