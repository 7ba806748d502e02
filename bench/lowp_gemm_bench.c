/* lowp_gemm_bench.c - oneDNN matmul (fp32, bf16, int8 through
 * host/cpu/cpu_lowp.c, conversion of the activations and epilogue
 * included) against OpenBLAS sgemm at the model's linear-layer shapes,
 * measured in alternation (rounds), best of each.
 *
 *   lowp_gemm_bench [--threads 2] [--rounds 3] [--min-s 0.3] [M ...]
 *
 * Default M: 128 1024 4096; shapes (N x K): 768x768, 2304x768, 3072x768,
 * 768x3072.  Prints one line per (M, N, K) with GFLOP/s per form and the
 * ratios to OpenBLAS.  ONEDNN_VERBOSE=1 makes oneDNN print the
 * implementation it chose. */
#include "clock.h"
#include "cpu_lowp.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double run_form(int form, vkb_lp *lp[3], vkb_lp_weight *w[3], const float *X, const float *W,
                       float *Y, int M, int N, int K, double min_s) {
    int reps = 0;
    double t0 = vkb_now_s(), t;
    do {
        if (form == 3) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, X, K, W, K, 0.0f, Y, N);
        } else {
            vkb_error err = {0};
            if (vkb_lp_linear(lp[form], w[form], X, (size_t)K, NULL, NULL, 0, Y, M, VKB_ACT_NONE, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                exit(1);
            }
        }
        reps++;
        t = vkb_now_s() - t0;
    } while (t < min_s);
    return 2.0 * M * N * K * reps / t * 1e-9;
}

int main(int argc, char **argv) {
    int threads = 2, rounds = 3;
    double min_s = 0.3;
    int Ms[16], nM = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-s") && i + 1 < argc) min_s = atof(argv[++i]);
        else if (nM < 16 && atoi(argv[i]) > 0) Ms[nM++] = atoi(argv[i]);
        else { fprintf(stderr, "usage: lowp_gemm_bench [--threads T] [--rounds R] [--min-s S] [M ...]\n"); return 2; }
    }
    if (!nM) { Ms[0] = 128; Ms[1] = 1024; Ms[2] = 4096; nM = 3; }
    openblas_set_num_threads(threads);
    vkb_dnnl *dn = NULL;
    vkb_error derr = {0};
    if (vkb_dnnl_open(NULL, &dn, &derr)) {
        fprintf(stderr, "oneDNN: %s\n", derr.msg);
        return 1;
    }
    printf("oneDNN effective ISA: %s; bf16 %s, int8 %s; %d threads\n", vkb_lp_isa_name(dn),
           vkb_lp_supported(dn, VKB_LP_BF16) ? "native" : "NOT native",
           vkb_lp_supported(dn, VKB_LP_INT8) ? "native" : "NOT native", threads);
    vkb_lp *lp[3] = {0};
    for (int k = 0; k < 3; k++) {
        vkb_error err = {0};
        if (vkb_lp_supported(dn, (vkb_lp_kind)k) && vkb_lp_create(NULL, (vkb_lp_kind)k, threads, &lp[k], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    static const int NK[][2] = {{768, 768}, {2304, 768}, {3072, 768}, {768, 3072}};
    const char *names[] = {"dnnl_f32", "dnnl_bf16", "dnnl_int8", "openblas"};
    for (int mi = 0; mi < nM; mi++)
        for (int s = 0; s < 4; s++) {
            int M = Ms[mi], N = NK[s][0], K = NK[s][1];
            float *X = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K),
                  *Y = malloc(sizeof(float) * M * N);
            srand(1);
            for (long i = 0; i < (long)M * K; i++) X[i] = rand() / (float)RAND_MAX - 0.5f;
            for (long i = 0; i < (long)N * K; i++) W[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
            vkb_lp_weight *w[3] = {0};
            for (int k = 0; k < 3; k++) {
                vkb_error err = {0};
                if (lp[k] && vkb_lp_weight_create(lp[k], W, N, K, "bench", &w[k], &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
            }
            double best[4] = {0};
            for (int r = 0; r < rounds; r++)
                for (int f = 0; f < 4; f++) {
                    if (f < 3 && !lp[f]) continue;
                    double g = run_form(f, lp, w, X, W, Y, M, N, K, min_s);
                    if (g > best[f]) best[f] = g;
                }
            printf("M=%-5d N=%-5d K=%-5d", M, N, K);
            for (int f = 0; f < 4; f++) printf("  %s %7.1f", names[f], best[f]);
            printf("  | vs openblas: f32 %.2fx bf16 %.2fx int8 %.2fx\n", best[0] / best[3], best[1] / best[3],
                   best[2] / best[3]);
            fflush(stdout);
            for (int k = 0; k < 3; k++) vkb_lp_weight_free(w[k]);
            free(X); free(W); free(Y);
        }
    for (int k = 0; k < 3; k++) vkb_lp_free(lp[k]);
    return 0;
}
