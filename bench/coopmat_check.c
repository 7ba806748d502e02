/* coopmat_check.c - correctness and speed of the fp16 GEMM variants on one
 * Vulkan device, for the GPU machine: the cooperative-matrix GEMM
 * (linear.comp's coopmat form: coopmat, coopmat_s, coopmat_l) against the
 * shared-memory tiled one and the coopmat tiles' scalar twins (tiled_cs,
 * tiled_cl), all checked against the CPU reference on the same fp16 operands.
 *
 *   build/bench/coopmat_check [--device gpu:N] [--reps R] [--rounds N] [M N K ...]
 *
 * Default shapes: the GEMMs of DistilBERT at 1024 tokens (M=1024, N=768 and
 * 3072, K=768) and at 4096 tokens (32x128: QKV, FF1, FF2).  For each shape
 * and variant it prints the max error vs the CPU, and GFLOP/s as the median
 * over ROUNDS of R back-to-back dispatches in one submit (wall clock around
 * submit + wait; the ~10 us submit cost is amortized over R), all through
 * the library's one GEMM harness (vkb_vk_gemm_host, host/vk_ops.c).  It first
 * prints whether the device qualifies for coopmat and the self-test result.
 * Exit status: 0 all good, 1 a variant was wrong, 2 setup failure, 3
 * coopmat unavailable (tiled still measured). */
#define _POSIX_C_SOURCE 200809L
#include "vk_internal.h"
#include "error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOL 2e-3

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static void die(const char *what, const vkb_error *e) {
    fprintf(stderr, "coopmat_check: %s: %s\n", what, e ? e->msg : "");
    exit(2);
}

