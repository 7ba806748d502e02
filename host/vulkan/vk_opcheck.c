/* vk_opcheck.c - the op test matrix behind `vkbert check --ops` and the
 * test_vk_opcheck ctest (vkbert.h documents the API).  Cases are data: one
 * table of shapes per op, each run for every kernel variant of the op and
 * both storage precisions, with the variant forced through the device
 * policy (vk_policy.c) - so a CPU implementation such as lavapipe also runs
 * the shared-memory LayerNorm and attention that GPUs use, and every GEMM
 * form (linear.comp's scalar configurations run the same tiling, buffering,
 * bounds and epilogue code as its coopmat ones; tiled_cs and tiled_cl are
 * the coopmat_s and coopmat_l tiles themselves, stages and fp16 shared
 * layout included, with the scalar inner product).  A variant the device
 * cannot run is reported as skipped, with the policy's reason. */
#include "vk_internal.h"
#include "error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_LINEAR, OP_ADD_LAYERNORM, OP_EMBED, OP_ATTENTION } op_kind;
static const char *const op_names[] = {"linear", "add_layernorm", "embed", "attention"};

/* One shape of an op:
 *   linear:        M, N, K, lda, act, bias, residual (X rows of lda values, K used;
 *                  residual: + R[M,N] after the activation, the output projections)
 *   add_layernorm: rows, dim, residual
 *   embed:         B, L, dim, vocab, max_pos
 *   attention:     B, L, heads, head_dim      (lengths L, (L+1)/2, 1, ...) */
typedef struct op_case { op_kind op; int v[7]; } op_case;

static const op_case cases[] = {
    {OP_LINEAR, {77, 130, 100, 100, VKB_ACT_GELU, 1}},
    {OP_LINEAR, {5, 3, 7, 7, VKB_ACT_NONE, 0}},
    {OP_LINEAR, {65, 129, 36, 36, VKB_ACT_RELU, 1}},
    {OP_LINEAR, {130, 77, 768, 768, VKB_ACT_NONE, 1}},
    {OP_LINEAR, {5, 131, 96, 288, VKB_ACT_RELU, 1}}, /* the classifier head: lda = L*dim */
    {OP_LINEAR, {1, 1, 1, 1, VKB_ACT_GELU, 1}},
    {OP_LINEAR, {77, 130, 100, 100, VKB_ACT_NONE, 1, 1}},  /* residual epilogue */
    {OP_LINEAR, {131, 67, 52, 52, VKB_ACT_GELU, 0, 1}},
    {OP_LINEAR, {33, 768, 3072, 3072, VKB_ACT_NONE, 1, 1}}, /* FFN lin2's K */
    /* several 256x128 tiles (coopmat_l, tiled_cl), each partial at the
     * edge, K % 32 != 0 and K % 4 != 0 (checked loads) */
    {OP_LINEAR, {300, 259, 70, 70, VKB_ACT_GELU, 1, 1}},
    {OP_ADD_LAYERNORM, {37, 100, 1}},
    {OP_ADD_LAYERNORM, {3, 768, 1}},
    {OP_ADD_LAYERNORM, {5, 13, 0}},
    {OP_ADD_LAYERNORM, {1, 1, 1}},
    {OP_ADD_LAYERNORM, {130, 257, 1}},
    {OP_ADD_LAYERNORM, {130, 257, 0}},   /* nores: the forward pass's LayerNorm */
    {OP_EMBED, {3, 7, 48, 50, 10}},
    {OP_EMBED, {2, 5, 13, 7, 5}},
    {OP_ATTENTION, {2, 1, 2, 32}},
    {OP_ATTENTION, {3, 7, 2, 64}},
    {OP_ATTENTION, {3, 129, 2, 32}},
    {OP_ATTENTION, {2, 200, 3, 16}},
    {OP_ATTENTION, {1, 77, 1, 64}},
    /* flash attention's tiles: odd L with padding, head dims 32, 64, 128,
     * partial query and key tiles, the longest L (max positions) */
    {OP_ATTENTION, {3, 67, 2, 128}},
    {OP_ATTENTION, {3, 45, 3, 32}},
    {OP_ATTENTION, {2, 512, 1, 64}},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

static const char *const act_names[] = {"", " gelu", " relu"};

/* ---- helpers ---- */

typedef struct rng { uint64_t s; } rng;
static float *rnd(rng *r, size_t n, float scale, int f16) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) return NULL;
    for (size_t i = 0; i < n; i++) {
        r->s ^= r->s << 13; r->s ^= r->s >> 7; r->s ^= r->s << 17;
        x[i] = scale * (float)((double)(r->s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        if (f16) x[i] = vkb_f16_to_f32(vkb_f32_to_f16(x[i])); /* both sides see the same operands */
    }
    return x;
}

/* max |a - b| / (1 + |b|) over n values at stride 1; NaN gives inf */
double vkb_vk_norm_error(const float *a, const float *b, size_t n, double e) {
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= e)) e = isnan(d) ? INFINITY : d;
    }
    return e;
}

