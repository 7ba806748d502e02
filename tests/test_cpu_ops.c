/* test_cpu_ops.c - the CPU reference operators against naive double-precision
 * formulas written out here, at odd sizes, in fp32 and fp64 modes, with
 * 1..3 threads (results must not depend on the thread count); the fast fp32
 * path's operators (vkb_cpu_*_fast, on a vkb_team of 1..3 threads) against
 * the same formulas and the fp64 operators; the team itself. */
#include "testutil.h"
#include "cpu_ops.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng = 12345;

static float *rnd(size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    REQUIRE(x, "out of memory");
    vkb_test_rand(x, n, scale, &rng);
    return x;
}

/* max |a-b| / (1 + |b|): absolute near zero, relative for large values */
static double max_err_f(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (!(e <= m)) m = e;
    }
    return m;
}

static double max_err(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1.0 + fabs(b[i]));
        if (!(e <= m)) m = e; /* NaN propagates as a failure */
    }
    return m;
}

static double act_ref(double x, vkb_act act) {
    if (act == VKB_ACT_GELU) return x * 0.5 * (1.0 + erf(x / sqrt(2.0)));
    if (act == VKB_ACT_RELU) return x > 0 ? x : 0;
    return x;
}

static void test_linear(int M, int N, int K) {
    float *X = rnd((size_t)M * K, 1.0f), *W = rnd((size_t)N * K, 0.5f), *b = rnd(N, 1.0f);
    double *ref = malloc((size_t)M * N * sizeof *ref);
    float *Y = malloc((size_t)M * N * sizeof *Y), *Y1 = malloc((size_t)M * N * sizeof *Y1);
    REQUIRE(ref && Y && Y1, "out of memory");
    for (int act = 0; act <= 2; act++)
        for (int hasb = 0; hasb <= 1; hasb++) {
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double s = hasb ? b[n] : 0;
                    for (int k = 0; k < K; k++) s += (double)X[m * K + k] * W[n * K + k];
                    ref[m * N + n] = act_ref(s, (vkb_act)act);
                }
            for (int fp64 = 0; fp64 <= 1; fp64++) {
                double tol = fp64 ? 2e-7 : 2e-5;
                for (int th = 1; th <= 3; th++) {
                    memset(Y, 0xff, (size_t)M * N * sizeof *Y); /* NaN: every output written */
                    vkb_cpu_linear(X, W, hasb ? b : NULL, Y, M, N, K, (vkb_act)act, fp64, th);
                    double e = max_err(Y, ref, (size_t)M * N);
                    CHECK(e <= tol, "linear %dx%dx%d act %d bias %d fp64 %d threads %d: err %g",
                          M, N, K, act, hasb, fp64, th, e);
                    if (th == 1) memcpy(Y1, Y, (size_t)M * N * sizeof *Y);
                    else if (fp64)
                        CHECK(memcmp(Y, Y1, (size_t)M * N * sizeof *Y) == 0,
                              "linear fp64 differs between 1 and %d threads", th);
                }
            }
        }
    free(X); free(W); free(b); free(ref); free(Y); free(Y1);
}

static void ln_ref(const float *x, const float *r, const float *g, const float *be,
                   double *y, int dim) {
    double mean = 0, var = 0;
    for (int i = 0; i < dim; i++) mean += x[i] + (r ? (double)r[i] : 0);
    mean /= dim;
    for (int i = 0; i < dim; i++) {
        double d = x[i] + (r ? (double)r[i] : 0) - mean;
        var += d * d;
    }
    var /= dim;
    for (int i = 0; i < dim; i++)
        y[i] = (x[i] + (r ? (double)r[i] : 0) - mean) / sqrt(var + 1e-12) * g[i] + be[i];
}

static void test_layernorm(int rows, int dim) {
    float *x = rnd((size_t)rows * dim, 3.0f), *r = rnd((size_t)rows * dim, 2.0f);
    float *g = rnd(dim, 1.5f), *be = rnd(dim, 1.0f);
    /* an offset row: LayerNorm must subtract the mean before squaring */
    for (int i = 0; i < dim; i++) x[i] += 1000.0f;
    double *ref = malloc((size_t)rows * dim * sizeof *ref);
    float *y = malloc((size_t)rows * dim * sizeof *y);
    REQUIRE(ref && y, "out of memory");
    for (int hasr = 0; hasr <= 1; hasr++) {
        for (int m = 0; m < rows; m++)
            ln_ref(x + m * dim, hasr ? r + m * dim : NULL, g, be, ref + m * dim, dim);
        for (int fp64 = 0; fp64 <= 1; fp64++) {
            vkb_cpu_add_layernorm(x, hasr ? r : NULL, g, be, y, rows, dim, 1e-12f, fp64);
            double e = max_err(y, ref, (size_t)rows * dim);
            CHECK(e <= (fp64 ? 2e-7 : 5e-5), "layernorm %dx%d r %d fp64 %d: err %g", rows, dim,
                  hasr, fp64, e);
            /* in place: y aliases x */
            float *xc = malloc((size_t)rows * dim * sizeof *xc);
            REQUIRE(xc, "out of memory");
            memcpy(xc, x, (size_t)rows * dim * sizeof *xc);
            vkb_cpu_add_layernorm(xc, hasr ? r : NULL, g, be, xc, rows, dim, 1e-12f, fp64);
            CHECK(memcmp(xc, y, (size_t)rows * dim * sizeof *xc) == 0,
                  "layernorm in place differs (r %d fp64 %d)", hasr, fp64);
            free(xc);
        }
    }
    free(x); free(r); free(g); free(be); free(ref); free(y);
}

static void test_embed(void) {
    int B = 3, L = 9, dim = 20, V = 17, P = 12;
    float *word = rnd((size_t)V * dim, 1.0f), *pos = rnd((size_t)P * dim, 1.0f);
    float *g = rnd(dim, 1.0f), *be = rnd(dim, 1.0f);
    int32_t ids[27];
    for (int i = 0; i < B * L; i++) ids[i] = (i * 7 + 3) % V;
    float y[27 * 20];
    double ref[27 * 20];
    for (int b = 0; b < B; b++)
        for (int p = 0; p < L; p++)
            ln_ref(word + ids[b * L + p] * dim, pos + p * dim, g, be, ref + (b * L + p) * dim, dim);
    for (int fp64 = 0; fp64 <= 1; fp64++) {
        vkb_cpu_embed(ids, word, pos, g, be, y, B, L, dim, 1e-12f, fp64);
        double e = max_err(y, ref, (size_t)B * L * dim);
        CHECK(e <= (fp64 ? 2e-7 : 5e-5), "embed fp64 %d: err %g", fp64, e);
    }
    free(word); free(pos); free(g); free(be);
}

