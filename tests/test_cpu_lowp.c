/* test_cpu_lowp.c - the oneDNN linear layers (host/cpu/cpu_lowp.c: fp32,
 * bf16, int8) against a double-precision reference at odd sizes, with bias,
 * activations, a strided input and a residual, and the primitive cache past
 * its bound.  Tolerances are worst-case bounds from the formats:
 *
 *   bf16: x and w each rounded to 8 significant bits (relative error
 *         <= u = 2^-8), so |x'w' - xw| <= (2u + u^2) |x||w|; summed in f32
 *         (K 2^-24 relative):  |err| <= (2.01 u + K 2^-23) sum_k |x_k w_k|.
 *   int8: w_n rounded to steps sw = max|w_n|/127 (error <= sw/2), x_m to
 *         steps sa = range/255 (error <= sa, the clamp at 255 included):
 *         |err| <= sa sum|w| + sw/2 sum|x| + sa sw/2 K.
 *   fp32: 2e-5 relative, as the OpenBLAS path (test_cpu_ops).
 *
 * GELU's slope is at most 1.13, ReLU's 1: the bound is scaled by 1.13.
 * Where oneDNN's effective ISA lacks a kind (ONEDNN_MAX_CPU_ISA=AVX2, the
 * ctest test_cpu_lowp_avx2), creating it must fail with VKB_ERR_UNSUPPORTED,
 * and so must loading a missing library or one that is no oneDNN. */
#include "testutil.h"
#include "cpu_lowp.h"
#include <math.h>
#include <string.h>

static uint64_t rng = 777;

static float *rnd(size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    REQUIRE(x, "out of memory");
    vkb_test_rand(x, n, scale, &rng);
    return x;
}

static double act_ref(double x, vkb_act act) {
    if (act == VKB_ACT_GELU) return x * 0.5 * (1.0 + erf(x / sqrt(2.0)));
    if (act == VKB_ACT_RELU) return x > 0 ? x : 0;
    return x;
}

static void test_linear(vkb_lp *lp, int M, int N, int K, int ldx_pad, float xoff) {
    vkb_lp_kind kind = vkb_lp_get_kind(lp);
    size_t ldx = (size_t)K + ldx_pad, ldr = (size_t)N + 3;
    float *X = rnd((size_t)M * ldx, 1.0f), *W = rnd((size_t)N * K, 0.5f), *b = rnd(N, 1.0f),
          *R = rnd((size_t)M * ldr, 1.0f), *Y = malloc((size_t)M * N * sizeof(float));
    REQUIRE(Y, "out of memory");
    for (size_t i = 0; i < (size_t)M * ldx; i++) X[i] += xoff; /* skewed rows: zero points far from 128 */
    vkb_lp_weight *w = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_lp_weight_create(lp, W, N, K, "test weight", &w, &err) == 0, "%s", err.msg);
    CHECK(vkb_lp_weight_bytes(w) >= (size_t)N * K, "weight bytes %zu", vkb_lp_weight_bytes(w));
    double u = 1.0 / 256;
    for (int act = 0; act <= 2; act++)
        for (int extras = 0; extras <= 1; extras++) {
            memset(Y, 0xff, (size_t)M * N * sizeof *Y); /* NaN: every output written */
            int rc = vkb_lp_linear(lp, w, X, ldx, extras ? b : NULL, extras ? R : NULL, ldr, Y, M,
                                   (vkb_act)act, &err);
            CHECK(rc == 0, "%s", err.msg);
            double worst = 0; /* error / bound */
            for (int m = 0; m < M; m++) {
                const float *x = X + (size_t)m * ldx;
                double lo = 0, hi = 0, sx = 0;
                for (int k = 0; k < K; k++) {
                    lo = fmin(lo, x[k]);
                    hi = fmax(hi, x[k]);
                    sx += fabs(x[k]);
                }
                double sa = (hi - lo) / 255;
                for (int n = 0; n < N; n++) {
                    const float *wr = W + (size_t)n * K;
                    double s = extras ? b[n] : 0, sxw = 0, sw1 = 0, wmax = 0;
                    for (int k = 0; k < K; k++) {
                        s += (double)x[k] * wr[k];
                        sxw += fabs((double)x[k] * wr[k]);
                        sw1 += fabs(wr[k]);
                        wmax = fmax(wmax, fabs(wr[k]));
                    }
                    double ref = act_ref(s, (vkb_act)act) + (extras ? R[(size_t)m * ldr + n] : 0);
                    double bound;
                    if (kind == VKB_LP_BF16) bound = (2.01 * u + K * 0x1p-23) * sxw;
                    else if (kind == VKB_LP_INT8) {
                        double sw = wmax / 127;
                        bound = sa * sw1 + sw / 2 * sx + sa * sw / 2 * K;
                    } else bound = 2e-5 * (1 + fabs(s)) + K * 0x1p-23 * sxw;
                    bound = bound * 1.13 + 1e-6 * (1 + fabs(ref)); /* + the epilogue's f32 rounding */
                    double e = fabs(Y[(size_t)m * N + n] - ref) / bound;
                    if (!(e <= worst)) worst = e;
                }
            }
            CHECK(worst <= 1.0, "%s linear %dx%dx%d ldx+%d act %d extras %d: error %.3g x the bound",
                  vkb_lp_kind_name(kind), M, N, K, ldx_pad, act, extras, worst);
        }
    vkb_lp_weight_free(w);
    free(X); free(W); free(b); free(R); free(Y);
}

