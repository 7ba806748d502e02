/* cpu_ops.c - the CPU reference operators.
 *
 * Two paths per operator:
 *  - fp64 (the verification mode): plain loops that accumulate in double,
 *    written to be read next to the HF code;
 *  - fp32: the same math in float, with the linear layers done by OpenBLAS's
 *    cblas_sgemm and attention loops laid out so the compiler
 *    vectorizes them (keys transposed per head so the inner loop is a
 *    contiguous axpy, never a float reduction that -O3 may not reorder).
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
    /* fp32: the sums are still taken in double; it costs nothing next to the
     * GEMMs and keeps the fp32 path's error at the rounding of its storage. */
    double mean = 0, var = 0;
    for (int i = 0; i < dim; i++) mean += x[i] + (r ? r[i] : 0.0f);
    mean /= dim;
    float fm = (float)mean;
    for (int i = 0; i < dim; i++) {
        float d = x[i] + (r ? r[i] : 0.0f) - fm;
        var += (double)d * d;
    }
    var /= dim;
    float inv = (float)(1.0 / sqrt(var + (double)eps));
    for (int i = 0; i < dim; i++) {
        float d = x[i] + (r ? r[i] : 0.0f) - fm;
        y[i] = d * inv * g[i] + beta[i];
    }
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
    int B, L, H, hd;
    size_t ld; /* row stride of q, k and v (H*hd, or 3*H*hd for a fused q|k|v) */
    const int32_t *lens;
    int fp64;
    float *scratch;   /* per slot, attn_f32_scratch() floats (fp32) */
    double *dscratch; /* per slot: one score row [L] (fp64) */
    size_t scratch_per, dscratch_per;
} attn_ctx;

/* fp64 reference: for each query i, s_j = q_i.k_j / sqrt(hd) over the n
 * valid keys, softmax, ctx_i = sum_j p_j v_j; all sums in double. */