/* HF's way: scores over all L keys, masked ones set to the most negative
 * finite double before the softmax. */
static void attn_ref(const float *q, const float *k, const float *v, double *ctx, int B,
                     int L, int H, int hd, const int32_t *lens) {
    int D = H * hd;
    double *s = malloc((size_t)L * sizeof *s);
    REQUIRE(s, "out of memory");
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                const float *qi = q + ((size_t)b * L + i) * D + h * hd;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < L; j++) {
                    const float *kj = k + ((size_t)b * L + j) * D + h * hd;
                    double d = 0;
                    for (int e = 0; e < hd; e++) d += (qi[e] / sqrt((double)hd)) * kj[e];
                    s[j] = j < lens[b] ? d : -1.7976931348623157e308;
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < L; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
                for (int e = 0; e < hd; e++) {
                    double a = 0;
                    for (int j = 0; j < L; j++)
                        a += s[j] / sum * v[((size_t)b * L + j) * D + h * hd + e];
                    ctx[((size_t)b * L + i) * D + h * hd + e] = a;
                }
            }
    free(s);
}

static void test_attention(int B, int L, int H, int hd) {
    int D = H * hd;
    size_t n = (size_t)B * L * D;
    float *q = rnd(n, 2.0f), *k = rnd(n, 2.0f), *v = rnd(n, 1.0f);
    int32_t lens[4];
    for (int b = 0; b < B; b++) lens[b] = b == 0 ? L : 1 + (b * 37 + L / 2) % L;
    if (B > 1) lens[1] = 1;
    /* Padded keys/values get huge values: if the mask leaks, results change. */
    for (int b = 0; b < B; b++)
        for (int p = lens[b]; p < L; p++)
            for (int e = 0; e < D; e++) {
                k[((size_t)b * L + p) * D + e] = 50.0f;
                v[((size_t)b * L + p) * D + e] = 1e4f;
            }
    double *ref = malloc(n * sizeof *ref);
    float *ctx = malloc(n * sizeof *ctx), *ctx1 = malloc(n * sizeof *ctx1);
    REQUIRE(ref && ctx && ctx1, "out of memory");
    attn_ref(q, k, v, ref, B, L, H, hd, lens);
    for (int fp64 = 0; fp64 <= 1; fp64++)
        for (int th = 1; th <= 3; th++) {
            memset(ctx, 0xff, n * sizeof *ctx);
            CHECK(vkb_cpu_attention(q, k, v, ctx, B, L, H, hd, lens, fp64, th) == 0, "attention failed");
            double e = max_err(ctx, ref, n);
            CHECK(e <= (fp64 ? 2e-7 : 2e-5), "attention B%d L%d H%d hd%d fp64 %d threads %d: err %g",
                  B, L, H, hd, fp64, th, e);
            if (th == 1) memcpy(ctx1, ctx, n * sizeof *ctx);
            else CHECK(memcmp(ctx, ctx1, n * sizeof *ctx) == 0,
                       "attention differs between 1 and %d threads (fp64 %d)", th, fp64);
        }
    free(q); free(k); free(v); free(ref); free(ctx); free(ctx1);
}

/* Scratch that cannot be allocated is an error (-1), ctx untouched, not
 * NaN-filled output: L = 2^30 and hd = 2^22 + 1 (not a multiple of 32, so
 * the values are copied, zero-padded) ask for ~2^54 bytes of fp32 values,
 * more than any address space (so this fails even with memory overcommit);
 * the failure comes before any input is read, so small buffers do. */
static void test_attention_no_memory(void) {
    float q[4] = {0}, k[4] = {0}, v[4] = {0}, ctx[4] = {1, 2, 3, 4};
    int32_t lens[1] = {1};
    CHECK(vkb_cpu_attention(q, k, v, ctx, 1, 1 << 30, 1, (1 << 22) + 1, lens, 0, 1) == -1, "no error");
    CHECK(ctx[0] == 1 && ctx[3] == 4, "ctx written on failure");
    vkb_team *t = vkb_team_create(2);
    REQUIRE(t, "team");
    CHECK(vkb_cpu_attention_fast(q, 3, ctx, 1, 1 << 30, 1, 1, (1 << 22) + 1, lens, t) == -1, "no error (fast)");
    CHECK(ctx[0] == 1 && ctx[3] == 4, "ctx written on failure (fast)");
    vkb_team_free(t);
}

/* ---- the fast fp32 path ------------------------------------------------------- */
/* The team: every task runs exactly once per job, in a slot < min(slots, tasks),
 * over many jobs in a row (workers are reused), for any task count. */
typedef struct { int *hits; int slots; int bad; } team_probe;
static void probe_task(void *p, int task, int slot) {
    team_probe *c = p;
    c->hits[task]++; /* each task index is touched by one thread only */
    if (slot < 0 || slot >= c->slots) c->bad = 1;
}
static void test_team(void) {
    for (int th = 1; th <= 4; th++) {
        vkb_team *t = vkb_team_create(th);
        REQUIRE(t, "team of %d", th);
        CHECK(vkb_team_slots(t) == th, "team of %d has %d slots", th, vkb_team_slots(t));
        int hits[200];
        for (int job = 0; job < 300; job++) {
            int n = job % 7 == 0 ? 0 : 1 + job % 200;
            memset(hits, 0, sizeof hits);
            int active = n < vkb_team_slots(t) ? n : vkb_team_slots(t);
            team_probe c = {hits, active > 0 ? active : 1, 0};
            vkb_team_run(t, n, probe_task, &c);
            int ok = !c.bad;
            for (int i = 0; i < n; i++) ok = ok && hits[i] == 1;
            CHECK(ok, "team of %d, job %d (%d tasks): a task ran %s", th, job, n,
                  c.bad ? "in the wrong slot" : "not exactly once");
        }
        vkb_team_free(t);
    }
    vkb_team_run(NULL, 0, probe_task, NULL); /* no team, no tasks: nothing runs */
    vkb_team_free(NULL);
}