/* More Ms than the cache holds, then the first ones again (evicted, rebuilt):
 * results equal to a fresh weight's. */
static void test_cache(vkb_lp *lp) {
    int N = 19, K = 37, maxM = 40;
    float *X = rnd((size_t)maxM * K, 1.0f), *W = rnd((size_t)N * K, 0.5f);
    float *Y = malloc((size_t)maxM * N * sizeof(float)), *Y2 = malloc((size_t)maxM * N * sizeof(float));
    REQUIRE(Y && Y2, "out of memory");
    vkb_lp_weight *w = NULL, *w2 = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_lp_weight_create(lp, W, N, K, "cache", &w, &err) == 0, "%s", err.msg);
    for (int round = 0; round < 2; round++)
        for (int M = 1; M <= maxM; M += 2)
            CHECK(vkb_lp_linear(lp, w, X, K, NULL, NULL, 0, Y, M, VKB_ACT_NONE, &err) == 0, "%s", err.msg);
    REQUIRE(vkb_lp_weight_create(lp, W, N, K, "cache2", &w2, &err) == 0, "%s", err.msg);
    for (int M = 1; M <= maxM; M += 13) {
        CHECK(vkb_lp_linear(lp, w, X, K, NULL, NULL, 0, Y, M, VKB_ACT_NONE, &err) == 0, "%s", err.msg);
        CHECK(vkb_lp_linear(lp, w2, X, K, NULL, NULL, 0, Y2, M, VKB_ACT_NONE, &err) == 0, "%s", err.msg);
        CHECK(memcmp(Y, Y2, (size_t)M * N * sizeof(float)) == 0, "%s M=%d: cached primitive differs",
              vkb_lp_kind_name(vkb_lp_get_kind(lp)), M);
    }
    vkb_lp_weight_free(w);
    vkb_lp_weight_free(w2);
    free(X); free(W); free(Y); free(Y2);
}

/* vkb_lp_linear_ln: the LayerNorm fused into the epilogue gives the same
 * bits as vkb_lp_linear then the fp32 LayerNorm (odd N, strided input,
 * residual). */
static void test_linear_ln(vkb_lp *lp, int M, int N, int K) {
    size_t ldx = (size_t)K + 3, ldr = (size_t)N + 1;
    float *X = rnd((size_t)M * ldx, 1.0f), *W = rnd((size_t)N * K, 0.5f), *b = rnd(N, 1.0f),
          *R = rnd((size_t)M * ldr, 1.0f), *g = rnd(N, 1.0f), *beta = rnd(N, 1.0f),
          *Y = malloc((size_t)M * N * sizeof(float)), *Y2 = malloc((size_t)M * N * sizeof(float));
    REQUIRE(Y && Y2, "out of memory");
    vkb_lp_weight *w = NULL;
    vkb_error err = {0};
    REQUIRE(vkb_lp_weight_create(lp, W, N, K, "test weight", &w, &err) == 0, "%s", err.msg);
    for (int res = 0; res <= 1; res++) {
        const float *r = res ? R : NULL;
        REQUIRE(vkb_lp_linear(lp, w, X, ldx, b, r, ldr, Y, M, VKB_ACT_NONE, &err) == 0, "%s", err.msg);
        vkb_cpu_add_layernorm(Y, NULL, g, beta, Y, M, N, 1e-12f, 0);
        memset(Y2, 0xff, (size_t)M * N * sizeof *Y2);
        REQUIRE(vkb_lp_linear_ln(lp, w, X, ldx, b, r, ldr, g, beta, 1e-12f, Y2, M, &err) == 0, "%s", err.msg);
        CHECK(memcmp(Y, Y2, (size_t)M * N * sizeof(float)) == 0, "%s %dx%dx%d: fused LayerNorm differs",
              vkb_lp_kind_name(vkb_lp_get_kind(lp)), M, N, K);
    }
    vkb_lp_weight_free(w);
    free(X); free(W); free(b); free(R); free(g); free(beta); free(Y); free(Y2);
}

