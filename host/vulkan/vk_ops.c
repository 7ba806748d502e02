/* vk_ops.c - op-level entry points: each runs one kernel on host arrays
 * (upload, dispatch, download), for the shader tests, the op matrix
 * (vk_opcheck.c, `vkbert check --ops`), the coopmat self-test and the GEMM
 * benchmarks.  They allocate on every call; the forward pass (vk_backend.c)
 * does not.  Output buffers start as NaN, so a skipped store cannot pass. */
#define _POSIX_C_SOURCE 200809L
#include "vk_internal.h"
#include "error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OP_TIMEOUT_NS (120ull * 1000000000ull)

typedef struct op_run {
    vkb_vk_ctx *c;
    vkb_vk_kernels own;        /* created by op_begin */
    const vkb_vk_kernels *k;   /* own, or the caller's (vkb_vk_gemm_host) */
    VkDescriptorPool pool;
    vkb_vk_buffer bufs[8];
    VkBufferView views[4];
    int nbufs, nviews;
    VkCommandBuffer cmd;
    /* gpu_ts: timed runs measure Vulkan timestamps around their dispatches
     * (prof.pool created on first use; wall clock when the queue has none) */
    int gpu_ts, no_ts;
    vkb_vk_prof prof;
} op_run;

static int op_setup(op_run *o, vkb_vk_ctx *c, vkb_error *err) {
    o->c = c;
    if (vkb_vk_pool_create(c, 4, 16, 8, &o->pool, err)) return -1;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = c->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkResult r = c->d.vkAllocateCommandBuffers(c->dev, &ai, &o->cmd);
    return r == VK_SUCCESS ? 0 : vkb_vk_fail(c, r, "allocating a command buffer", err);
}

/* Kernels of the device policy for precision f16 with the given forms
 * (AUTO: the policy's), then the pool and command buffer. */
static int op_begin(op_run *o, vkb_vk_ctx *c, int f16, vkb_gemm_variant gemm, vkb_ln_variant ln,
                    vkb_attn_variant attn, int hd, vkb_vk_policy *pol, vkb_error *err) {
    memset(o, 0, sizeof *o);
    o->c = c;
    o->k = &o->own;
    vkb_vulkan_opts vo = {.gemm = gemm, .layernorm = ln, .attention = attn};
    if (vkb_vk_policy_for_ctx(c, f16 ? VKB_PREC_FP16 : VKB_PREC_FP32, &vo, pol, err)) return -1;
    if (vkb_vk_kernels_create(c, pol, hd, &o->own, err)) return -1;
    return op_setup(o, c, err);
}

static void op_end(op_run *o) {
    vkb_vk_ctx *c = o->c;
    if (o->cmd) c->d.vkFreeCommandBuffers(c->dev, c->pool, 1, &o->cmd);
    vkb_vk_prof_destroy(c, &o->prof);
    for (int i = 0; i < o->nviews; i++) c->d.vkDestroyBufferView(c->dev, o->views[i], NULL);
    for (int i = 0; i < o->nbufs; i++) vkb_vk_buffer_destroy(c, &o->bufs[i]);
    if (o->pool) c->d.vkDestroyDescriptorPool(c->dev, o->pool, NULL);
    vkb_vk_kernels_destroy(c, &o->own);
}

/* A device buffer holding n values (floats packed at the storage precision,
 * or raw int32 when ints != NULL). */
static vkb_vk_buffer *op_buf(op_run *o, const float *vals, const int32_t *ints, size_t n,
                             vkb_vk_bind *bind, vkb_error *err) {
    int f16 = o->k->f16 && !ints;
    size_t es = f16 ? 2 : 4;
    if (!n) n = 1;
    vkb_vk_buffer *b = &o->bufs[o->nbufs];
    if (vkb_vk_buffer_create(o->c, n * es, VKB_MEM_DEVICE, "test operand", b, err)) return NULL;
    o->nbufs++;
    {
        void *tmp = malloc(n * es + 1);
        if (!tmp) { vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); return NULL; }
        if (ints) memcpy(tmp, ints, n * 4);
        else if (vals) vkb_vk_pack(vals, tmp, n, f16);
        else if (f16) for (size_t i = 0; i < n; i++) ((uint16_t *)tmp)[i] = 0x7e00; /* NaN */
        else for (size_t i = 0; i < n; i++) ((uint32_t *)tmp)[i] = 0x7fc00000u;
        int rc = vkb_vk_upload(o->c, b, 0, tmp, n * es, err);
        free(tmp);
        if (rc) return NULL;
    }
    *bind = (vkb_vk_bind){.buf = b->buf, .off = 0, .range = VK_WHOLE_SIZE};
    return b;
}