/* GELU over a dense range and the extremes against erf in double. */
static void test_gelu_fast(void) {
    enum { N = 40013 };
    float *x = malloc(N * sizeof *x);
    double *ref = malloc(N * sizeof *ref);
    REQUIRE(x && ref, "out of memory");
    for (int i = 0; i < N; i++) x[i] = -12.0f + 24.0f * (float)i / (N - 1);
    float ext[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 30.0f, -30.0f, 1e30f, -1e30f,
                   3.4e38f, -3.4e38f, 9.99f, 10.0f, 10.01f, -87.0f, -200.0f};
    memcpy(x, ext, sizeof ext);
    for (int i = 0; i < N; i++) ref[i] = act_ref(x[i], VKB_ACT_GELU);
    vkb_cpu_gelu_fast(x, N);
    double e = max_err(x, ref, N);
    CHECK(e <= 3e-7, "gelu_fast: err %g", e);
    float inf[3] = {INFINITY, -INFINITY, NAN};
    vkb_cpu_gelu_fast(inf, 3);
    CHECK(inf[0] == INFINITY && isnan(inf[2]), "gelu_fast(inf) %g, gelu_fast(nan) %g", inf[0], inf[2]);
    free(x); free(ref);
}

/* W [N,K] packed for the fast path's GEMM (vkb_cpu_pack_weights). */
static float *packed(const float *W, int N, int K) {
    size_t n = vkb_cpu_pack_size(N, K);
    float *P = malloc((n ? n : 1) * sizeof *P);
    REQUIRE(P, "out of memory");
    vkb_cpu_pack_weights(W, N, K, P);
    return P;
}

/* The packed GEMM: every output is exactly the chain of fmaf over k in order
 * (so every micro-kernel this CPU runs - AVX-512, AVX2+FMA, portable - gives
 * the same bits), with 1, 2 and 3 threads, strided X, with and without the
 * copy of X; and near the double product.  Sizes straddle the tiles (12/6/4
 * rows, 32/16 columns), the K block (512) and the row block (384). */
static void test_gemm_packed(int M, int N, int K) {
    size_t ldx = K % 1024 ? (size_t)K + 5 : (size_t)K; /* K = 1024: rows 4 KB apart */
    float *X = rnd((size_t)M * ldx, 1.0f), *W = rnd((size_t)N * K, 0.5f), *P = packed(W, N, K);
    float *want = malloc((size_t)M * N * sizeof *want), *Y = malloc((size_t)M * N * sizeof *Y);
    REQUIRE(want && Y, "out of memory");
    double e = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float s = 0.0f;
            double d = 0;
            for (int k = 0; k < K; k++) {
                s = fmaf(X[m * ldx + k], W[(size_t)n * K + k], s);
                d += (double)X[m * ldx + k] * W[(size_t)n * K + k];
            }
            want[(size_t)m * N + n] = s;
            double ei = fabs(s - d) / (1.0 + fabs(d));
            if (!(ei <= e)) e = ei;
        }
    CHECK(e <= 2e-5, "fmaf chain %dx%dx%d vs double: %g", M, N, K, e);
    /* Y with a padded stride too: the pad must stay untouched */
    size_t ldy = (size_t)N + 7;
    float *Yp = malloc((size_t)M * ldy * sizeof *Yp);
    REQUIRE(Yp, "out of memory");
    int modes[] = {VKB_CPU_GEMM_X_IN_PLACE, VKB_CPU_GEMM_X_COPY, 0};
    for (int kern = VKB_CPU_GEMM_GENERIC; kern <= VKB_CPU_GEMM_AVX512; kern++)
        for (int th = 1; th <= 3; th++)
            for (int mode = 0; mode < 3; mode++) {
                vkb_team *t = vkb_team_create(th);
                REQUIRE(t, "team");
                memset(Y, 0xff, (size_t)M * N * sizeof *Y); /* NaN: every output written */
                int got = vkb_cpu_gemm_packed_kernel(X, ldx, P, Y, M, N, K, t, kern | modes[mode]);
                CHECK(memcmp(Y, want, (size_t)M * N * sizeof *Y) == 0,
                      "gemm_packed %dx%dx%d kernel %d (ran %d) threads %d X mode %d: not the fmaf "
                      "chain (max err %g)", M, N, K, kern, got, th, modes[mode],
                      max_err_f(Y, want, (size_t)M * N));
                memset(Yp, 0x7f, (size_t)M * ldy * sizeof *Yp);
                vkb_cpu_gemm_packed_ex(X, ldx, P, Yp, ldy, M, N, K, NULL, t, kern | modes[mode]);
                vkb_team_free(t);
                int bad = 0;
                for (int m = 0; m < M && !bad; m++) {
                    bad = memcmp(Yp + m * ldy, want + (size_t)m * N, (size_t)N * sizeof *Yp) != 0;
                    for (size_t j = (size_t)N; j < ldy; j++) {
                        uint32_t u;
                        memcpy(&u, Yp + m * ldy + j, sizeof u);
                        bad |= u != 0x7f7f7f7fu;
                    }
                }
                CHECK(!bad, "gemm_packed_ex %dx%dx%d ldy %zu kernel %d threads %d X mode %d: wrong "
                      "outputs or the pad written", M, N, K, ldy, kern, th, modes[mode]);
            }
    free(X); free(W); free(P); free(want); free(Y); free(Yp);
}

/* The GEMM's epilogue hooks: tile() sees every output exactly once, final;
 * rows() sees every row exactly once, after all its tiles. */
