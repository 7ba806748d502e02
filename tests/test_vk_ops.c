/* test_vk_ops.c - every shader against the CPU reference operator on random
 * inputs at odd sizes, with fp32 and (where the device has 16-bit storage)
 * fp16 storage: both GEMM forms, and the LayerNorm/attention forms the
 * device policy picks (test_vk_opcheck forces each form).  For fp16 the inputs are first rounded to fp16 so that both
 * sides see the same operands; the tolerance then covers fp16 rounding of
 * the output only.  Runs with the validation layer when VKB_VALIDATION=1 and
 * fails on any message.  Skips (77) when there is no Vulkan device. */
#include "testutil.h"
#include "vk_internal.h"
#include <math.h>
#include <string.h>

static uint64_t seed = 12345;

static float *rnd(size_t n, float scale, int f16) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    REQUIRE(x, "out of memory");
    vkb_test_rand(x, n, scale, &seed);
    if (f16)
        for (size_t i = 0; i < n; i++) x[i] = vkb_f16_to_f32(vkb_f32_to_f16(x[i]));
    return x;
}

/* max |a-b| / (1 + |b|): absolute near 0, relative for large values */
static double err_of(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(e <= m)) m = e; /* NaN counts as failure */
    }
    return m;
}

static void test_gemm(vkb_vk_ctx *c, int f16, vkb_gemm_variant variant, int M, int N, int K, vkb_act act,
                      int with_bias) {
    float *X = rnd((size_t)M * K, 1.0f, f16), *W = rnd((size_t)N * K, 1.0f, f16);
    float *b = with_bias ? rnd((size_t)N, 1.0f, f16) : NULL;
    float *Y = malloc((size_t)M * N * sizeof *Y), *R = malloc((size_t)M * N * sizeof *R);
    REQUIRE(Y && R, "out of memory");
    vkb_error err = {0};
    int rc = vkb_vk_op_linear(c, f16, variant, X, W, b, Y, M, N, K, act, &err);
    CHECK(rc == 0, "gemm: %s", err.msg);
    vkb_cpu_linear(X, W, b, R, M, N, K, act, 1, 1);
    double e = err_of(Y, R, (size_t)M * N);
    /* fp32: accumulation-order differences, ~K * 6e-8 relative to |y|~sqrt(K) */
    double tol = f16 ? 2e-3 : 2e-5 * sqrt((double)K);
    if (rc == 0)
        CHECK(e <= tol, "gemm %s %s M=%d N=%d K=%d act=%d bias=%d: err %.3g > %.3g",
              vkb_gemm_variant_name(variant), f16 ? "fp16" : "fp32", M, N, K,
              (int)act, with_bias, e, tol);
    free(X); free(W); free(b); free(Y); free(R);
}

/* The erf behind GELU, over a dense range, against the CPU's erff: K=4 with
 * X=[x,0,0,0], W=[1,0,0,0]. */
static void test_gelu_accuracy(vkb_vk_ctx *c, vkb_gemm_variant variant) {
    int M = 4001;
    float *X = calloc((size_t)M * 4, sizeof *X), W[4] = {1, 0, 0, 0};
    float *Y = malloc((size_t)M * sizeof *Y);
    REQUIRE(X && Y, "out of memory");
    for (int i = 0; i < M; i++) X[i * 4] = -10.0f + 20.0f * (float)i / (float)(M - 1);
    vkb_error err = {0};
    int rc = vkb_vk_op_linear(c, 0, variant, X, W, NULL, Y, M, 1, 4, VKB_ACT_GELU, &err);
    CHECK(rc == 0, "gelu: %s", err.msg);
    double worst = 0, at = 0;
    for (int i = 0; i < M && rc == 0; i++) {
        double x = X[i * 4], ref = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        double e = fabs(Y[i] - ref) / (1.0 + fabs(ref));
        if (!(e <= worst)) { worst = e; at = x; }
    }
    CHECK(worst <= 1e-6, "gelu (%s): max error %.3g at x=%g", vkb_gemm_variant_name(variant), worst, at);
    free(X); free(Y);
}