static int op_view(op_run *o, vkb_vk_bind *bind, vkb_error *err) {
    if (vkb_vk_view_create(o->c, bind->buf, 0, VK_WHOLE_SIZE, o->k->f16, &o->views[o->nviews], err))
        return -1;
    bind->view = o->views[o->nviews++];
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Records `reps` dispatches of p (a barrier after each) and runs them in one
 * submit; *ms (may be NULL) gets the wall time of submit + wait. */
static int op_run_n(op_run *o, const vkb_vk_pipe *p, VkDescriptorSet set, const void *push,
                    const uint32_t g[3], int reps, double *ms, vkb_error *err) {
    vkb_vk_ctx *c = o->c;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    int ts = 0;
    if (ms && o->gpu_ts && !o->no_ts && !o->prof.pool) {
        vkb_error e = {0};
        if (vkb_vk_prof_enable(c, &o->prof, &e)) o->no_ts = 1; /* no timestamps: wall clock */
    }
    ts = ms && o->gpu_ts && o->prof.pool;
    VkResult r = c->d.vkBeginCommandBuffer(o->cmd, &bi);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "recording a test dispatch", err);
    if (ts) {
        c->d.vkCmdResetQueryPool(o->cmd, o->prof.pool, 0, 2);
        c->d.vkCmdWriteTimestamp(o->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, o->prof.pool, 0);
    }
    for (int i = 0; i < reps; i++) {
        vkb_vk_dispatch(c, o->cmd, p, set, push, g[0], g[1], g[2]);
        vkb_vk_barrier(c, o->cmd);
    }
    if (ts) c->d.vkCmdWriteTimestamp(o->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, o->prof.pool, 1);
    r = c->d.vkEndCommandBuffer(o->cmd);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "recording a test dispatch", err);
    double t0 = now_ms();
    if (vkb_vk_submit_wait(c, o->cmd, OP_TIMEOUT_NS, "running a test dispatch", err)) return -1;
    if (ms) *ms = now_ms() - t0;
    if (ts) {
        uint64_t t[2];
        r = c->d.vkGetQueryPoolResults(c->dev, o->prof.pool, 0, 2, sizeof t, t, sizeof t[0],
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "reading timestamps", err);
        *ms = (double)((t[1] - t[0]) & o->prof.mask) * o->prof.period_ns * 1e-6;
    }
    return vkb_vk_ctx_check_validation(c, err);
}

static int op_run_one(op_run *o, const vkb_vk_pipe *p, const vkb_vk_bind *binds,
                      const void *push, const uint32_t g[3], vkb_error *err) {
    VkDescriptorSet set;
    if (vkb_vk_set_create(o->c, o->pool, p, binds, &set, err)) return -1;
    return op_run_n(o, p, set, push, g, 1, NULL, err);
}

static int op_read(op_run *o, vkb_vk_buffer *b, float *dst, size_t n, vkb_error *err) {
    size_t es = o->k->f16 ? 2 : 4;
    void *tmp = malloc(n * es + 1);
    if (!tmp) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    int rc = vkb_vk_download(o->c, b, 0, tmp, n * es, err);
    if (!rc) vkb_vk_unpack(tmp, dst, n, o->k->f16);
    free(tmp);
    return rc;
}

/* The GEMM harness: Y = act(X W^T + b) with the kernels k (X: M rows of
 * lda values, K used), as vkb_vk_gemm_host documents. */