typedef struct {
    const float *Y, *want;
    size_t ldy;
    int N;
    unsigned char *tiled, *rowed;
    int bad_tile, bad_rows;
} epi_probe;
static void probe_tile(void *p, int m0, int rows, int n0, int cols) {
    epi_probe *e = p;
    for (int m = m0; m < m0 + rows; m++)
        for (int n = n0; n < n0 + cols; n++) {
            if (e->tiled[(size_t)m * e->N + n]++ ||
                memcmp(&e->Y[m * e->ldy + n], &e->want[(size_t)m * e->N + n], sizeof(float)))
                e->bad_tile = 1;
        }
}
static void probe_rows(void *p, int m0, int m1) {
    epi_probe *e = p;
    for (int m = m0; m < m1; m++) {
        if (e->rowed[m]++) e->bad_rows = 1;
        for (int n = 0; n < e->N; n++)
            if ((e->tiled && e->tiled[(size_t)m * e->N + n] != 1) ||
                memcmp(&e->Y[m * e->ldy + n], &e->want[(size_t)m * e->N + n], sizeof(float)))
                e->bad_rows = 1;
    }
}
static void test_gemm_epilogue(int M, int N, int K) {
    size_t ldx = (size_t)K + 1, ldy = (size_t)N + 3, ldr = (size_t)N + 2;
    float *X = rnd((size_t)M * ldx, 1.0f), *W = rnd((size_t)N * K, 0.5f), *P = packed(W, N, K);
    float *bias = rnd((size_t)N, 1.0f), *R = rnd((size_t)M * ldr, 1.0f);
    float *sum = malloc((size_t)M * N * sizeof *sum), *want = malloc((size_t)M * N * sizeof *want);
    float *Y = malloc((size_t)M * ldy * sizeof *Y);
    unsigned char *tiled = malloc((size_t)M * N), *rowed = malloc((size_t)M);
    REQUIRE(sum && want && Y && tiled && rowed, "out of memory");
    vkb_cpu_gemm_packed(X, ldx, P, sum, M, N, K, NULL);
    for (int adds = 0; adds < 4; adds++) { /* none, bias, R, both */
        const float *b = adds & 1 ? bias : NULL, *r = adds & 2 ? R : NULL;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                float s = sum[(size_t)m * N + n];
                const float *rr = r ? r + m * ldr : NULL;
                want[(size_t)m * N + n] = b && rr ? s + (b[n] + rr[n]) : b ? s + b[n] : rr ? s + rr[n] : s;
            }
        for (int kern = VKB_CPU_GEMM_GENERIC; kern <= VKB_CPU_GEMM_AVX512; kern++)
            for (int th = 1; th <= 3; th += 2)
                for (int hooks = 0; hooks <= 3; hooks++) { /* none, tile, rows, both */
                    vkb_team *t = vkb_team_create(th);
                    REQUIRE(t, "team");
                    memset(tiled, 0, (size_t)M * N);
                    memset(rowed, 0, (size_t)M);
                    memset(Y, 0xff, (size_t)M * ldy * sizeof *Y);
                    epi_probe pr = {Y, want, ldy, N, hooks & 1 ? tiled : NULL, rowed, 0, 0};
                    vkb_gemm_epilogue e = {b, r, ldr, hooks & 1 ? probe_tile : NULL,
                                           hooks & 2 ? probe_rows : NULL, &pr};
                    vkb_cpu_gemm_packed_ex(X, ldx, P, Y, ldy, M, N, K, &e, t, kern);
                    vkb_team_free(t);
                    int missing = 0;
                    for (size_t i = 0; i < (size_t)M * N; i++) missing |= (hooks & 1) && tiled[i] != 1;
                    for (int m = 0; m < M; m++) missing |= (hooks & 2) && rowed[m] != 1;
                    int wrong = 0;
                    for (int m = 0; m < M; m++)
                        wrong |= memcmp(Y + m * ldy, want + (size_t)m * N, (size_t)N * sizeof *Y) != 0;
                    CHECK(!pr.bad_tile && !pr.bad_rows && !missing && !wrong,
                          "gemm epilogue %dx%dx%d kernel %d threads %d adds %d hooks %d: tile %d rows %d "
                          "missing %d wrong %d", M, N, K, kern, th, adds, hooks, pr.bad_tile, pr.bad_rows,
                          missing, wrong);
                }
    }
    free(X); free(W); free(P); free(bias); free(R); free(sum); free(want); free(Y); free(tiled);
    free(rowed);
}

/* act(X W^T + b + R) with strided X and R, against double and against the
 * fp64 linear; thread count does not change the result. */
static void test_linear_fast(int M, int N, int K) {
    size_t ldx = (size_t)K + 3, ldr = (size_t)N + 5;
    float *X = rnd((size_t)M * ldx, 1.0f), *W = rnd((size_t)N * K, 0.5f), *b = rnd(N, 1.0f);
    float *R = rnd((size_t)M * ldr, 2.0f), *P = packed(W, N, K);
    double *ref = malloc((size_t)M * N * sizeof *ref);
    float *Y = malloc((size_t)M * N * sizeof *Y), *Y1 = malloc((size_t)M * N * sizeof *Y1);
    float *Xc = malloc((size_t)M * K * sizeof *Xc), *Y64 = malloc((size_t)M * N * sizeof *Y64);
    REQUIRE(ref && Y && Y1 && Xc && Y64, "out of memory");
    for (int m = 0; m < M; m++) memcpy(Xc + (size_t)m * K, X + m * ldx, (size_t)K * sizeof *Xc);
    for (int act = 0; act <= 2; act++)
        for (int hasb = 0; hasb <= 1; hasb++)
            for (int hasr = 0; hasr <= 1; hasr++) {
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        double s = (hasb ? b[n] : 0) + (hasr ? R[m * ldr + n] : 0);
                        for (int k = 0; k < K; k++) s += (double)X[m * ldx + k] * W[n * K + k];
                        ref[m * N + n] = act_ref(s, (vkb_act)act);
                    }
                for (int th = 1; th <= 3; th++) {
                    vkb_team *t = vkb_team_create(th);
                    REQUIRE(t, "team");
                    memset(Y, 0xff, (size_t)M * N * sizeof *Y); /* NaN: every output written */
                    vkb_cpu_linear_fast(X, ldx, P, hasb ? b : NULL, hasr ? R : NULL, ldr, Y,
                                        (size_t)N, M, N, K, (vkb_act)act, t);
                    vkb_team_free(t);
                    double e = max_err(Y, ref, (size_t)M * N);
                    CHECK(e <= 2e-5, "linear_fast %dx%dx%d act %d bias %d res %d threads %d: err %g",
                          M, N, K, act, hasb, hasr, th, e);
                    if (th == 1) memcpy(Y1, Y, (size_t)M * N * sizeof *Y);
                    else CHECK(memcmp(Y, Y1, (size_t)M * N * sizeof *Y) == 0,
                               "linear_fast differs between 1 and %d threads", th);
                }
                if (!hasr) { /* next to the fp64 operator */
                    vkb_cpu_linear(Xc, W, hasb ? b : NULL, Y64, M, N, K, (vkb_act)act, 1, 2);
                    double d = 0;
                    for (size_t i = 0; i < (size_t)M * N; i++) {
                        double di = fabs((double)Y1[i] - Y64[i]) / (1.0 + fabs((double)Y64[i]));
                        if (!(di <= d)) d = di;
                    }
                    CHECK(d <= 2e-5, "linear_fast vs fp64 linear %dx%dx%d act %d: %g", M, N, K, act, d);
                }
            }
    free(X); free(W); free(b); free(R); free(ref); free(Y); free(Y1); free(Xc); free(Y64); free(P);
}

/* A row's result is the same bits whatever M and whatever rows share the
 * call: every run of M rows at every offset of a batch of MB, with 1 and 2
 * threads, gives the rows of the whole batch's call (GELU epilogue). */