/* Is `name` in the comma-separated list (NULL or "" = everything)? */
static int in_list(const char *list, const char *name) {
    if (!list || !*list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

/* ---- the ops: each fills r->error, or returns -1 with err ---- */

static int run_linear(vkb_vk_ctx *c, const vkb_vk_policy *pol, const int *v, rng *g,
                      vkb_op_result *r, vkb_error *err) {
    int M = v[0], N = v[1], K = v[2], lda = v[3], f16 = pol->f16;
    vkb_act act = (vkb_act)v[4];
    size_t nx = (size_t)(M - 1) * lda + K;
    float *X = rnd(g, nx, 1.0f, f16), *W = rnd(g, (size_t)N * K, 1.0f, f16);
    float *b = v[5] ? rnd(g, (size_t)N, 1.0f, f16) : NULL;
    float *Xc = malloc((size_t)M * K * sizeof *Xc), *Y = malloc((size_t)M * N * sizeof *Y);
    float *R = malloc((size_t)M * N * sizeof *R);
    float *res = v[6] ? rnd(g, (size_t)M * N, 1.0f, f16) : NULL;
    vkb_vk_kernels k;
    int have_k = 0, rc = 0;
    if (!X || !W || (v[5] && !b) || !Xc || !Y || !R || (v[6] && !res)) { rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); goto done; }
    rc = vkb_vk_kernels_create(c, pol, 64, &k, err);
    have_k = !rc;
    if (!rc) rc = vkb_vk_gemm_pipe_ensure(c, &k, pol->gemm, err);
    vkb_vk_gemm_case t = {M, N, K, lda, act, 0, res};
    if (!rc) rc = vkb_vk_gemm_host(c, &k, pol->gemm, &t, X, W, b, Y, 0, 0, NULL, err);
    if (!rc) {
        for (int m = 0; m < M; m++) memcpy(Xc + (size_t)m * K, X + (size_t)m * lda, (size_t)K * sizeof *X);
        vkb_cpu_linear(Xc, W, b, R, M, N, K, act, 1, 1);
        for (size_t i = 0; res && i < (size_t)M * N; i++) R[i] += res[i];
        r->error = vkb_vk_norm_error(Y, R, (size_t)M * N, 0);
    }
done:
    if (have_k) vkb_vk_kernels_destroy(c, &k);
    free(X); free(W); free(b); free(Xc); free(Y); free(R); free(res);
    return rc ? -1 : 0;
}

static int run_add_layernorm(vkb_vk_ctx *c, const vkb_vk_policy *pol, const int *v, rng *g,
                             vkb_op_result *r, vkb_error *err) {
    int rows = v[0], dim = v[1], f16 = pol->f16;
    size_t n = (size_t)rows * dim;
    float *x = rnd(g, n, 2.0f, f16), *res = v[2] ? rnd(g, n, 2.0f, f16) : NULL;
    float *gm = rnd(g, (size_t)dim, 1.0f, f16), *bt = rnd(g, (size_t)dim, 1.0f, f16);
    float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
    int rc = 0;
    if (!x || (v[2] && !res) || !gm || !bt || !y || !ref) rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    if (!rc) rc = vkb_vk_op_add_layernorm(c, f16, pol->ln, x, res, gm, bt, y, rows, dim, 1e-12f, err);
    if (!rc) {
        vkb_cpu_add_layernorm(x, res, gm, bt, ref, rows, dim, 1e-12f, 1);
        r->error = vkb_vk_norm_error(y, ref, n, 0);
    }
    free(x); free(res); free(gm); free(bt); free(y); free(ref);
    return rc ? -1 : 0;
}

static int run_embed(vkb_vk_ctx *c, const vkb_vk_policy *pol, const int *v, rng *g,
                     vkb_op_result *r, vkb_error *err) {
    int B = v[0], L = v[1], dim = v[2], vocab = v[3], max_pos = v[4], f16 = pol->f16;
    size_t n = (size_t)B * L * dim;
    int32_t *ids = malloc((size_t)B * L * sizeof *ids);
    float *word = rnd(g, (size_t)vocab * dim, 1.0f, f16), *pos = rnd(g, (size_t)max_pos * dim, 1.0f, f16);
    float *gm = rnd(g, (size_t)dim, 1.0f, f16), *bt = rnd(g, (size_t)dim, 1.0f, f16);
    float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
    int rc = 0;
    if (!ids || !word || !pos || !gm || !bt || !y || !ref) rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    for (int i = 0; !rc && i < B * L; i++) ids[i] = (int32_t)((i * 7919u + 13u) % (unsigned)vocab);
    if (!rc)
        rc = vkb_vk_op_embed(c, f16, pol->ln, ids, word, pos, gm, bt, y, B, L, dim, vocab, max_pos,
                             1e-12f, err);
    if (!rc) {
        vkb_cpu_embed(ids, word, pos, gm, bt, ref, B, L, dim, 1e-12f, 1);
        r->error = vkb_vk_norm_error(y, ref, n, 0);
    }
    free(ids); free(word); free(pos); free(gm); free(bt); free(y); free(ref);
    return rc ? -1 : 0;
}

static int run_attention(vkb_vk_ctx *c, const vkb_vk_policy *pol, const int *v, rng *g,
                         vkb_op_result *r, vkb_error *err) {
    int B = v[0], L = v[1], H = v[2], hd = v[3], f16 = pol->f16;
    size_t n = (size_t)B * L * H * hd;
    float *q = rnd(g, n, 2.0f, f16), *k = rnd(g, n, 2.0f, f16), *vv = rnd(g, n, 1.0f, f16);
    float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
    int32_t *lens = malloc((size_t)B * sizeof *lens);
    int rc = 0;
    if (!q || !k || !vv || !y || !ref || !lens) rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    /* full, half and single-token sequences: padded keys must be masked */
    for (int b = 0; !rc && b < B; b++) lens[b] = b % 3 == 0 ? L : b % 3 == 1 ? (L + 1) / 2 : 1;
    if (!rc) rc = vkb_vk_op_attention(c, f16, pol->attn, q, k, vv, y, B, L, H, hd, lens, err);
    if (!rc) {
        vkb_cpu_attention(q, k, vv, ref, B, L, H, hd, lens, 1, 1);
        /* rows of real (unpadded) query positions only: padded rows never
         * reach the logits */
        double e = 0;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < lens[b]; p++) {
                size_t o = ((size_t)b * L + p) * H * hd;
                e = vkb_vk_norm_error(y + o, ref + o, (size_t)H * hd, e);
            }
        r->error = e;
    }
    free(q); free(k); free(vv); free(y); free(ref); free(lens);
    return rc ? -1 : 0;
}