static int gemm_host(vkb_vk_ctx *c, const vkb_vk_kernels *k, vkb_gemm_variant variant,
                     const vkb_vk_gemm_case *t, const float *X, const float *W, const float *b,
                     float *Y, int rounds, int reps, double *ms, int gpu_ts, vkb_error *err) {
    int M = t->M, N = t->N, K = t->K, lda = t->lda ? t->lda : t->K;
    if (M < 1 || N < 1 || K < 1 || lda < K)
        return vkb_fail(err, "GEMM M=%d N=%d K=%d lda=%d: bad shape", M, N, K, lda);
    if (variant == VKB_GEMM_TEXEL && !vkb_vk_texel_ok(K, lda))
        return vkb_fail(err, "texel GEMM needs K %% 4 == 0 and lda %% 4 == 0 (K=%d, lda=%d)", K, lda);
    if (variant <= VKB_GEMM_AUTO || variant >= VKB_GEMM_NVARIANTS)
        return vkb_fail(err, "internal: GEMM variant %d", (int)variant);
    const vkb_vk_pipe *p = vkb_vk_gemm_pipe(k, variant, M, N);
    uint32_t g[3];
    vkb_vk_gemm_groups(variant, M, N, g);
    if (variant == VKB_GEMM_COOPMAT) {
        if (!k->gemm_coop.pipe) return vkb_fail(err, "internal: coopmat GEMM without its pipelines");
        int big = t->tile ? t->tile == 128 : vkb_vk_coopmat_pipe(k, M, N) == &k->gemm_coop;
        p = big ? &k->gemm_coop : &k->gemm_coop_s;
        g[0] = (uint32_t)((N + (big ? 127 : 63)) / (big ? 128 : 64));
        g[1] = (uint32_t)((M + (big ? 127 : 63)) / (big ? 128 : 64));
    }
    if (!p || !p->pipe) return vkb_fail(err, "internal: GEMM variant %s without its pipeline",
                                        vkb_gemm_variant_name(variant));
    op_run o;
    memset(&o, 0, sizeof o);
    o.k = k;
    o.gpu_ts = gpu_ts;
    int rc = op_setup(&o, c, err);
    vkb_vk_bind bind[5];
    float *zb = NULL;
    vkb_vk_buffer *yb = NULL;
    if (!rc && !b) {
        zb = calloc((size_t)N, sizeof *zb);
        if (!zb) rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    }
    rc = rc || !op_buf(&o, X, NULL, (size_t)(M - 1) * lda + K, &bind[0], err);
    rc = rc || !op_buf(&o, W, NULL, (size_t)N * K, &bind[1], err);
    rc = rc || !op_buf(&o, b ? b : zb, NULL, (size_t)N, &bind[2], err);
    rc = rc || !(yb = op_buf(&o, NULL, NULL, (size_t)M * N, &bind[3], err));
    /* no residual: binding 4 gets the bias buffer, which the shader never reads */
    if (!rc && t->res) rc = !op_buf(&o, t->res, NULL, (size_t)M * N, &bind[4], err);
    else if (!rc) bind[4] = bind[2];
    if (!rc && variant == VKB_GEMM_TEXEL)
        rc = op_view(&o, &bind[0], err) || op_view(&o, &bind[1], err);
    vkb_vk_gemm_pc pc = {(uint32_t)M, (uint32_t)N, (uint32_t)K, (uint32_t)lda, (uint32_t)N,
                         (uint32_t)t->act, t->res != NULL};
    VkDescriptorSet set;
    rc = rc || vkb_vk_set_create(c, o.pool, p, bind, &set, err);
    rc = rc || op_run_n(&o, p, set, &pc, g, 1, NULL, err); /* the result; warms up */
    rc = rc || op_read(&o, yb, Y, (size_t)M * N, err);
    for (int r = 0; r < rounds && !rc; r++) rc = op_run_n(&o, p, set, &pc, g, reps, &ms[r], err);
    for (int r = 0; r < rounds && !rc; r++) ms[r] /= reps;
    free(zb);
    op_end(&o);
    return rc ? -1 : 0;
}

