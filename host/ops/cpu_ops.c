/* cpu_ops.c - the CPU reference operators.
 *
 * Two paths per operator:
 *  - fp64 (the verification mode): plain loops that accumulate in double,
 *    written to be read next to the HF code;
 *  - fp32: the same math in float, with the linear layers done by OpenBLAS's
 *    cblas_sgemm, and attention, LayerNorm and GELU by the vector kernels
 *    of cpu_simd.c (fixed-order sums: the same bits on every instruction
 *    set, whatever the batch).
 * Work is split over `threads` threads (parallel.c); every task writes disjoint rows, so
 * results do not depend on the thread count. */
#define _GNU_SOURCE
#include "cpu_ops.h"
#include "parallel.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row blocks: split M rows into tasks of about `block` rows. */
static int n_blocks(int M, int block) { return (M + block - 1) / block; }

/* ---- activations ---------------------------------------------------------- */
static inline float gelu_f(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}
static inline double gelu_d(double x) {
    return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
}

/* ---- linear ----------------------------------------------------------------- */
typedef struct {
    const float *X, *W, *b;
    float *Y;
    int M, N, K, block;
    vkb_act act;
} linear_ctx;

/* fp64: Y[m,n] = act(b[n] + sum_k X[m,k] W[n,k]), accumulated in double. */
static void linear_f64_task(void *p, int task, int slot) {
    (void)slot;
    const linear_ctx *c = p;
    int m0 = task * c->block, m1 = m0 + c->block < c->M ? m0 + c->block : c->M;
    for (int m = m0; m < m1; m++) {
        const float *x = c->X + (size_t)m * c->K;
        for (int n = 0; n < c->N; n++) {
            const float *w = c->W + (size_t)n * c->K;
            double s = c->b ? c->b[n] : 0.0;
            for (int k = 0; k < c->K; k++) s += (double)x[k] * (double)w[k];
            if (c->act == VKB_ACT_GELU) s = gelu_d(s);
            else if (c->act == VKB_ACT_RELU) s = s > 0 ? s : 0;
            c->Y[(size_t)m * c->N + n] = (float)s;
        }
    }
}

/* fp32 epilogue after sgemm: bias and activation, in place. */
static void bias_act_task(void *p, int task, int slot) {
    (void)slot;
    const linear_ctx *c = p;
    int m0 = task * c->block, m1 = m0 + c->block < c->M ? m0 + c->block : c->M;
    for (int m = m0; m < m1; m++) {
        float *y = c->Y + (size_t)m * c->N;
        if (c->b)
            for (int n = 0; n < c->N; n++) y[n] += c->b[n];
        if (c->act == VKB_ACT_GELU)
            for (int n = 0; n < c->N; n++) y[n] = gelu_f(y[n]);
        else if (c->act == VKB_ACT_RELU)
            for (int n = 0; n < c->N; n++) y[n] = y[n] > 0 ? y[n] : 0;
    }
}