int main(int argc, char **argv) {
    const char *device = "gpu";
    int reps = 20, rounds = 5;
    int shapes[16][3], ns = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--device")) device = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--reps")) reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--rounds")) rounds = atoi(argv[++i]);
        else if (i + 2 < argc && ns < 16 && argv[i][0] != '-') {
            shapes[ns][0] = atoi(argv[i]); shapes[ns][1] = atoi(argv[i + 1]);
            shapes[ns][2] = atoi(argv[i + 2]);
            if (shapes[ns][0] < 1 || shapes[ns][1] < 1 || shapes[ns][2] < 1) die("bad shape", NULL);
            ns++; i += 2;
        } else { fprintf(stderr, "coopmat_check: bad argument %s\n", argv[i]); return 2; }
    }
    if (reps < 1 || rounds < 1) die("reps and rounds must be >= 1", NULL);
    if (!ns) {
        static const int def[5][3] = {{1024, 768, 768}, {1024, 3072, 768}, {4096, 2304, 768},
                                      {4096, 3072, 768}, {4096, 768, 3072}};
        memcpy(shapes, def, sizeof def);
        ns = 5;
    }
    const char *val = getenv("VKB_VALIDATION");
    vkb_error e = {0};
    vkb_vk_ctx *c = NULL;
    if (vkb_vk_ctx_create(device, val && *val == '1', &c, &e)) die("device", &e);
    uint32_t dv = c->props.driverVersion;
    printf("device: %s, driver %u.%u (raw 0x%x), Vulkan %u.%u.%u, subgroup %d\n", c->props.deviceName,
           dv >> 22, (dv >> 14) & 0xff, dv, VK_API_VERSION_MAJOR(c->props.apiVersion),
           VK_API_VERSION_MINOR(c->props.apiVersion), VK_API_VERSION_PATCH(c->props.apiVersion),
           c->feat.subgroup_size);
    printf("coopmat: %s%s (NV ext %d, KHR ext %d)\n", c->caps.coop_ok ? "supported" : "unavailable: ",
           c->caps.coop_ok ? "" : c->caps.coop_why, c->feat.coop_nv, c->feat.coop_khr);
    vkb_vk_kernels k;
    vkb_vk_policy pol;
    if (vkb_vk_policy_for_ctx(c, VKB_PREC_FP16, NULL, &pol, &e) ||
        vkb_vk_kernels_create(c, &pol, 64, &k, &e))
        die("kernels", &e);
    int coop = c->caps.coop_ok;
    if (coop && vkb_vk_coopmat_pipes_create(c, &k, &e)) {
        printf("coopmat pipelines: FAILED: %s\n", e.msg);
        coop = 0;
    }
    int status = 0;
    if (coop) {
        char why[256] = "";
        double t0 = now_s();
        int rc = vkb_vk_coopmat_selftest(c, &k, why, sizeof why, &e);
        printf("self-test: %s (%.1f ms)\n", rc == 0 ? "passed" : rc > 0 ? why : e.msg,
               (now_s() - t0) * 1e3);
        if (rc) status = 1;
        if (k.gemm_coop_l.pipe) { /* the 256x128 tiles, where the shared memory holds them */
            t0 = now_s();
            rc = vkb_vk_coopmat_l_selftest(c, &k, why, sizeof why, &e);
            printf("coopmat_l self-test: %s (%.1f ms)\n", rc == 0 ? "passed" : rc > 0 ? why : e.msg,
                   (now_s() - t0) * 1e3);
            if (rc) status = 1;
        } else {
            printf("coopmat_l: not built for this device: needs %u bytes of shared memory, it has %u\n",
                   vkb_vk_gemm_smem(VKB_GEMM_COOPMAT_L, 1), c->props.limits.maxComputeSharedMemorySize);
        }
    }
    if (!coop && !status) status = 3;
    /* the scalar twins of coopmat_s / coopmat_l (fp16 shared memory), where they build */
    int twins = vkb_vk_gemm_pipe_ensure(c, &k, VKB_GEMM_TILED_CS, &e) == 0 &&
                vkb_vk_gemm_pipe_ensure(c, &k, VKB_GEMM_TILED_CL, &e) == 0;
    if (!twins) printf("tiled_cs/tiled_cl: %s\n", e.msg);

    uint64_t seed = 88172645463325252ull;
    printf("%-18s %-9s %12s %12s %10s\n", "M x N x K", "variant", "max err", "ms/GEMM", "GFLOP/s");
    double *ms = calloc((size_t)rounds, sizeof *ms);
    if (!ms) die("out of memory", NULL);
    for (int s = 0; s < ns; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        size_t nx = (size_t)M * K, nw = (size_t)N * K, ny = (size_t)M * N;
        float *X = malloc(nx * 4), *W = malloc(nw * 4), *b = malloc((size_t)N * 4);
        float *Y = malloc(ny * 4), *R = malloc(ny * 4);
        if (!X || !W || !b || !Y || !R) die("out of memory", NULL);
        float *all[3] = {X, W, b};
        size_t cnt[3] = {nx, nw, (size_t)N};
        for (int t = 0; t < 3; t++)
            for (size_t i = 0; i < cnt[t]; i++) {
                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
                float v = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
                all[t][i] = vkb_f16_to_f32(vkb_f32_to_f16(v));
            }
        vkb_cpu_linear(X, W, b, R, M, N, K, VKB_ACT_NONE, 0, 8);
        static const vkb_gemm_variant vars[6] = {VKB_GEMM_TILED, VKB_GEMM_TILED_CS, VKB_GEMM_TILED_CL,
                                                 VKB_GEMM_COOPMAT, VKB_GEMM_COOPMAT_S, VKB_GEMM_COOPMAT_L};
        for (int v = 0; v < 6; v++) {
            vkb_gemm_variant var = vars[v];
            if (vkb_vk_gemm_is_coop(var) && !coop) continue;
            if ((var == VKB_GEMM_TILED_CS || var == VKB_GEMM_TILED_CL) && !twins) continue;
            if (!vkb_vk_gemm_pipe(&k, var, M, N)) continue;
            /* the one GEMM harness (host/vk_ops.c), as the tests use it */
            vkb_vk_gemm_case t = {M, N, K, K, VKB_ACT_NONE, 0, NULL};
            if (vkb_vk_gemm_host(c, &k, var, &t, X, W, b, Y, rounds, reps, ms, &e)) die("run", &e);
            double err = 0;
            for (size_t i = 0; i < ny; i++) {
                double d = fabs((double)Y[i] - R[i]) / (1.0 + fabs((double)R[i]));
                if (!(d <= err)) err = isnan(d) ? INFINITY : d;
            }
            if (!(err <= TOL)) status = 1;
            qsort(ms, (size_t)rounds, sizeof *ms, cmp_d);
            double med = ms[rounds / 2];
            char shape[32];
            snprintf(shape, sizeof shape, "%dx%dx%d", M, N, K);
            printf("%-18s %-9s %12.3g %12.4f %10.0f%s\n", shape, vkb_gemm_variant_name(var), err, med,
                   2.0 * M * N * K / (med * 1e-3) * 1e-9, err <= TOL ? "" : "  WRONG");
        }
        free(X); free(W); free(b); free(Y); free(R);
        fflush(stdout);
    }
    free(ms);
    if (vkb_vk_ctx_check_validation(c, &e)) { printf("validation: %s\n", e.msg); status = 1; }
    vkb_vk_kernels_destroy(c, &k);
    vkb_vk_ctx_destroy(c);
    return status;
}