static void test_linear_fast_rows(int N, int K) {
    int MB = 40;
    size_t ldx = (size_t)K + 1;
    float *X = rnd((size_t)MB * ldx, 1.0f), *W = rnd((size_t)N * K, 0.5f), *b = rnd(N, 1.0f);
    float *P = packed(W, N, K);
    float *Yall = malloc((size_t)MB * N * sizeof *Yall), *Y = malloc((size_t)MB * N * sizeof *Y);
    REQUIRE(Yall && Y, "out of memory");
    vkb_team *t2 = vkb_team_create(2);
    REQUIRE(t2, "team");
    vkb_cpu_linear_fast(X, ldx, P, b, NULL, 0, Yall, (size_t)N, MB, N, K, VKB_ACT_GELU, t2);
    int Ms[] = {1, 2, 3, 7, 13, 33, 39};
    int bad = 0;
    for (int th = 1; th <= 2; th++) {
        vkb_team *t = th == 2 ? t2 : NULL;
        for (size_t i = 0; i < sizeof Ms / sizeof *Ms; i++)
            for (int off = 0; off + Ms[i] <= MB; off++) {
                int M = Ms[i];
                vkb_cpu_linear_fast(X + (size_t)off * ldx, ldx, P, b, NULL, 0, Y, (size_t)N, M, N, K,
                                            VKB_ACT_GELU, t);
                if (memcmp(Y, Yall + (size_t)off * N, (size_t)M * N * sizeof *Y) && !bad++)
                    CHECK(0, "linear_fast %dx%d: rows %d..%d computed in a call of %d rows (%d threads) "
                          "differ from the call of %d", N, K, off, off + M - 1, M, th, MB);
            }
    }
    vkb_team_free(t2);
    free(X); free(W); free(b); free(Yall); free(Y); free(P);
}

/* LayerNorm(X W^T + b + R): the same bits as linear_fast then
 * layernorm_fast, and within 5e-5 of the fp64 operators. */
static void test_linear_ln_fast(int M, int N, int K) {
    size_t ldx = (size_t)K + 2, ldr = (size_t)N + 3;
    float *X = rnd((size_t)M * ldx, 1.0f), *W = rnd((size_t)N * K, 0.5f), *b = rnd(N, 1.0f);
    float *R = rnd((size_t)M * ldr, 2.0f), *g = rnd(N, 1.5f), *be = rnd(N, 1.0f);
    float *P = packed(W, N, K);
    float *Y = malloc((size_t)M * N * sizeof *Y), *Y2 = malloc((size_t)M * N * sizeof *Y2);
    float *Xc = malloc((size_t)M * K * sizeof *Xc), *Rc = malloc((size_t)M * N * sizeof *Rc);
    float *Y64 = malloc((size_t)M * N * sizeof *Y64);
    REQUIRE(Y && Y2 && Xc && Rc && Y64, "out of memory");
    for (int m = 0; m < M; m++) {
        memcpy(Xc + (size_t)m * K, X + m * ldx, (size_t)K * sizeof *Xc);
        memcpy(Rc + (size_t)m * N, R + m * ldr, (size_t)N * sizeof *Rc);
    }
    vkb_team *t = vkb_team_create(2);
    REQUIRE(t, "team");
    vkb_cpu_linear_ln_fast(X, ldx, P, b, R, ldr, g, be, 1e-12f, Y, M, N, K, t);
    vkb_cpu_linear_fast(X, ldx, P, b, R, ldr, Y2, (size_t)N, M, N, K, VKB_ACT_NONE, t);
    vkb_cpu_layernorm_fast(Y2, g, be, M, N, 1e-12f, t);
    vkb_team_free(t);
    CHECK(memcmp(Y, Y2, (size_t)M * N * sizeof *Y) == 0,
          "linear_ln_fast %dx%dx%d differs from linear_fast + layernorm_fast", M, N, K);
    vkb_cpu_linear(Xc, W, b, Y64, M, N, K, VKB_ACT_NONE, 1, 2);
    vkb_cpu_add_layernorm(Y64, Rc, g, be, Y64, M, N, 1e-12f, 1);
    double d = max_err_f(Y, Y64, (size_t)M * N);
    CHECK(d <= 5e-5, "linear_ln_fast vs fp64 %dx%dx%d: %g", M, N, K, d);
    free(X); free(W); free(b); free(R); free(g); free(be); free(Y); free(Y2); free(Xc); free(Rc);
    free(Y64); free(P);
}

static void test_layernorm_fast(int rows, int dim) {
    float *x = rnd((size_t)rows * dim, 3.0f), *g = rnd(dim, 1.5f), *be = rnd(dim, 1.0f);
    for (int i = 0; i < dim; i++) x[i] += 1000.0f;
    double *ref = malloc((size_t)rows * dim * sizeof *ref);
    float *y = malloc((size_t)rows * dim * sizeof *y), *y64 = malloc((size_t)rows * dim * sizeof *y);
    REQUIRE(ref && y && y64, "out of memory");
    for (int m = 0; m < rows; m++) ln_ref(x + m * dim, NULL, g, be, ref + m * dim, dim);
    vkb_cpu_add_layernorm(x, NULL, g, be, y64, rows, dim, 1e-12f, 1);
    for (int th = 1; th <= 3; th++) {
        vkb_team *t = vkb_team_create(th);
        REQUIRE(t, "team");
        memcpy(y, x, (size_t)rows * dim * sizeof *y);
        vkb_cpu_layernorm_fast(y, g, be, rows, dim, 1e-12f, t);
        vkb_team_free(t);
        double e = max_err(y, ref, (size_t)rows * dim);
        CHECK(e <= 5e-5, "layernorm_fast %dx%d threads %d: err %g", rows, dim, th, e);
        double d = 0;
        for (size_t i = 0; i < (size_t)rows * dim; i++) {
            double di = fabs((double)y[i] - y64[i]) / (1.0 + fabs((double)y64[i]));
            if (!(di <= d)) d = di;
        }
        CHECK(d <= 5e-5, "layernorm_fast vs fp64 %dx%d: %g", rows, dim, d);
    }
    free(x); free(g); free(be); free(ref); free(y); free(y64);
}

