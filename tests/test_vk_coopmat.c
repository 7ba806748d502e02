/* test_vk_coopmat.c - the cooperative-matrix GEMM (shaders/linear.comp's COOPMAT form,
 * host/vk_coopmat.c).
 *
 * Everywhere: GEMM variant names, forcing a variant through the options
 * struct (vkb_vulkan_opts -> the device policy), and that asking for coopmat
 * on a device that cannot run it is a clear error (not a crash or a silent
 * fallback).
 * Where the device qualifies (VK_NV_cooperative_matrix etc.): the start-up
 * self-test passes, and the shader matches the CPU reference at odd sizes
 * (partial tiles in M, N and K, K % 8 != 0, both tile sizes, bias and every
 * activation), inputs rounded to fp16 first so both sides see the same
 * operands.  Skips (77) after the first part on devices without it (lavapipe)
 * and when there is no Vulkan device at all. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "vk_internal.h"
#include <math.h>
#include <string.h>

static uint64_t seed = 4242;

static float *rnd16(size_t n) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    REQUIRE(x, "out of memory");
    vkb_test_rand(x, n, 1.0f, &seed);
    for (size_t i = 0; i < n; i++) x[i] = vkb_f16_to_f32(vkb_f32_to_f16(x[i]));
    return x;
}

static void test_gemm(vkb_vk_ctx *c, vkb_gemm_variant v, int M, int N, int K, vkb_act act, int with_bias) {
    float *X = rnd16((size_t)M * K), *W = rnd16((size_t)N * K);
    float *b = with_bias ? rnd16((size_t)N) : NULL;
    float *Y = malloc((size_t)M * N * sizeof *Y), *R = malloc((size_t)M * N * sizeof *R);
    REQUIRE(Y && R, "out of memory");
    vkb_error err = {0};
    int rc = vkb_vk_op_linear(c, 1, v, X, W, b, Y, M, N, K, act, &err);
    CHECK(rc == 0, "%s gemm M=%d N=%d K=%d: %s", vkb_gemm_variant_name(v), M, N, K, err.msg);
    vkb_cpu_linear(X, W, b, R, M, N, K, act, 1, 1);
    double e = 0;
    for (size_t i = 0; i < (size_t)M * N && rc == 0; i++) {
        double d = fabs((double)Y[i] - R[i]) / (1.0 + fabs((double)R[i]));
        if (!(d <= e)) e = isnan(d) ? INFINITY : d;
    }
    /* fp16 output rounding (~5e-4 relative), as in test_vk_ops.c */
    if (rc == 0)
        CHECK(e <= 2e-3, "%s gemm M=%d N=%d K=%d act=%d bias=%d (%s tile): err %.3g",
              vkb_gemm_variant_name(v), M, N, K, (int)act, with_bias,
              v != VKB_GEMM_COOPMAT ? "its" : ((M + 127) / 128) * ((N + 127) / 128) >= 128 ? "128" : "64", e);
    free(X); free(W); free(b); free(Y); free(R);
}