static void test_layernorm(vkb_vk_ctx *c, int f16, int rows, int dim, int with_r) {
    size_t n = (size_t)rows * dim;
    float *x = rnd(n, 2.0f, f16), *r = with_r ? rnd(n, 2.0f, f16) : NULL;
    float *g = rnd((size_t)dim, 1.0f, f16), *bt = rnd((size_t)dim, 1.0f, f16);
    float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
    REQUIRE(y && ref, "out of memory");
    vkb_error err = {0};
    int rc = vkb_vk_op_add_layernorm(c, f16, VKB_LN_AUTO, x, r, g, bt, y, rows, dim, 1e-12f, &err);
    CHECK(rc == 0, "layernorm: %s", err.msg);
    vkb_cpu_add_layernorm(x, r, g, bt, ref, rows, dim, 1e-12f, 1);
    double e = err_of(y, ref, n), tol = f16 ? 2e-3 : 2e-5;
    if (rc == 0)
        CHECK(e <= tol, "layernorm %s rows=%d dim=%d r=%d: err %.3g > %.3g",
              f16 ? "fp16" : "fp32", rows, dim, with_r, e, tol);
    free(x); free(r); free(g); free(bt); free(y); free(ref);
}

static void test_embed(vkb_vk_ctx *c, int f16, int B, int L, int dim, int vocab, int max_pos) {
    int32_t *ids = malloc((size_t)B * L * sizeof *ids);
    REQUIRE(ids, "out of memory");
    for (int i = 0; i < B * L; i++) ids[i] = (int32_t)((i * 7919u + 13u) % (unsigned)vocab);
    float *word = rnd((size_t)vocab * dim, 1.0f, f16), *pos = rnd((size_t)max_pos * dim, 1.0f, f16);
    float *g = rnd((size_t)dim, 1.0f, f16), *bt = rnd((size_t)dim, 1.0f, f16);
    size_t n = (size_t)B * L * dim;
    float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
    REQUIRE(y && ref, "out of memory");
    vkb_error err = {0};
    int rc = vkb_vk_op_embed(c, f16, VKB_LN_AUTO, ids, word, pos, g, bt, y, B, L, dim, vocab, max_pos, 1e-12f, &err);
    CHECK(rc == 0, "embed: %s", err.msg);
    vkb_cpu_embed(ids, word, pos, g, bt, ref, B, L, dim, 1e-12f, 1);
    double e = err_of(y, ref, n), tol = f16 ? 2e-3 : 2e-5;
    if (rc == 0)
        CHECK(e <= tol, "embed %s B=%d L=%d dim=%d: err %.3g > %.3g", f16 ? "fp16" : "fp32", B, L, dim, e, tol);
    /* an out-of-vocabulary id is an error, not an out-of-bounds read */
    ids[B * L - 1] = vocab;
    CHECK(vkb_vk_op_embed(c, f16, VKB_LN_AUTO, ids, word, pos, g, bt, y, B, L, dim, vocab, max_pos, 1e-12f, &err) != 0,
          "out-of-vocabulary id accepted");
    free(ids); free(word); free(pos); free(g); free(bt); free(y); free(ref);
}