static void attn_f64(const attn_ctx *c, int b, int h, double *s) {
    int L = c->L, n = c->lens[b];
    size_t D = c->ld, DC = (size_t)c->H * c->hd;
    double scale = 1.0 / sqrt((double)c->hd);
    for (int i = 0; i < L; i++) {
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

/* fp32 attention is two small matrix products per (sequence, head) with a
 * softmax between them.  They are done in 8 x 16 register tiles (8 query
 * rows x 16 keys, then 8 rows x 16 output columns), so each loaded vector
 * of keys/values feeds 8 independent FMA chains (enough to cover the FMA
 * latency; 4 chains left the AVX-512 units half idle); the tile functions are built for several
 * ISAs and picked at load time (GCC/Clang function multiversioning), so a
 * portable binary still uses AVX-512/AVX2 where the machine has them. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define VKB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VKB_CLONES
#endif
#define TJ 16 /* tile width */

#define RT 8 /* query rows per tile: RT accumulators of TJ floats (8 zmm) */

/* 8 accumulator rows of TJ = 16 floats, as GCC vector values (one zmm with
 * AVX-512, two ymm with AVX2, four xmm otherwise): written as plain loops
 * over 8 rows, GCC kept the accumulators in memory or vectorized the outer
 * loop into 68 KB of code.  Same operations per element as a loop: each
 * a[r][j] sums over e (or j) in order. */
typedef float vkb_f16 __attribute__((vector_size(TJ * sizeof(float))));
#define ACC8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ACC_DECL(r) vkb_f16 a##r = {0}; const float *row##r = rows[r];
#define ACC_STORE(r) memcpy(out + (size_t)(r) * ldo, &a##r, sizeof a##r);

/* out[r][j] = sum_e q_r[e] * kt[e*ldk + j], r < RT, j < TJ */
VKB_CLONES
static void tile_qk(const float *const *rows, const float *kt, size_t ldk, int hd, float *out,
                    size_t ldo) {
    ACC8(ACC_DECL)
    for (int e = 0; e < hd; e++) {
        vkb_f16 k;
        memcpy(&k, kt + (size_t)e * ldk, sizeof k);
#define QK_ROW(r) a##r += row##r[e] * k;
        ACC8(QK_ROW)
#undef QK_ROW
    }
    ACC8(ACC_STORE)
}

/* out[r][e] = sum_j p_r[j] * v[j*ldv + e], r < RT, e < TJ, j < n */
VKB_CLONES
static void tile_pv(const float *const *rows, const float *v, size_t ldv, int n, float *out,
                    size_t ldo) {
    ACC8(ACC_DECL)
    for (int j = 0; j < n; j++) {
        vkb_f16 w;
        memcpy(&w, v + (size_t)j * ldv, sizeof w);
#define PV_ROW(r) a##r += row##r[j] * w;
        ACC8(PV_ROW)
#undef PV_ROW
    }
    ACC8(ACC_STORE)
}

/* c ? a : b, by bit masks.  GCC (12) turns a float ?: whose operands are
 * computed only for it back into branches with the arithmetic inside, and
 * under the default -ftrapping-math it will not if-convert those where the
 * ISA has no masking: the AVX2 and default clones of the GELU and softmax
 * loops stayed scalar.  A mask blend of two computed values has no branch. */
static inline float select_f(int c, float a, float b) {
    uint32_t ua, ub, m = 0u - (uint32_t)(c != 0);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    uint32_t r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* e^v for v <= 0 without a libm call, so loops over it vectorize: Cody-Waite
 * range reduction and a degree-7 Taylor polynomial (relative error ~1e-7);
 * the softmax below and the fast GELU use it.  n = round(v / ln 2) comes
 * from adding 1.5 * 2^23, whose bits then hold n too: no float-to-int
 * conversion. */
static inline float exp_neg(float v) { /* e^v for v in [-87, 0] */
    v = select_f(v < -87.0f, -87.0f, v); /* a NaN stays one, through r and p */
    float t = v * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23 + n */
    float n = t - 12582912.0f;                         /* round(v / ln 2) */
    float r = v - n * 0.693359375f;  /* ln 2 in two parts */
    r = r + n * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t tb; /* bits of t: 0x4B400000 + n for n in [-126, 0] */
    memcpy(&tb, &t, sizeof tb);
    uint32_t bits = (tb - 0x4B400000u + 127u) << 23; /* 2^n (a NaN's p is NaN anyway) */
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    return p * sc;
}

/* p[j] = e^(s[j] - max) / sum over j < n, in place. */
VKB_CLONES
static void softmax_row(float *s, int n) {
    float mx = s[0];
    for (int j = 1; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    for (int j = 0; j < n; j++) s[j] = exp_neg(s[j] - mx);
    float sum = 0.0f;
    for (int j = 0; j < n; j++) sum += s[j];
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) s[j] *= inv;
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* Queries are taken QT at a time: the tile's scores (QT x L floats, 64 KB
 * at L = 512) stay in cache through the softmax and the PV product. */
#define QT 32

/* Scratch floats one (sequence, head) needs at length L and head size hd. */
static size_t attn_f32_scratch(int L, int hd) {
    size_t np = round_up((size_t)L, TJ), hp = round_up((size_t)hd, TJ);
    return (size_t)hd * np + np * hp + (size_t)QT * np + (size_t)QT * hp;
}

static void attn_f32(const attn_ctx *c, int b, int h, float *scratch) {
    int L = c->L, n = c->lens[b], hd = c->hd;
    size_t D = c->ld, DC = (size_t)c->H * hd;
    size_t np = round_up((size_t)n, TJ), hp = round_up((size_t)hd, TJ);
    float *kt = scratch;          /* [hd, np]: keys transposed, zero-padded */
    float *vp = kt + (size_t)hd * np; /* [np, hp]: values, zero-padded */
    float *S = vp + np * hp;      /* [QT, np]: the tile's scores, then probabilities */
    float *O = S + (size_t)QT * np; /* [QT, hp]: the tile's output rows */
    float scale = (float)(1.0 / sqrt((double)hd));
    const float *kb = c->k + (size_t)b * L * D + (size_t)h * hd;
    const float *vb = c->v + (size_t)b * L * D + (size_t)h * hd;
    const float *qb = c->q + (size_t)b * L * D + (size_t)h * hd;
    /* Only the n valid keys/values enter; padded ones never reach the sums. */
    memset(kt, 0, (size_t)hd * np * sizeof *kt);
    memset(vp, 0, np * hp * sizeof *vp);
    for (int j = 0; j < n; j++)
        for (int e = 0; e < hd; e++) {
            kt[(size_t)e * np + j] = kb[(size_t)j * D + e] * scale; /* q.k/sqrt(hd) */
            vp[(size_t)j * hp + e] = vb[(size_t)j * D + e];
        }
    for (int t0 = 0; t0 < L; t0 += QT) {
        int t1 = t0 + QT < L ? t0 + QT : L;
        for (int i0 = t0; i0 < t1; i0 += RT) {
            const float *qr[RT];
            for (int r = 0; r < RT; r++) /* rows past the tile repeat its last row; dropped below */
                qr[r] = qb + (size_t)(i0 + r < t1 ? i0 + r : t1 - 1) * D;
            for (size_t j0 = 0; j0 < np; j0 += TJ)
                tile_qk(qr, kt + j0, np, hd, S + (size_t)(i0 - t0) * np + j0, np);
        }
        for (int i = 0; i < t1 - t0; i++) softmax_row(S + (size_t)i * np, n);
        for (int i0 = t0; i0 < t1; i0 += RT) {
            const float *pr[RT];
            for (int r = 0; r < RT; r++)
                pr[r] = S + (size_t)((i0 + r < t1 ? i0 + r : t1 - 1) - t0) * np;
            for (size_t e0 = 0; e0 < hp; e0 += TJ)
                tile_pv(pr, vp + e0, hp, n, O + (size_t)(i0 - t0) * hp + e0, hp);
            for (int r = 0; r < RT && i0 + r < t1; r++)
                memcpy(c->ctx + ((size_t)b * L + i0 + r) * DC + (size_t)h * hd,
                       O + (size_t)(i0 - t0 + r) * hp, (size_t)hd * sizeof(float));
        }
    }
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
                     int B, int L, int H, int hd, const int32_t *lens, int fp64, int threads,
                     vkb_team *team);

int vkb_cpu_attention(const float *q, const float *k, const float *v,
                      float *ctx, int B, int L, int H, int hd,
                      const int32_t *lens, int fp64, int threads) {
    if (B <= 0 || L <= 0 || H <= 0 || hd <= 0) return 0;
    return attention(q, k, v, (size_t)H * hd, ctx, B, L, H, hd, lens, fp64, threads, NULL);
}

/* Both entry points: threads per call (team NULL) or the team's. */
static int attention(const float *q, const float *k, const float *v, size_t ld, float *ctx,
                     int B, int L, int H, int hd, const int32_t *lens, int fp64, int threads,
                     vkb_team *team) {
    attn_ctx c = {q, k, v, ctx, B, L, H, hd, ld, lens, fp64, NULL, NULL, 0, 0};
    int tasks = B * H;
    int slots = team ? vkb_team_slots(team) : vkb_parallel_slots(threads, tasks);
    if (slots > tasks) slots = tasks;
    /* Scratch per slot: padded keys, values, scores and output rows (fp32),
     * or one score row in double (fp64); about 1.3 MB at L=512, hd=64.  On
     * allocation failure we retry with one slot, and failing that return -1
     * (ctx untouched) for the caller to report. */
    c.scratch_per = attn_f32_scratch(L, hd);
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

int vkb_cpu_attention_fast(const float *qkv, size_t ld, float *ctx, int B, int L, int H, int hd,
                           const int32_t *lens, vkb_team *team) {
    if (B <= 0 || L <= 0 || H <= 0 || hd <= 0) return 0;
    size_t D = (size_t)H * hd;
    return attention(qkv, qkv + D, qkv + 2 * D, ld, ctx, B, L, H, hd, lens, 0, 1, team);
}

/* ---- the fast fp32 path's elementwise operators ----------------------------------
 * GELU without a libm call per element: erf from Abramowitz & Stegun 7.1.26
 * (|error| <= 1.5e-7), written for x < 0 as erfc so the small results of the
 * negative side keep their relative accuracy, with e^-z^2 by exp_neg; no
 * branches (select_f), so the loop vectorizes in every clone (built per ISA
 * like the attention tiles). */
static inline float gelu_fast(float x) {
    float z = fabsf(x) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.3275911f * z);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                 t * (-1.453152027f + t * 1.061405429f))));
    float erfc_z = poly * exp_neg(-z * z); /* erfc(|x|/sqrt 2) */
    /* x >= 0: x (1 - erfc/2);  x < 0: x erfc/2;  x > 10: x (erfc < 1e-23; +inf stays) */
    float h = 0.5f * x * erfc_z;
    float y = select_f(x < 0, h, x - h);
    return select_f(x > 10.0f, x, y);
}

VKB_CLONES
static void gelu_span(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = gelu_fast(y[i]);
}

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