int vkb_vk_gemm_host(vkb_vk_ctx *c, const vkb_vk_kernels *k, vkb_gemm_variant variant,
                     const vkb_vk_gemm_case *t, const float *X, const float *W, const float *b,
                     float *Y, int rounds, int reps, double *ms, vkb_error *err) {
    if (rounds > 0 && (reps < 1 || !ms)) return vkb_fail(err, "internal: GEMM timing without reps");
    return gemm_host(c, k, variant, t, X, W, b, Y, rounds > 0 ? rounds : 0, reps, ms, 0, err);
}

int vkb_vk_gemm_time(vkb_vk_ctx *c, const vkb_vk_kernels *k, vkb_gemm_variant variant,
                     const vkb_vk_gemm_case *t, const float *X, const float *W, const float *b,
                     float *Y, int rounds, double *ms, vkb_error *err) {
    if (rounds < 1 || !ms) return vkb_fail(err, "internal: GEMM timing without rounds");
    return gemm_host(c, k, variant, t, X, W, b, Y, rounds, 1, ms, 1, err);
}

int vkb_vk_op_linear(vkb_vk_ctx *c, int f16, vkb_gemm_variant variant, const float *X,
                     const float *W, const float *b, float *Y, int M, int N,
                     int K, vkb_act act, vkb_error *err) {
    op_run o;
    vkb_vk_policy pol;
    int rc = op_begin(&o, c, f16, variant, VKB_LN_AUTO, VKB_ATTN_AUTO, 64, &pol, err);
    if (!rc) rc = vkb_vk_gemm_pipe_ensure(c, &o.own, pol.gemm, err);
    vkb_vk_gemm_case t = {M, N, K, K, act, 0, NULL};
    rc = rc || gemm_host(c, &o.own, pol.gemm, &t, X, W, b, Y, 0, 0, NULL, 0, err);
    op_end(&o);
    return rc ? -1 : 0;
}

int vkb_vk_op_add_layernorm(vkb_vk_ctx *c, int f16, vkb_ln_variant form, const float *x,
                            const float *r, const float *g, const float *beta,
                            float *y, int rows, int dim, float eps, vkb_error *err) {
    op_run o;
    vkb_vk_policy pol;
    int rc = op_begin(&o, c, f16, VKB_GEMM_AUTO, form, VKB_ATTN_AUTO, 64, &pol, err);
    /* r NULL: the LayerNorm without residual input (what the forward pass
     * runs after the GEMMs that added the residual) */
    vkb_vk_bind bind[5];
    vkb_vk_buffer *yb = NULL;
    int nr = r ? 1 : 0;
    rc = rc || !op_buf(&o, x, NULL, (size_t)rows * dim, &bind[0], err);
    rc = rc || (r && !op_buf(&o, r, NULL, (size_t)rows * dim, &bind[1], err));
    rc = rc || !op_buf(&o, g, NULL, (size_t)dim, &bind[1 + nr], err);
    rc = rc || !op_buf(&o, beta, NULL, (size_t)dim, &bind[2 + nr], err);
    rc = rc || !(yb = op_buf(&o, NULL, NULL, (size_t)rows * dim, &bind[3 + nr], err));
    vkb_vk_ln_pc pc = {(uint32_t)rows, (uint32_t)dim, 1, eps};
    uint32_t gr[3];
    vkb_vk_rows_groups(rows, gr);
    rc = rc || op_run_one(&o, r ? &o.own.add_ln : &o.own.ln, bind, &pc, gr, err);
    rc = rc || op_read(&o, yb, y, (size_t)rows * dim, err);
    op_end(&o);
    return rc ? -1 : 0;
}

