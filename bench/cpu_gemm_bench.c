/* cpu_gemm_bench.c - the fast CPU path's GEMM (host/ops/cpu_gemm.c: weights
 * packed once, on a vkb_team) against OpenBLAS cblas_sgemm (X W^T, beta 0,
 * its own pool) at the model's linear-layer shapes, measured in alternation.
 *
 *   cpu_gemm_bench [--threads 2] [--rounds 5] [--min-s 0.2] [--kernel K] [M ...]
 *
 * Default M: 128 1024 4096; shapes (N x K): 2304x768 (q|k|v), 768x768
 * (out_lin), 3072x768 (ffn.lin1), 768x3072 (ffn.lin2).  Each round times
 * both forms (at least min-s seconds each); one line per shape with the
 * median GFLOP/s of each and the ratio of the medians.  Buffers as the
 * model's (host/base/bigmem: on transparent huge pages).  --kernel: 0 auto, 1
 * portable (fmaf), 2 AVX2+FMA, 3 AVX-512. */
#include "clock.h"
#include "bigmem.h"
#include "cpu_ops.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of wall time; *per_cpu: GFLOP per CPU-second of the process (the
 * packed form's team sleeps when idle: a figure less disturbed by other
 * load on the machine; OpenBLAS's pool spins, so not comparable there) */
static double run_form(int form, vkb_team *team, int kernel, const float *X, const float *W,
                       const float *P, float *Y, int M, int N, int K, double min_s, double *per_cpu) {
    int reps = 0;
    double t0 = vkb_now_s(), c0 = cpu_s(), t;
    do {
        if (form == 0)
            vkb_cpu_gemm_packed_kernel(X, (size_t)K, P, Y, M, N, K, team, kernel);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, X, K, W, K, 0.0f, Y, N);
        reps++;
        t = vkb_now_s() - t0;
    } while (t < min_s);
    *per_cpu = 2.0 * M * N * K * reps / (cpu_s() - c0) * 1e-9;
    return 2.0 * M * N * K * reps / t * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = 2, rounds = 5, kernel = VKB_CPU_GEMM_AUTO;
    double min_s = 0.2;
    int Ms[16], nM = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-s") && i + 1 < argc) min_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--kernel") && i + 1 < argc) kernel = atoi(argv[++i]);
        else if (nM < 16 && atoi(argv[i]) > 0) Ms[nM++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: cpu_gemm_bench [--threads T] [--rounds R] [--min-s S] [--kernel K] [M ...]\n");
            return 2;
        }
    }
    if (!nM) { Ms[0] = 128; Ms[1] = 1024; Ms[2] = 4096; nM = 3; }
    if (rounds < 1 || rounds > 64) rounds = 5;
    openblas_set_num_threads(threads);
    vkb_team *team = vkb_team_create(threads);
    if (!team) return 1;
    static const int NK[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    const char *kname[] = {"?", "portable", "avx2", "avx512"};
    for (int mi = 0; mi < nM; mi++)
        for (int s = 0; s < 4; s++) {
            int M = Ms[mi], N = NK[s][0], K = NK[s][1];
            float *X = vkb_big_alloc(sizeof(float) * M * K), *W = vkb_big_alloc(sizeof(float) * N * K),
                  *Y = vkb_big_alloc(sizeof(float) * M * N),
                  *P = vkb_big_alloc(sizeof(float) * vkb_cpu_pack_size(N, K));
            if (!X || !W || !Y || !P) return 1;
            srand(1);
            for (long i = 0; i < (long)M * K; i++) X[i] = rand() / (float)RAND_MAX - 0.5f;
            for (long i = 0; i < (long)N * K; i++) W[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
            vkb_cpu_pack_weights(W, N, K, P);
            int used = vkb_cpu_gemm_packed_kernel(X, (size_t)K, P, Y, M, N, K, team, kernel);
            double g[3][64];
            for (int r = 0; r < rounds; r++)
                for (int f = 0; f < 2; f++) {
                    double pc;
                    g[f][r] = run_form(f, team, kernel, X, W, P, Y, M, N, K, min_s, &pc);
                    if (f == 0) g[2][r] = pc;
                }
            for (int f = 0; f < 3; f++) qsort(g[f], rounds, sizeof(double), cmp_d);
            double a = g[0][rounds / 2], b = g[1][rounds / 2];
            printf("M=%-5d N=%-5d K=%-5d  packed(%s) %7.1f (%5.1f per CPU-s)  openblas %7.1f GFLOP/s (medians of %d)  ratio %.2fx\n",
                   M, N, K, kname[used], a, g[2][rounds / 2], b, rounds, a / b);
            fflush(stdout);
            vkb_big_free(X); vkb_big_free(W); vkb_big_free(Y); vkb_big_free(P);
        }
    vkb_team_free(team);
    return 0;
}