static void test_embed_fast(int B, int L, int dim) {
    int V = 17, P = L + 2;
    float *word = rnd((size_t)V * dim, 1.0f), *pos = rnd((size_t)P * dim, 1.0f);
    float *g = rnd(dim, 1.0f), *be = rnd(dim, 1.0f);
    int32_t *ids = malloc((size_t)B * L * sizeof *ids);
    double *ref = malloc((size_t)B * L * dim * sizeof *ref);
    float *y = malloc((size_t)B * L * dim * sizeof *y);
    REQUIRE(ids && ref && y, "out of memory");
    for (int i = 0; i < B * L; i++) ids[i] = (i * 7 + 3) % V;
    for (int b = 0; b < B; b++)
        for (int p = 0; p < L; p++)
            ln_ref(word + ids[b * L + p] * dim, pos + p * dim, g, be, ref + ((size_t)b * L + p) * dim, dim);
    for (int th = 1; th <= 3; th++) {
        vkb_team *t = vkb_team_create(th);
        REQUIRE(t, "team");
        memset(y, 0xff, (size_t)B * L * dim * sizeof *y);
        vkb_cpu_embed_fast(ids, word, pos, g, be, y, B, L, dim, 1e-12f, t);
        vkb_team_free(t);
        double e = max_err(y, ref, (size_t)B * L * dim);
        CHECK(e <= 5e-5, "embed_fast B%d L%d dim %d threads %d: err %g", B, L, dim, th, e);
    }
    free(word); free(pos); free(g); free(be); free(ids); free(ref); free(y);
}

/* Attention on fused q|k|v rows (stride 3*D + 5) against the double formula;
 * identical to the fp32 operator on separate q, k, v, whatever the team. */
static void test_attention_fast(int B, int L, int H, int hd) {
    int D = H * hd;
    size_t n = (size_t)B * L * D, ld = 3 * (size_t)D + 5;
    float *q = rnd(n, 2.0f), *k = rnd(n, 2.0f), *v = rnd(n, 1.0f);
    int32_t lens[4];
    for (int b = 0; b < B; b++) lens[b] = b == 0 ? L : 1 + (b * 37 + L / 2) % L;
    if (B > 1) lens[1] = 1;
    for (int b = 0; b < B; b++)
        for (int p = lens[b]; p < L; p++)
            for (int e = 0; e < D; e++) {
                k[((size_t)b * L + p) * D + e] = 50.0f;
                v[((size_t)b * L + p) * D + e] = 1e4f;
            }
    float *qkv = malloc((size_t)B * L * ld * sizeof *qkv);
    double *ref = malloc(n * sizeof *ref);
    float *ctx = malloc(n * sizeof *ctx), *ctx32 = malloc(n * sizeof *ctx32);
    REQUIRE(qkv && ref && ctx && ctx32, "out of memory");
    for (size_t m = 0; m < (size_t)B * L; m++) {
        memcpy(qkv + m * ld, q + m * D, (size_t)D * sizeof *qkv);
        memcpy(qkv + m * ld + D, k + m * D, (size_t)D * sizeof *qkv);
        memcpy(qkv + m * ld + 2 * D, v + m * D, (size_t)D * sizeof *qkv);
        for (int e = 0; e < 5; e++) qkv[m * ld + 3 * D + e] = NAN; /* the gap is never read */
    }
    attn_ref(q, k, v, ref, B, L, H, hd, lens);
    CHECK(vkb_cpu_attention(q, k, v, ctx32, B, L, H, hd, lens, 0, 1) == 0, "attention failed");
    for (int th = 1; th <= 3; th++) {
        vkb_team *t = vkb_team_create(th);
        REQUIRE(t, "team");
        memset(ctx, 0xff, n * sizeof *ctx);
        CHECK(vkb_cpu_attention_fast(qkv, ld, ctx, B, L, L, H, hd, lens, t) == 0, "attention_fast failed");
        double e = max_err(ctx, ref, n);
        CHECK(e <= 2e-5, "attention_fast B%d L%d H%d hd%d threads %d: err %g", B, L, H, hd, th, e);
        CHECK(memcmp(ctx, ctx32, n * sizeof *ctx) == 0,
              "attention_fast differs from the fp32 operator (B%d L%d H%d hd%d threads %d)", B, L, H, hd, th);
        /* the first nq queries only (1: the [CLS] rows the last layer of a
         * classifier needs): their bits as among all, the other rows untouched */
        int nqs[] = {1, 5, 33, L - 1};
        for (int qi = 0; qi < 4; qi++) {
            int nq = nqs[qi];
            if (nq < 1 || nq >= L) continue;
            memset(ctx, 0xff, n * sizeof *ctx);
            CHECK(vkb_cpu_attention_fast(qkv, ld, ctx, B, L, nq, H, hd, lens, t) == 0, "attention_fast failed");
            int ok = 1, kept = 1;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < L; i++) {
                    size_t o = ((size_t)b * L + i) * D;
                    if (i < nq) ok &= memcmp(ctx + o, ctx32 + o, (size_t)D * sizeof *ctx) == 0;
                    else
                        for (int e2 = 0; e2 < D; e2++) {
                            uint32_t u;
                            memcpy(&u, ctx + o + e2, 4);
                            kept &= u == 0xffffffffu;
                        }
                }
            CHECK(ok, "attention_fast B%d L%d H%d hd%d threads %d: the first %d queries differ from all L", B,
                  L, H, hd, th, nq);
            CHECK(kept, "attention_fast B%d L%d H%d hd%d threads %d nq %d: rows past nq written", B, L, H, hd,
                  th, nq);
        }
        vkb_team_free(t);
    }
    free(q); free(k); free(v); free(qkv); free(ref); free(ctx); free(ctx32);
}

/* ---- the vector kernels (cpu_simd.c) at every level this CPU runs ------------
 * Each level (AVX-512, AVX2+FMA, portable) must give the bits of the best
 * one: the operators are run (at the default level), then each kernel is
 * called at every level. */
static const int simd_levels[] = {VKB_CPU_SIMD_AVX512, VKB_CPU_SIMD_AVX2, VKB_CPU_SIMD_GENERIC};