int vkb_vk_op_embed(vkb_vk_ctx *c, int f16, vkb_ln_variant form, const int32_t *ids, const float *word,
                    const float *pos, const float *g, const float *beta, float *x,
                    int B, int L, int dim, int vocab, int max_pos, float eps,
                    vkb_error *err) {
    for (int i = 0; i < B * L; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return vkb_fail(err, "token id %d at %d outside the vocabulary (%d)", ids[i], i, vocab);
    if (L > max_pos) return vkb_fail(err, "L=%d exceeds max_pos %d", L, max_pos);
    op_run o;
    vkb_vk_policy pol;
    int rc = op_begin(&o, c, f16, VKB_GEMM_AUTO, form, VKB_ATTN_AUTO, 64, &pol, err);
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
    rc = rc || op_run_one(&o, &o.own.embed, bind, &pc, gr, err);
    rc = rc || op_read(&o, yb, x, (size_t)B * L * dim, err);
    op_end(&o);
    return rc ? -1 : 0;
}

int vkb_vk_op_attention(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                        const float *v, float *ctx, int B, int L, int H, int hd,
                        const int32_t *lens, vkb_error *err) {
    return vkb_vk_attention_host(c, f16, form, q, k, v, ctx, B, L, H, hd, lens, 0, 0, NULL, err);
}

static int attention_host(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                          const float *v, float *ctx, int B, int L, int H, int hd, const int32_t *lens,
                          int rounds, int reps, double *ms, int gpu_ts, vkb_error *err);

int vkb_vk_attention_host(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                          const float *v, float *ctx, int B, int L, int H, int hd, const int32_t *lens,
                          int rounds, int reps, double *ms, vkb_error *err) {
    return attention_host(c, f16, form, q, k, v, ctx, B, L, H, hd, lens, rounds, reps, ms, 0, err);
}

int vkb_vk_attention_time(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                          const float *v, float *ctx, int B, int L, int H, int hd, const int32_t *lens,
                          int rounds, double *ms, vkb_error *err) {
    return attention_host(c, f16, form, q, k, v, ctx, B, L, H, hd, lens, rounds, 1, ms, 1, err);
}

static int attention_host(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                          const float *v, float *ctx, int B, int L, int H, int hd, const int32_t *lens,
                          int rounds, int reps, double *ms, int gpu_ts, vkb_error *err) {
    if (rounds > 0 && (reps < 1 || !ms)) return vkb_fail(err, "attention timing: reps must be >= 1");
    int D = H * hd;
    size_t T = (size_t)B * L;
    /* pack q, k, v side by side, as the fused QKV projection writes them */
    float *qkv = malloc(T * 3 * D * sizeof *qkv);
    if (!qkv) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    for (size_t t = 0; t < T; t++) {
        memcpy(qkv + t * 3 * D, q + t * D, D * sizeof *qkv);
        memcpy(qkv + t * 3 * D + D, k + t * D, D * sizeof *qkv);
        memcpy(qkv + t * 3 * D + 2 * D, v + t * D, D * sizeof *qkv);
    }
    op_run o;
    vkb_vk_policy pol;
    int rc = op_begin(&o, c, f16, VKB_GEMM_AUTO, VKB_LN_AUTO, form, hd, &pol, err);
    o.gpu_ts = gpu_ts;
    vkb_vk_bind bind[3];
    vkb_vk_buffer *yb = NULL;
    rc = rc || !op_buf(&o, qkv, NULL, T * 3 * D, &bind[0], err);
    rc = rc || !op_buf(&o, NULL, lens, (size_t)B, &bind[1], err);
    rc = rc || !(yb = op_buf(&o, NULL, NULL, T * D, &bind[2], err));
    vkb_vk_attn_pc pc = {(uint32_t)L, (uint32_t)(3 * D), 0, (uint32_t)D, (uint32_t)(2 * D),
                         (uint32_t)D, 1.0f / sqrtf((float)hd)};
    uint32_t g[3];
    vkb_vk_attn_groups(&o.own, B, L, H, g);
    rc = rc || op_run_one(&o, &o.own.attn, bind, &pc, g, err);
    if (!rc && rounds > 0) { /* timed rounds after the result run, as gemm_host */
        VkDescriptorSet set;
        rc = vkb_vk_set_create(c, o.pool, &o.own.attn, bind, &set, err);
        for (int r = 0; !rc && r < rounds; r++) {
            rc = op_run_n(&o, &o.own.attn, set, &pc, g, reps, &ms[r], err);
            if (!rc) ms[r] /= reps;
        }
    }
    rc = rc || op_read(&o, yb, ctx, T * D, err);
    op_end(&o);
    free(qkv);
    return rc ? -1 : 0;
}
