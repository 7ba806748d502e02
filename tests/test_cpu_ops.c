/* test_cpu_ops.c - the CPU reference operators against naive double-precision
 * formulas written out here, at odd sizes, in fp32 and fp64 modes, with
 * 1..3 threads (results must not depend on the thread count). */
#include "testutil.h"
#include "cpu_ops.h"
#include <math.h>
#include <string.h>

static uint64_t rng = 12345;

static float *rnd(size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    REQUIRE(x, "out of memory");
    vkb_test_rand(x, n, scale, &rng);
    return x;
}

/* max |a-b| / (1 + |b|): absolute near zero, relative for large values */
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
 * NaN-filled output: L = 2^30 asks for ~2^62 bytes of fp32 scores, more than
 * any address space (so this fails even with memory overcommit); the
 * failure comes before any input is read, so small buffers do. */
static void test_attention_no_memory(void) {
    float q[4] = {0}, k[4] = {0}, v[4] = {0}, ctx[4] = {1, 2, 3, 4};
    int32_t lens[1] = {1};
    CHECK(vkb_cpu_attention(q, k, v, ctx, 1, 1 << 30, 1, 1, lens, 0, 1) == -1, "no error");
    CHECK(ctx[0] == 1 && ctx[3] == 4, "ctx written on failure");
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
    return vkb_test_done("test_cpu_ops");
}