/* Tolerances.  fp16: the output's fp16 rounding (~5e-4 relative) plus
 * accumulation order.  fp32: accumulation-order differences; for the GEMM
 * they grow with K (~K * 6e-8 relative to |y| ~ sqrt(K)). */
static double tolerance(op_kind op, const int *v, int f16) {
    if (f16) return 2e-3;
    switch (op) {
    case OP_LINEAR: return 2e-5 * sqrt((double)v[2]);
    case OP_ATTENTION: return 1e-5;
    default: return 2e-5;
    }
}

double vkb_vk_op_tolerance(const char *op, int K, int f16) {
    int v[7] = {0, 0, K};
    return tolerance(strcmp(op, "attention") == 0 ? OP_ATTENTION : OP_LINEAR, v, f16);
}

static void shape_str(const op_case *t, char *s, size_t n) {
    const int *v = t->v;
    switch (t->op) {
    case OP_LINEAR:
        if (v[3] != v[2]) snprintf(s, n, "M=%d N=%d K=%d lda=%d%s%s%s", v[0], v[1], v[2], v[3],
                                   act_names[v[4]], v[5] ? "" : " nobias", v[6] ? " +res" : "");
        else snprintf(s, n, "M=%d N=%d K=%d%s%s%s", v[0], v[1], v[2], act_names[v[4]],
                      v[5] ? "" : " nobias", v[6] ? " +res" : "");
        break;
    case OP_ADD_LAYERNORM: snprintf(s, n, "rows=%d dim=%d%s", v[0], v[1], v[2] ? "" : " nores"); break;
    case OP_EMBED: snprintf(s, n, "B=%d L=%d dim=%d vocab=%d", v[0], v[1], v[2], v[3]); break;
    case OP_ATTENTION: snprintf(s, n, "B=%d L=%d H=%d hd=%d", v[0], v[1], v[2], v[3]); break;
    }
}