int main(void) {
    const char *val = getenv("VKB_VALIDATION");
    vkb_vk_ctx *c = NULL;
    vkb_error err = {0};
    if (vkb_vk_ctx_create("gpu", val && *val == '1', &c, &err)) {
        fprintf(stderr, "skip: no Vulkan device: %s\n", err.msg);
        return VKB_SKIP;
    }
    printf("device: %s; coopmat: %s%s\n", c->props.deviceName, c->caps.coop_ok ? "yes" : "no: ",
           c->caps.coop_ok ? "" : c->caps.coop_why);

    /* variant names and forcing through the options struct */
    vkb_gemm_variant v = VKB_GEMM_AUTO;
    CHECK(vkb_gemm_variant_parse("fastest", &v) != 0, "bad GEMM variant name accepted");
    CHECK(vkb_gemm_variant_parse("tiled", &v) == 0 && v == VKB_GEMM_TILED, "tiled not parsed");
    CHECK(vkb_gemm_variant_parse("texel", &v) == 0 && v == VKB_GEMM_TEXEL, "texel not parsed");
    CHECK(vkb_gemm_variant_parse("coopmat", &v) == 0 && v == VKB_GEMM_COOPMAT, "coopmat not parsed");
    CHECK(!strcmp(vkb_gemm_variant_name(VKB_GEMM_COOPMAT), "coopmat"), "coopmat name");
    vkb_vk_policy pol;
    vkb_vulkan_opts vo = {.gemm = (vkb_gemm_variant)42};
    CHECK(vkb_vk_policy_for_ctx(c, VKB_PREC_FP32, &vo, &pol, &err) != 0, "GEMM variant 42 accepted");
    vo.gemm = VKB_GEMM_TILED;
    CHECK(vkb_vk_policy_for_ctx(c, c->feat.f16_storage ? VKB_PREC_FP16 : VKB_PREC_FP32, &vo, &pol, &err) == 0 &&
          pol.gemm == VKB_GEMM_TILED && pol.gemm_forced, "forced tiled not honoured: %s", err.msg);
    vo.gemm = VKB_GEMM_COOPMAT;
    CHECK(vkb_vk_policy_for_ctx(c, VKB_PREC_FP32, &vo, &pol, &err) != 0 &&
          strstr(err.msg, "coopmat"), "coopmat with fp32 accepted");
    CHECK(vkb_vk_policy_for_ctx(c, VKB_PREC_FP32, NULL, &pol, &err) == 0 &&
          pol.gemm != VKB_GEMM_COOPMAT && !pol.gemm_forced, "fp32 default changed: %d", (int)pol.gemm);

    if (!c->caps.coop_ok) {
        /* forcing it must say why, and the op hook must refuse */
        vo.gemm = VKB_GEMM_COOPMAT;
        CHECK(vkb_vk_policy_for_ctx(c, VKB_PREC_FP16, &vo, &pol, &err) != 0 && strstr(err.msg, "cannot run"),
              "coopmat forced on an unsupported device: '%s'", err.msg);
        float one = 1.0f, y = 0.0f;
        CHECK(vkb_vk_op_linear(c, 1, VKB_GEMM_COOPMAT, &one, &one, NULL, &y, 1, 1, 1, VKB_ACT_NONE, &err) != 0,
              "coopmat op ran on a device without it");
        CHECK(vkb_vk_op_linear(c, 1, VKB_GEMM_COOPMAT_L, &one, &one, NULL, &y, 1, 1, 1, VKB_ACT_NONE, &err) != 0 &&
              strstr(err.msg, "coopmat_l"), "coopmat_l op ran on a device without coopmat: %s", err.msg);
        CHECK(vkb_vk_ctx_check_validation(c, &err) == 0, "%s", err.msg);
        vkb_vk_ctx_destroy(c);
        if (vkb_test_done("test_vk_coopmat")) return 1;
        fprintf(stderr, "skip: device cannot run the coopmat GEMM\n");
        return VKB_SKIP;
    }

    /* the start-up self-test, as the backend runs it */
    vkb_vk_kernels k;
    char why[256] = "";
    REQUIRE(vkb_vk_policy_for_ctx(c, VKB_PREC_FP16, NULL, &pol, &err) == 0 && pol.gemm == VKB_GEMM_COOPMAT,
            "policy on a coopmat device: gemm %d: %s", (int)pol.gemm, err.msg);
    REQUIRE(vkb_vk_kernels_create(c, &pol, 64, &k, &err) == 0, "kernels: %s", err.msg);
    int rc = vkb_vk_coopmat_pipes_create(c, &k, &err);
    CHECK(rc == 0, "coopmat pipelines: %s", err.msg);
    if (rc == 0) {
        rc = vkb_vk_coopmat_selftest(c, &k, why, sizeof why, &err);
        CHECK(rc == 0, "self-test: %s", rc < 0 ? err.msg : why);
    }
    vkb_vk_kernels_destroy(c, &k);
    /* the same for each SPIR-V form the device has (NVIDIA: NV and the
     * KHR rewrite of it), each pinned through vkb_vulkan_opts.coopmat */
    for (int form = VKB_COOPMAT_NV; form <= VKB_COOPMAT_KHR; form++) {
        int has = c->caps.coop_forms & (form == VKB_COOPMAT_KHR ? VKB_VK_COOP_KHR : VKB_VK_COOP_NV);
        vkb_vulkan_opts fo = {.coopmat = (vkb_coopmat_form)form};
        rc = vkb_vk_policy_for_ctx(c, VKB_PREC_FP16, &fo, &pol, &err);
        CHECK(rc == 0 && (pol.gemm == VKB_GEMM_COOPMAT) == !!has && pol.coop_khr == (has && form == VKB_COOPMAT_KHR),
              "coopmat form %s: gemm %d khr %d (%s)", vkb_coopmat_form_name(fo.coopmat), (int)pol.gemm,
              pol.coop_khr, err.msg);
        if (!has || rc) {
            printf("coopmat form %s: not on this device (%s)\n", vkb_coopmat_form_name(fo.coopmat), c->caps.coop_why);
            continue;
        }
        REQUIRE(vkb_vk_kernels_create(c, &pol, 64, &k, &err) == 0, "kernels: %s", err.msg);
        rc = vkb_vk_coopmat_pipes_create(c, &k, &err);
        CHECK(rc == 0, "coopmat %s pipelines: %s", vkb_coopmat_form_name(fo.coopmat), err.msg);
        if (rc == 0) {
            rc = vkb_vk_coopmat_selftest(c, &k, why, sizeof why, &err);
            CHECK(rc == 0, "coopmat %s self-test: %s", vkb_coopmat_form_name(fo.coopmat), rc < 0 ? err.msg : why);
            if (rc == 0) printf("coopmat form %s: self-test passed\n", vkb_coopmat_form_name(fo.coopmat));
        }
        /* the 256x128 tiles (coopmat_l), where the shared memory holds them */
        if (rc == 0 && k.gemm_coop_l.pipe) {
            rc = vkb_vk_coopmat_l_selftest(c, &k, why, sizeof why, &err);
            CHECK(rc == 0, "coopmat_l %s self-test: %s", vkb_coopmat_form_name(fo.coopmat), rc < 0 ? err.msg : why);
            if (rc == 0) printf("coopmat form %s: coopmat_l self-test passed\n", vkb_coopmat_form_name(fo.coopmat));
        } else if (rc == 0) {
            CHECK(vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1) > c->props.limits.maxComputeSharedMemorySize,
                  "coopmat_l not built though its shared memory fits");
            printf("coopmat form %s: coopmat_l needs more shared memory than the device's %u bytes\n",
                   vkb_coopmat_form_name(fo.coopmat), c->props.limits.maxComputeSharedMemorySize);
        }
        vkb_vk_kernels_destroy(c, &k);
    }
    vo.gemm = VKB_GEMM_COOPMAT;
    CHECK(vkb_vk_policy_for_ctx(c, VKB_PREC_FP16, &vo, &pol, &err) == 0 && pol.gemm == VKB_GEMM_COOPMAT,
          "coopmat forced refused on a capable device: %s", err.msg);

    static const int sizes[][3] = {
        {1, 1, 1}, {77, 130, 96}, {64, 64, 32}, {65, 63, 33}, {129, 200, 136},
        {5, 2, 768}, {300, 70, 8}, {1200, 1800, 72}, /* the last: 128x128 tiles */
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int act = 0; act < 3; act++)
            test_gemm(c, VKB_GEMM_COOPMAT, sizes[i][0], sizes[i][1], sizes[i][2], (vkb_act)act, act != 1);
    /* the fixed-tile variants: coopmat_s (64x64) and, where the shared memory
     * holds it, coopmat_l (256x128) at partial tiles in M, N and K */
    static const int fsizes[][3] = {{77, 130, 96}, {300, 259, 70}, {513, 1800, 72}, {5, 2, 768}};
    int has_l = vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1) <= c->props.limits.maxComputeSharedMemorySize;
    for (size_t i = 0; i < sizeof fsizes / sizeof fsizes[0]; i++)
        for (int v = 0; v < 1 + has_l; v++)
            test_gemm(c, v ? VKB_GEMM_COOPMAT_L : VKB_GEMM_COOPMAT_S, fsizes[i][0], fsizes[i][1], fsizes[i][2],
                      (vkb_act)(i % 3), 1);
    CHECK(vkb_vk_ctx_check_validation(c, &err) == 0, "%s", err.msg);
    vkb_vk_ctx_destroy(c);
    return vkb_test_done("test_vk_coopmat");
}