static void test_attention_levels(int B, int L, int H, int hd) {
    int D = H * hd;
    size_t n = (size_t)B * L * D;
    float *q = rnd(n, 2.0f), *k = rnd(n, 2.0f), *v = rnd(n, 1.0f);
    int32_t lens[4];
    for (int b = 0; b < B; b++) lens[b] = b == 0 ? L : 1 + (b * 53 + L / 3) % L;
    double *ref = malloc(n * sizeof *ref);
    float *ctx0 = malloc(n * sizeof *ctx0), *ctx = malloc(n * sizeof *ctx);
    REQUIRE(ref && ctx0 && ctx, "out of memory");
    attn_ref(q, k, v, ref, B, L, H, hd, lens);
    CHECK(vkb_cpu_attention(q, k, v, ctx0, B, L, H, hd, lens, 0, 2) == 0, "attention failed");
    double e = max_err(ctx0, ref, n);
    CHECK(e <= 2e-5, "attention B%d L%d H%d hd%d: err %g", B, L, H, hd, e);
    float *scratch = malloc(vkb_cpu_attn_head_scratch(L, hd) * sizeof *scratch);
    REQUIRE(scratch, "out of memory");
    for (int i = 0; i < 3; i++) {
        int got = vkb_cpu_simd_level(simd_levels[i]);
        memset(ctx, 0xff, n * sizeof *ctx);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                size_t o = (size_t)b * L * D + (size_t)h * hd;
                vkb_cpu_attn_head(q + o, k + o, v + o, (size_t)D, ctx + o, (size_t)D, L, L, lens[b], hd,
                                  scratch, simd_levels[i]);
            }
        CHECK(memcmp(ctx, ctx0, n * sizeof *ctx) == 0,
              "attention B%d L%d H%d hd%d: level %d (asked %d) differs from the default", B, L, H,
              hd, got, simd_levels[i]);
    }
    free(scratch);
    /* a sequence alone (B = 1, its own length as L) gives its bits in the batch */
    for (int b = 0; b < B; b++) {
        int Lb = lens[b];
        float *cb = malloc((size_t)Lb * D * sizeof *cb);
        REQUIRE(cb, "out of memory");
        CHECK(vkb_cpu_attention(q + (size_t)b * L * D, k + (size_t)b * L * D, v + (size_t)b * L * D,
                                cb, 1, Lb, H, hd, &lens[b], 0, 1) == 0, "attention failed");
        CHECK(memcmp(cb, ctx0 + (size_t)b * L * D, (size_t)Lb * D * sizeof *cb) == 0,
              "attention L%d hd%d: sequence %d (length %d) alone differs from in the batch", L, hd,
              b, Lb);
        free(cb);
    }
    free(q); free(k); free(v); free(ref); free(ctx0); free(ctx);
}

static void test_rows_levels(int dim) {
    int rows = 5;
    size_t n = (size_t)rows * dim;
    float *x = rnd(n, 3.0f), *r = rnd(n, 2.0f), *g = rnd(dim, 1.5f), *be = rnd(dim, 1.0f);
    for (int i = 0; i < dim; i++) x[i] += 1000.0f;
    float *y0 = malloc(n * sizeof *y0), *y = malloc(n * sizeof *y);
    REQUIRE(y0 && y, "out of memory");
    for (int hasr = 0; hasr <= 1; hasr++) {
        vkb_cpu_add_layernorm(x, hasr ? r : NULL, g, be, y0, rows, dim, 1e-12f, 0);
        for (int i = 0; i < 3; i++) {
            int got = vkb_cpu_simd_level(simd_levels[i]);
            for (int m = 0; m < rows; m++)
                vkb_cpu_layernorm_row(x + (size_t)m * dim, hasr ? r + (size_t)m * dim : NULL, g, be,
                                      y + (size_t)m * dim, dim, 1e-12f, simd_levels[i]);
            CHECK(memcmp(y, y0, n * sizeof *y) == 0, "layernorm dim %d r %d: level %d differs", dim,
                  hasr, got);
        }
    }
    /* GELU */
    for (size_t i = 0; i < n; i++) y0[i] = x[i] - (i % 3 == 0 ? 1000.0f : 0.0f);
    memcpy(y, y0, n * sizeof *y);
    vkb_cpu_gelu_fast(y0, n);
    float *y2 = malloc(n * sizeof *y2);
    REQUIRE(y2, "out of memory");
    for (int i = 0; i < 3; i++) {
        int got = vkb_cpu_simd_level(simd_levels[i]);
        memcpy(y2, y, n * sizeof *y);
        vkb_cpu_gelu_span(y2, n, simd_levels[i]);
        CHECK(memcmp(y2, y0, n * sizeof *y) == 0, "gelu n %zu: level %d differs", n, got);
        /* odd lengths and offsets: an element's bits do not depend on its position */
        memcpy(y2, y, n * sizeof *y);
        vkb_cpu_gelu_span(y2 + 3, (size_t)dim - 3, simd_levels[i]);
        CHECK(memcmp(y2 + 3, y0 + 3, ((size_t)dim - 3) * sizeof *y) == 0,
              "gelu at offset 3: level %d differs", got);
    }
    free(x); free(r); free(g); free(be); free(y0); free(y); free(y2);
}

/* The low-precision rows against their scalar formulas (cpu_lowp.c before
 * they were vectorized): bf16 round to nearest even, u8 quantization, the
 * epilogue; exact at every level. */