/* oneDNN is dlopen()ed: a library that is missing, or is no oneDNN, fails
 * to open with VKB_ERR_UNSUPPORTED and a message naming the file, and so
 * does vkb_lp_create on it. */
static void test_load_failure(void) {
    static const char *bad[][2] = {{"/nonexistent/libdnnl.so.2", "/nonexistent/libdnnl.so.2"},
                                   {"libm.so.6", "dnnl_"}}; /* loads, lacks the functions */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vkb_dnnl *dn = (vkb_dnnl *)1;
        vkb_error err = {0};
        CHECK(vkb_dnnl_open(bad[i][0], &dn, &err) != 0 && err.code == VKB_ERR_UNSUPPORTED && !dn,
              "opening %s must fail (unsupported)", bad[i][0]);
        CHECK(strstr(err.msg, bad[i][1]) != NULL, "%s: message names %s: %s", bad[i][0], bad[i][1], err.msg);
        vkb_lp *lp = (vkb_lp *)1;
        vkb_error err2 = {0};
        CHECK(vkb_lp_create(bad[i][0], VKB_LP_F32, 1, &lp, &err2) != 0 && err2.code == VKB_ERR_UNSUPPORTED && !lp,
              "vkb_lp_create on %s must fail (unsupported)", bad[i][0]);
        CHECK(strstr(err2.msg, "oneDNN could not be loaded") && strstr(err2.msg, bad[i][1]),
              "vkb_lp_create on %s: message: %s", bad[i][0], err2.msg);
    }
}

int main(void) {
    test_load_failure();
    vkb_dnnl *dn = NULL;
    vkb_error derr = {0};
    REQUIRE(vkb_dnnl_open(NULL, &dn, &derr) == 0, "oneDNN (" VKB_DNNL_LIB "): %s", derr.msg);
    printf("oneDNN effective ISA: %s\n", vkb_lp_isa_name(dn));
    CHECK(vkb_lp_supported(dn, VKB_LP_F32), "fp32 always runs");
    for (int k = 0; k <= 2; k++) {
        vkb_lp_kind kind = (vkb_lp_kind)k;
        vkb_lp *lp = NULL;
        vkb_error err = {0};
        if (!vkb_lp_supported(dn, kind)) {
            CHECK(vkb_lp_create(NULL, kind, 2, &lp, &err) != 0 && err.code == VKB_ERR_UNSUPPORTED && !lp,
                  "%s: creating an unsupported kind must fail (unsupported)", vkb_lp_kind_name(kind));
            CHECK(strstr(err.msg, vkb_lp_kind_name(kind)) != NULL, "message names the kind: %s", err.msg);
            printf("%s: not supported here (%s)\n", vkb_lp_kind_name(kind), err.msg);
            continue;
        }
        for (int th = 1; th <= 3; th += 2) {
            REQUIRE(vkb_lp_create(NULL, kind, th, &lp, &err) == 0, "%s", err.msg);
            CHECK(vkb_lp_dnnl(lp) != NULL, "lp holds its oneDNN");
            test_linear(lp, 77, 130, 100, 0, 0.0f);
            test_linear(lp, 1, 3, 1, 0, 0.5f);
            test_linear(lp, 130, 77, 257, 5, 0.3f);
            test_linear(lp, 33, 200, 771, 1, -0.7f);
            test_cache(lp);
            test_linear_ln(lp, 37, 131, 97);
            test_linear_ln(lp, 1, 768, 64);
            vkb_lp_free(lp);
        }
        printf("%s: checked\n", vkb_lp_kind_name(kind));
    }
    vkb_dnnl_close(dn);
    return vkb_test_done("test_cpu_lowp");
}