static void test_attention(vkb_vk_ctx *c, int f16, int B, int L, int H, int hd) {
    size_t n = (size_t)B * L * H * hd;
    float *q = rnd(n, 2.0f, f16), *k = rnd(n, 2.0f, f16), *v = rnd(n, 1.0f, f16);
    float *y = malloc(n * sizeof *y), *ref = malloc(n * sizeof *ref);
    int32_t *lens = malloc((size_t)B * sizeof *lens);
    REQUIRE(y && ref && lens, "out of memory");
    /* full, half and single-token sequences: padded keys must be masked */
    for (int b = 0; b < B; b++) lens[b] = b % 3 == 0 ? L : b % 3 == 1 ? (L + 1) / 2 : 1;
    vkb_error err = {0};
    int rc = vkb_vk_op_attention(c, f16, VKB_ATTN_AUTO, q, k, v, y, B, L, H, hd, lens, &err);
    CHECK(rc == 0, "attention: %s", err.msg);
    vkb_cpu_attention(q, k, v, ref, B, L, H, hd, lens, 1, 1);
    /* only rows of real (unpadded) query positions matter; check them all */
    double e = 0;
    for (int b = 0; b < B; b++)
        for (int p = 0; p < lens[b]; p++) {
            size_t o = ((size_t)b * L + p) * H * hd;
            double ei = err_of(y + o, ref + o, (size_t)H * hd);
            if (!(ei <= e)) e = ei;
        }
    double tol = f16 ? 2e-3 : 1e-5;
    if (rc == 0)
        CHECK(e <= tol, "attention %s B=%d L=%d H=%d hd=%d: err %.3g > %.3g",
              f16 ? "fp16" : "fp32", B, L, H, hd, e, tol);
    free(q); free(k); free(v); free(y); free(ref); free(lens);
}

int main(void) {
    const char *val = getenv("VKB_VALIDATION");
    vkb_error err = {0};
    vkb_vk_ctx *c = NULL;
    if (vkb_vk_ctx_create("gpu", val && atoi(val), &c, &err)) {
        fprintf(stderr, "test_vk_ops: skipped: %s\n", err.msg);
        return VKB_SKIP;
    }
    printf("device: %s (fp16 storage: %s)\n", c->props.deviceName, c->feat.f16_storage ? "yes" : "no");
    for (int f16 = 0; f16 <= 1; f16++) {
        if (f16 && !c->feat.f16_storage) { printf("fp16 storage unsupported: fp16 cases skipped\n"); break; }
        static const int shapes[][3] = {{77, 130, 100}, {1, 1, 1}, {5, 3, 7}, {64, 64, 64},
                                        {130, 77, 101}, {33, 200, 48}, {65, 129, 3}, {2, 770, 768}, {65, 67, 3072}};
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            for (int act = 0; act < 3; act++) {
                test_gemm(c, f16, VKB_GEMM_TILED, M, N, K, (vkb_act)act, act != 1);
                if (act == 0) test_gemm(c, f16, VKB_GEMM_TILED_S, M, N, K, (vkb_act)act, 1);
                if (K % 4 == 0) test_gemm(c, f16, VKB_GEMM_TEXEL, M, N, K, (vkb_act)act, act != 1);
            }
        }
        test_layernorm(c, f16, 37, 100, 1);
        test_layernorm(c, f16, 3, 768, 1);
        test_layernorm(c, f16, 5, 13, 0);
        test_layernorm(c, f16, 1, 1, 1);
        test_embed(c, f16, 3, 7, 48, 50, 10);
        test_embed(c, f16, 2, 5, 13, 7, 5);
        static const int attn[][4] = {{2, 1, 2, 32}, {3, 7, 2, 64}, {3, 129, 2, 32}, {3, 129, 1, 64},
                                      {2, 512, 2, 64}, {2, 512, 1, 32}, {4, 33, 3, 16}};
        for (size_t s = 0; s < sizeof attn / sizeof attn[0]; s++)
            test_attention(c, f16, attn[s][0], attn[s][1], attn[s][2], attn[s][3]);
    }
    test_gelu_accuracy(c, VKB_GEMM_TILED);
    test_gelu_accuracy(c, VKB_GEMM_TEXEL);
    /* a wrong call is reported, not crashed on */
    float one = 1;
    CHECK(vkb_vk_op_linear(c, 0, VKB_GEMM_TEXEL, &one, &one, NULL, &one, 1, 1, 1, VKB_ACT_NONE, &err) != 0,
          "texel GEMM accepted K=1");
    vkb_vk_ctx_release_device(c);
    CHECK(vkb_vk_ctx_check_validation(c, &err) == 0, "%s", err.msg);
    vkb_vk_ctx_destroy(c);
    return vkb_test_done("test_vk_ops");
}