void vkb_cpu_linear(const float *X, const float *W, const float *b, float *Y,
                    int M, int N, int K, vkb_act act, int fp64, int threads) {
    if (M <= 0 || N <= 0) return;
    linear_ctx c = {X, W, b, Y, M, N, K, 0, act};
    if (fp64) {
        c.block = 8;
        int nb = n_blocks(M, c.block);
        vkb_parallel_run(vkb_parallel_slots(threads, nb), nb, linear_f64_task, &c);
        return;
    }
    if (K <= 0) {
        memset(Y, 0, (size_t)M * N * sizeof *Y);
    } else {
        /* Y = X * W^T: X is [M,K] row-major, W is [N,K] row-major. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, X, K,
                    W, K, 0.0f, Y, N);
    }
    if (!b && act == VKB_ACT_NONE) return;
    c.block = 64;
    int nb = n_blocks(M, c.block);
    vkb_parallel_run(vkb_parallel_slots(threads, nb), nb, bias_act_task, &c);
}

/* ---- LayerNorm ---------------------------------------------------------------
 * HF: (h - mean) / sqrt(var + eps) * g + beta, biased variance over dim. */
static void layernorm_row(const float *x, const float *r, const float *g,
                          const float *beta, float *y, int dim, float eps,
                          int fp64) {
    if (fp64) {
        double mean = 0, var = 0;
        for (int i = 0; i < dim; i++) mean += (double)x[i] + (r ? (double)r[i] : 0.0);
        mean /= dim;
        for (int i = 0; i < dim; i++) {
            double d = (double)x[i] + (r ? (double)r[i] : 0.0) - mean;
            var += d * d;
        }
        var /= dim;
        double inv = 1.0 / sqrt(var + (double)eps);
        for (int i = 0; i < dim; i++) {
            double d = (double)x[i] + (r ? (double)r[i] : 0.0) - mean;
            y[i] = (float)(d * inv * g[i] + beta[i]);
        }
        return;
    }
    /* fp32: cpu_simd.c (sums in double, 16 partial sums in a fixed order; it
     * costs nothing next to the GEMMs and keeps the fp32 path's error at the
     * rounding of its storage) */
    vkb_cpu_layernorm_row(x, r, g, beta, y, dim, eps, VKB_CPU_SIMD_AUTO);
}

void vkb_cpu_add_layernorm(const float *x, const float *r, const float *g,
                           const float *beta, float *y, int rows, int dim,
                           float eps, int fp64) {
    for (int m = 0; m < rows; m++)
        layernorm_row(x + (size_t)m * dim, r ? r + (size_t)m * dim : NULL, g, beta,
                      y + (size_t)m * dim, dim, eps, fp64);
}

void vkb_cpu_embed(const int32_t *ids, const float *word, const float *pos,
                   const float *g, const float *beta, float *x, int B, int L,
                   int dim, float eps, int fp64) {
    for (int b = 0; b < B; b++)
        for (int p = 0; p < L; p++) {
            size_t row = (size_t)b * L + p;
            layernorm_row(word + (size_t)ids[row] * dim, pos + (size_t)p * dim, g, beta,
                          x + row * dim, dim, eps, fp64);
        }
}

/* ---- attention ------------------------------------------------------------ */
typedef struct {
    const float *q, *k, *v;
    float *ctx;
    int B, L, nq, H, hd; /* nq: the first nq queries of each sequence */
    size_t ld; /* row stride of q, k and v (H*hd, or 3*H*hd for a fused q|k|v) */
    const int32_t *lens;
    int fp64;
    float *scratch;   /* per slot, vkb_cpu_attn_head_scratch() floats (fp32) */
    double *dscratch; /* per slot: one score row [L] (fp64) */
    size_t scratch_per, dscratch_per;
} attn_ctx;

/* fp64 reference: for each query i, s_j = q_i.k_j / sqrt(hd) over the n
 * valid keys, softmax, ctx_i = sum_j p_j v_j; all sums in double. */
static void attn_f64(const attn_ctx *c, int b, int h, double *s) {
    int L = c->L, n = c->lens[b];
    size_t D = c->ld, DC = (size_t)c->H * c->hd;
    double scale = 1.0 / sqrt((double)c->hd);
    for (int i = 0; i < c->nq; i++) {
        const float *qi = c->q + ((size_t)b * L + i) * D + (size_t)h * c->hd;
        float *ci = c->ctx + ((size_t)b * L + i) * DC + (size_t)h * c->hd;
        double mx = -INFINITY;
        for (int j = 0; j < n; j++) {
            const float *kj = c->k + ((size_t)b * L + j) * D + (size_t)h * c->hd;
            double d = 0;
            for (int e = 0; e < c->hd; e++) d += (double)qi[e] * (double)kj[e];
            s[j] = d * scale;
            if (s[j] > mx) mx = s[j];
        }
        double sum = 0;
        for (int j = 0; j < n; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
        for (int e = 0; e < c->hd; e++) {
            double a = 0;
            for (int j = 0; j < n; j++)
                a += s[j] * (double)c->v[((size_t)b * L + j) * D + (size_t)h * c->hd + e];
            ci[e] = n > 0 ? (float)(a / sum) : 0.0f;
        }
    }
}

/* fp32: vkb_cpu_attn_head (cpu_simd.c): queries 32 at a time, transposed
 * scores so the softmax is vertical, register-tiled FMA products; keys and
 * values read in place. */
static void attn_f32(const attn_ctx *c, int b, int h, float *scratch) {
    size_t D = c->ld, DC = (size_t)c->H * c->hd, o = (size_t)b * c->L * D + (size_t)h * c->hd;
    vkb_cpu_attn_head(c->q + o, c->k + o, c->v + o, D,
                      c->ctx + (size_t)b * c->L * DC + (size_t)h * c->hd, DC, c->L, c->nq, c->lens[b],
                      c->hd, scratch, VKB_CPU_SIMD_AUTO);
}

/* One task = one (sequence, head); scratch is per thread slot. */
static void attn_task(void *p, int task, int slot) {
    const attn_ctx *c = p;
    int b = task / c->H, h = task % c->H;
    if (c->fp64) attn_f64(c, b, h, c->dscratch + (size_t)slot * c->dscratch_per);
    else {
        attn_f32(c, b, h, c->scratch + (size_t)slot * c->scratch_per);
    }
}

static int attention(const float *q, const float *k, const float *v, size_t ld, float *ctx,
                     int B, int L, int nq, int H, int hd, const int32_t *lens, int fp64,
                     int threads, vkb_team *team);

int vkb_cpu_attention(const float *q, const float *k, const float *v,
                      float *ctx, int B, int L, int H, int hd,
                      const int32_t *lens, int fp64, int threads) {
    if (B <= 0 || L <= 0 || H <= 0 || hd <= 0) return 0;
    return attention(q, k, v, (size_t)H * hd, ctx, B, L, L, H, hd, lens, fp64, threads, NULL);
}

/* Both entry points: threads per call (team NULL) or the team's. */
static int attention(const float *q, const float *k, const float *v, size_t ld, float *ctx,
                     int B, int L, int nq, int H, int hd, const int32_t *lens, int fp64,
                     int threads, vkb_team *team) {
    attn_ctx c = {q, k, v, ctx, B, L, nq < L ? nq : L, H, hd, ld, lens, fp64, NULL, NULL, 0, 0};
    int tasks = B * H;
    int slots = team ? vkb_team_slots(team) : vkb_parallel_slots(threads, tasks);
    if (slots > tasks) slots = tasks;
    /* Scratch per slot: padded keys, values, scores and output rows (fp32),
     * or one score row in double (fp64); about 1.3 MB at L=512, hd=64.  On
     * allocation failure we retry with one slot, and failing that return -1
     * (ctx untouched) for the caller to report. */
    c.scratch_per = vkb_cpu_attn_head_scratch(L, hd);
    c.dscratch_per = (size_t)L;
    void *mem = fp64 ? malloc((size_t)slots * c.dscratch_per * sizeof(double))
                     : malloc((size_t)slots * c.scratch_per * sizeof(float));
    if (!mem && slots > 1) {
        slots = 1;
        mem = fp64 ? malloc(c.dscratch_per * sizeof(double)) : malloc(c.scratch_per * sizeof(float));
    }
    if (!mem) return -1;
    if (fp64) c.dscratch = mem; else c.scratch = mem;
    if (team && slots > 1) vkb_team_run(team, tasks, attn_task, &c);
    else vkb_parallel_run(slots, tasks, attn_task, &c);
    free(mem);
    return 0;
}

int vkb_cpu_attention_fast(const float *qkv, size_t ld, float *ctx, int B, int L, int nq, int H,
                           int hd, const int32_t *lens, vkb_team *team) {
    if (B <= 0 || L <= 0 || nq <= 0 || H <= 0 || hd <= 0) return 0;
    size_t D = (size_t)H * hd;
    return attention(qkv, qkv + D, qkv + 2 * D, ld, ctx, B, L, nq, H, hd, lens, 0, 1, team);
}

/* ---- the fast fp32 path's elementwise operators ----------------------------------
 * GELU without a libm call per element (cpu_simd.c): erf from Abramowitz &
 * Stegun 7.1.26 (|error| <= 1.5e-7), written for x < 0 as erfc so the small
 * results of the negative side keep their relative accuracy, e^-z^2 by a
 * Cody-Waite reduction and a degree-7 polynomial; vectorized per ISA. */
static void gelu_span(float *y, size_t n) { vkb_cpu_gelu_span(y, n, VKB_CPU_SIMD_AUTO); }

void vkb_cpu_gelu_fast(float *y, size_t n) { gelu_span(y, n); }

typedef struct {
    const float *X, *W, *b, *R; /* W: packed (vkb_cpu_pack_weights) */
    float *Y;
    int M, N, K;
    size_t ldx, ldr, ldy;
    vkb_act act;
    const float *ln_g, *ln_b; /* LayerNorm after the sum, or NULL */
    float eps;
} fast_linear_ctx;

/* The epilogue inside the GEMM's tasks (vkb_gemm_epilogue), on outputs
 * still in cache: b and R are added by the GEMM before it stores a tile;
 * then per finished block the activation, per finished row the LayerNorm.
 * Each element's arithmetic depends on its column only (a block's columns
 * start at a multiple of 32, so which take gelu_span's vector body and which
 * its scalar tail is the same as over the whole row): a sequence's result
 * does not depend on the batch around it. */
static void epilogue_tile(void *p, int m0, int rows, int n0, int cols) {
    const fast_linear_ctx *c = p;
    for (int m = m0; m < m0 + rows; m++) {
        float *y = c->Y + (size_t)m * c->ldy + n0;
        if (c->act == VKB_ACT_GELU) gelu_span(y, (size_t)cols);
        else if (c->act == VKB_ACT_RELU)
            for (int i = 0; i < cols; i++) y[i] = y[i] > 0 ? y[i] : 0;
    }
}

static void epilogue_rows(void *p, int m0, int m1) {
    const fast_linear_ctx *c = p;
    for (int m = m0; m < m1; m++) {
        float *y = c->Y + (size_t)m * c->ldy;
        layernorm_row(y, NULL, c->ln_g, c->ln_b, y, c->N, c->eps, 0);
    }
}

/* The GEMM (cpu_gemm.c: packed weights, one FMA chain per output, so a row's
 * bits do not depend on the batch) with the epilogue in its tasks. */
static void linear_fast(fast_linear_ctx *c, vkb_team *team) {
    if (c->M <= 0 || c->N <= 0) return;
    vkb_gemm_epilogue e = {c->b, c->R, c->ldr, c->act != VKB_ACT_NONE ? epilogue_tile : NULL,
                           c->ln_g ? epilogue_rows : NULL, c};
    vkb_cpu_gemm_packed_ex(c->X, c->ldx, c->W, c->Y, c->ldy, c->M, c->N, c->K, &e, team,
                           VKB_CPU_GEMM_AUTO);
}

void vkb_cpu_linear_fast(const float *X, size_t ldx, const float *P, const float *b,
                         const float *R, size_t ldr, float *Y, size_t ldy, int M, int N, int K,
                         vkb_act act, vkb_team *team) {
    fast_linear_ctx c = {X, P, b, R, Y, M, N, K, ldx, ldr, ldy, act, NULL, NULL, 0.0f};
    linear_fast(&c, team);
}

void vkb_cpu_linear_ln_fast(const float *X, size_t ldx, const float *P, const float *b,
                           const float *R, size_t ldr, const float *g, const float *beta,
                           float eps, float *Y, int M, int N, int K, vkb_team *team) {
    fast_linear_ctx c = {X, P, b, R, Y, M, N, K, ldx, ldr, (size_t)N, VKB_ACT_NONE, g, beta, eps};
    linear_fast(&c, team);
}

typedef struct {
    const int32_t *ids;
    const float *word, *pos, *g, *beta;
    float *x;
    int L, dim, rows, block;
    float eps;
} fast_ln_ctx;

static void ln_task(void *p, int task, int slot) {
    (void)slot;
    const fast_ln_ctx *c = p;
    int m0 = task * c->block, m1 = m0 + c->block < c->rows ? m0 + c->block : c->rows;
    for (int m = m0; m < m1; m++) {
        float *x = c->x + (size_t)m * c->dim;
        if (c->ids) /* embedding: word[ids] + pos */
            layernorm_row(c->word + (size_t)c->ids[m] * c->dim, c->pos + (size_t)(m % c->L) * c->dim,
                          c->g, c->beta, x, c->dim, c->eps, 0);
        else
            layernorm_row(x, NULL, c->g, c->beta, x, c->dim, c->eps, 0);
    }
}

void vkb_cpu_layernorm_fast(float *x, const float *g, const float *beta, int rows, int dim,
                            float eps, vkb_team *team) {
    fast_ln_ctx c = {NULL, NULL, NULL, g, beta, x, 1, dim, rows, 16, eps};
    vkb_team_run(team, n_blocks(rows, c.block), ln_task, &c);
}

void vkb_cpu_embed_fast(const int32_t *ids, const float *word, const float *pos, const float *g,
                        const float *beta, float *x, int B, int L, int dim, float eps,
                        vkb_team *team) {
    fast_ln_ctx c = {ids, word, pos, g, beta, x, L, dim, B * L, 16, eps};
    vkb_team_run(team, n_blocks(B * L, c.block), ln_task, &c);
}