static uint16_t bf16_ref(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static void quant_ref(const float *x, int K, uint8_t *q, float *scale, int32_t *zp) {
    float lo = 0, hi = 0;
    for (int k = 0; k < K; k++) {
        lo = fminf(lo, x[k]);
        hi = fmaxf(hi, x[k]);
    }
    float s = (hi - lo) / 255.0f;
    if (!(s > 0)) s = 1.0f;
    float inv = 1.0f / s;
    float z = nearbyintf(-lo * inv);
    z = z < 0 ? 0 : z > 255 ? 255 : z;
    for (int k = 0; k < K; k++) {
        float v = nearbyintf(x[k] * inv) + z;
        q[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    *scale = s;
    *zp = (int32_t)z;
}

static void test_lowp_rows(int K) {
    float *x = rnd((size_t)K, 4.0f);
    /* ties and denormals for the rounding; an all-positive and an all-zero row */
    if (K > 4) {
        uint32_t tie = 0x3f808000u, den = 0x00018000u;
        memcpy(&x[0], &tie, 4);
        memcpy(&x[1], &den, 4);
        x[2] = -0.0f;
    }
    uint16_t *b0 = malloc((size_t)K * 2), *b1 = malloc((size_t)K * 2);
    uint8_t *q0 = malloc((size_t)K), *q1 = malloc((size_t)K);
    float *pos = malloc((size_t)K * sizeof *pos), *zero = calloc((size_t)K, sizeof *zero);
    REQUIRE(b0 && b1 && q0 && q1 && pos && zero, "out of memory");
    for (int k = 0; k < K; k++) pos[k] = 1.0f + fabsf(x[k]);
    for (int k = 0; k < K; k++) b0[k] = bf16_ref(x[k]);
    for (int i = 0; i < 3; i++) {
        int got = vkb_cpu_simd_level(simd_levels[i]);
        memset(b1, 0, (size_t)K * 2);
        vkb_cpu_bf16_row(x, b1, K, simd_levels[i]);
        CHECK(memcmp(b0, b1, (size_t)K * 2) == 0, "bf16 row K %d level %d", K, got);
        const float *rows[] = {x, pos, zero};
        for (int rr = 0; rr < 3; rr++) {
            float s0, s1;
            int32_t z0, z1;
            quant_ref(rows[rr], K, q0, &s0, &z0);
            vkb_cpu_quant_u8_row(rows[rr], K, q1, &s1, &z1, simd_levels[i]);
            CHECK(memcmp(q0, q1, (size_t)K) == 0 && s0 == s1 && z0 == z1,
                  "u8 row %d K %d level %d: differs from the scalar formula", rr, K, got);
        }
    }
    /* the epilogue: int8 scaling, bias, activation, residual, LayerNorm */
    int N = K;
    int32_t *acc = malloc((size_t)N * sizeof *acc), *wsum = malloc((size_t)N * sizeof *wsum);
    float *wsc = rnd((size_t)N, 0.01f), *b = rnd((size_t)N, 1.0f), *r = rnd((size_t)N, 1.0f);
    float *g = rnd((size_t)N, 1.0f), *be = rnd((size_t)N, 1.0f);
    float *y0 = malloc((size_t)N * sizeof *y0), *y1 = malloc((size_t)N * sizeof *y1);
    REQUIRE(acc && wsum && y0 && y1, "out of memory");
    for (int i = 0; i < N; i++) {
        acc[i] = (int32_t)((i * 7919u) % 20001u) - 10000;
        wsum[i] = (int32_t)((i * 104729u) % 2001u) - 1000;
    }
    vkb_lp_row_q qz = {wsum, wsc, 17, 0.03f};
    for (int int8 = 0; int8 <= 1; int8++)
        for (int act = 0; act <= 2; act++)
            for (int ln = 0; ln <= 1; ln++) {
                for (int i = 0; i < N; i++) {
                    float v = int8 ? (float)(acc[i] - qz.zp * wsum[i]) * (qz.sa * wsc[i]) : x[i];
                    v += b[i];
                    if (act == 1) { y0[i] = v; vkb_cpu_gelu_fast(&y0[i], 1); v = y0[i]; }
                    else if (act == 2) v = v > 0 ? v : 0;
                    y0[i] = v + r[i];
                }
                if (ln) vkb_cpu_layernorm_row(y0, NULL, g, be, y0, N, 1e-12f, VKB_CPU_SIMD_AUTO);
                for (int i = 0; i < 3; i++) {
                    int got = vkb_cpu_simd_level(simd_levels[i]);
                    if (int8) memcpy(y1, acc, (size_t)N * sizeof *y1);
                    else memcpy(y1, x, (size_t)N * sizeof *y1);
                    vkb_cpu_lp_epilogue_row(y1, N, int8 ? &qz : NULL, b, (vkb_act)act, r,
                                            ln ? g : NULL, be, 1e-12f, simd_levels[i]);
                    CHECK(memcmp(y0, y1, (size_t)N * sizeof *y1) == 0,
                          "lp epilogue N %d int8 %d act %d ln %d level %d differs", N, int8, act, ln,
                          got);
                }
            }
    free(x); free(b0); free(b1); free(q0); free(q1); free(pos); free(zero);
    free(acc); free(wsum); free(wsc); free(b); free(r); free(g); free(be); free(y0); free(y1);
}

int main(void) {
    test_attention_no_memory();
    test_linear(77, 130, 100);
    test_linear(1, 3, 1);
    test_linear(130, 77, 257);
    test_layernorm(7, 48);
    test_layernorm(3, 768);
    test_embed();
    int Ls[] = {1, 7, 129};
    int hds[] = {32, 64, 13};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) test_attention(3, Ls[i], 3, hds[j]);
    test_attention(1, 5, 12, 64);
    test_team();
    test_gelu_fast();
    int gemm_mnk[][3] = {{1, 1, 1}, {1, 5, 7}, {13, 33, 1}, {25, 31, 513}, {7, 100, 1100},
                         {200, 50, 20}, {197, 17, 390}, {12, 64, 512}, {1, 300, 33},
                         {400, 40, 530}, {781, 33, 45}};
    for (int i = 0; i < 11; i++) test_gemm_packed(gemm_mnk[i][0], gemm_mnk[i][1], gemm_mnk[i][2]);
    test_gemm_packed(100, 70, 1024); /* X rows 4 KB apart: copied by default */
    int epi_mnk[][3] = {{1, 1, 1}, {13, 33, 600}, {400, 70, 30}, {1000, 40, 9}, {5, 2, 0}};
    for (int i = 0; i < 5; i++) test_gemm_epilogue(epi_mnk[i][0], epi_mnk[i][1], epi_mnk[i][2]);
    test_linear_fast(77, 130, 100);
    test_linear_fast(1, 3, 1);
    test_linear_fast(130, 77, 257);
    test_linear_fast(3, 40, 70);
    test_linear_fast(5, 2, 77);   /* narrow: one zero-padded panel */
    test_linear_fast(1, 300, 33);
    test_linear_fast(400, 20, 530); /* two row blocks, two K blocks */
    int rows_nk[][2] = {{2, 768}, {5, 33}, {40, 70}, {256, 256}, {300, 257}, {768, 768}};
    for (int i = 0; i < 6; i++) test_linear_fast_rows(rows_nk[i][0], rows_nk[i][1]);
    test_layernorm_fast(7, 48);
    test_linear_ln_fast(37, 77, 100);
    test_linear_ln_fast(3, 40, 70);
    test_linear_ln_fast(5, 20, 33); /* narrow */
    test_layernorm_fast(37, 768);
    test_embed_fast(3, 9, 20);
    test_embed_fast(5, 33, 77);
    int fLs[] = {1, 7, 33, 129};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) test_attention_fast(3, fLs[i], 3, hds[j]);
    test_attention_fast(1, 65, 12, 64);
    int lLs[] = {1, 7, 33, 130};
    int lhds[] = {32, 64, 13};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) test_attention_levels(4, lLs[i], 2, lhds[j]);
    int dims[] = {1, 15, 16, 33, 768};
    for (int i = 0; i < 5; i++) {
        test_rows_levels(dims[i] < 4 ? 4 : dims[i]);
        test_lowp_rows(dims[i]);
    }
    return vkb_test_done("test_cpu_ops");
}