int vkb_op_check(const vkb_op_check_opts *opts, vkb_op_result_fn fn, void *ctx, int counts[3],
                 vkb_error *err) {
    static const vkb_op_check_opts def = {0};
    if (!opts) opts = &def;
    if (counts) counts[0] = counts[1] = counts[2] = 0;
    /* filters must name something, so a typo does not pass as "nothing failed" */
    static const char *const all_variants =
        "tiled,texel,coopmat,tiled_s,coopmat_s,coopmat_l,tiled_cs,tiled_cl,shared,subgroup,flash";
    const char *lists[3] = {opts->op, opts->variant, opts->precision};
    const char *known[3] = {"linear,add_layernorm,embed,attention", all_variants, "fp32,fp16"};
    const char *what[3] = {"op", "variant", "precision"};
    for (int i = 0; i < 3; i++) {
        const char *p = lists[i];
        while (p && *p) {
            const char *q = strchr(p, ',');
            size_t len = q ? (size_t)(q - p) : strlen(p);
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)(len < 31 ? len : 31), p);
            if (!len || !in_list(known[i], name))
                return vkb_fail(err, "unknown %s '%s' (expected one of %s)", what[i], name, known[i]);
            p = q ? q + 1 : p + len;
        }
    }
    vkb_vk_ctx *c = NULL;
    if (vkb_vk_ctx_create(opts->device ? opts->device : "gpu", opts->validation, &c, err)) return -1;
    int stop = 0;
    for (int ci = 0; ci < N_CASES && !stop; ci++) {
        const op_case *t = &cases[ci];
        if (!in_list(opts->op, op_names[t->op])) continue;
        for (int f16 = 0; f16 <= 1 && !stop; f16++) {
            if (!in_list(opts->precision, f16 ? "fp16" : "fp32")) continue;
            /* linear: every vkb_gemm_variant but AUTO; attention: shared, subgroup, flash */
            int nvar = t->op == OP_LINEAR ? VKB_GEMM_NVARIANTS - 1 : t->op == OP_ATTENTION ? 3 : 2;
            for (int vi = 1; vi <= nvar && !stop; vi++) {
                vkb_vulkan_opts vo = {0};
                vo.coopmat = opts->coopmat;
                vkb_op_result r;
                memset(&r, 0, sizeof r);
                r.op = op_names[t->op];
                r.precision = f16 ? "fp16" : "fp32";
                if (t->op == OP_LINEAR) {
                    vo.gemm = (vkb_gemm_variant)vi;
                    r.variant = vkb_gemm_variant_name(vo.gemm);
                } else if (t->op == OP_ATTENTION) {
                    vo.attention = (vkb_attn_variant)vi;
                    r.variant = vkb_attn_variant_name(vo.attention);
                } else {
                    vo.layernorm = (vkb_ln_variant)vi;
                    r.variant = vkb_ln_variant_name(vo.layernorm);
                }
                if (!in_list(opts->variant, r.variant)) continue;
                shape_str(t, r.shape, sizeof r.shape);
                r.tolerance = tolerance(t->op, t->v, f16);
                vkb_vk_policy pol;
                vkb_error e = {0};
                rng g = {0x9E3779B97F4A7C15ull ^ (uint64_t)(ci * 2 + f16 + 1) * 0xD1B54A32D192ED03ull};
                if (vkb_vk_policy_for_ctx(c, f16 ? VKB_PREC_FP16 : VKB_PREC_FP32, &vo, &pol, &e)) {
                    r.status = VKB_OP_SKIP;
                    snprintf(r.note, sizeof r.note, "%.250s", e.msg);
                } else if (pol.gemm == VKB_GEMM_TEXEL && t->op == OP_LINEAR &&
                           !vkb_vk_texel_ok(t->v[2], t->v[3])) {
                    r.status = VKB_OP_SKIP;
                    snprintf(r.note, sizeof r.note, "texel GEMM needs K and lda multiples of 4 "
                             "(the backend runs tiled there)");
                } else {
                    int rc = t->op == OP_LINEAR          ? run_linear(c, &pol, t->v, &g, &r, &e)
                             : t->op == OP_ADD_LAYERNORM ? run_add_layernorm(c, &pol, t->v, &g, &r, &e)
                             : t->op == OP_EMBED         ? run_embed(c, &pol, t->v, &g, &r, &e)
                                                         : run_attention(c, &pol, t->v, &g, &r, &e);
                    /* the validation layer's messages belong to this case */
                    if (!rc) rc = vkb_vk_ctx_check_validation(c, &e);
                    if (rc) {
                        r.error = INFINITY;
                        snprintf(r.note, sizeof r.note, "%.250s", e.msg);
                    }
                    r.status = !rc && r.error <= r.tolerance ? VKB_OP_PASS : VKB_OP_FAIL;
                }
                if (counts) counts[r.status == VKB_OP_PASS ? 0 : r.status == VKB_OP_FAIL ? 1 : 2]++;
                if (fn && fn(ctx, &r)) stop = 1;
            }
        }
    }
    vkb_vk_ctx_release_device(c); /* messages about leaked objects arrive here */
    vkb_error e = {0};
    int leak = vkb_vk_ctx_check_validation(c, &e);
    vkb_vk_ctx_destroy(c);
    if (leak) return vkb_fail(err, "after the op checks: %s", e.msg);
    return 0;
}
