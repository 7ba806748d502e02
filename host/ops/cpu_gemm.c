/* cpu_gemm.c - the fast fp32 path's GEMM, Y = X W^T, on weights packed once.
 *
 * Layout.  W [N,K] (row-major, as in the checkpoint) is packed into panels
 * of VKB_GEMM_NR = 32 output columns: panel p holds W[32p + j][k] at
 * P[(p K + k) 32 + j], k-major, the last panel zero-padded.  A micro-kernel
 * keeps a tile of rows x 32 (or 16) outputs in registers and, for each k,
 * loads the panel's 32 weights once and broadcasts x[r][k] of each row.
 * OpenBLAS re-packed every weight on every call (M is small: 33 of 190 ms
 * of a 1x128 forward pass); here that work is done once, at load.
 *
 * Bits.  Every output is one chain of fused multiply-adds over k = 0..K-1,
 * in order, starting from 0: y = fma(x[k], w[k], y).  Blocking over K only
 * parks the running sum in Y between blocks (stored and reloaded as the
 * same float), so neither the tile shape, the row's place in the batch,
 * the number of rows M, the thread count nor the instruction set changes a
 * single bit: the AVX-512 kernel (12 x 32 tiles), the AVX2 one (6 x 16)
 * and the portable one (fmaf, correctly rounded wherever it runs) give the
 * same results (the tests compare each with an fmaf chain to the bit).  The
 * vector kernels use the FMA intrinsics (a contracted `a += s * b` is an FMA
 * only at some optimization levels), in functions compiled per ISA with
 * target attributes and picked per call with __builtin_cpu_supports (not
 * target_clones: each ISA wants its own tile shape).
 *
 * Threads.  Tasks are (row block, group of panels); every task writes
 * disjoint outputs, on the caller's team. */
#include "cpu_ops.h"
#include "parallel.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NR VKB_GEMM_NR
#ifndef VKB_GEMM_KC
#define VKB_GEMM_KC 512
#endif
#ifndef VKB_GEMM_MC
#define VKB_GEMM_MC 384
#endif
/* Blocking (chosen with bench/cpu_gemm_bench on the project's 2-core Zen 4:
 * KC 256/384/512 x MC 96/192/384, best 512 x 384): a task runs over K in
 * blocks of KC (the panels' slices, 64 KB each, stream from L2) for at most
 * about MC rows (whose KC-slice, <= 768 KB, stays in L2). */
#define KC VKB_GEMM_KC
#define XS (KC + 16) /* the row stride of X's copy (see gemm_task) */
#define MC VKB_GEMM_MC
#ifndef VKB_GEMM_TASKS_PER_SLOT
#define VKB_GEMM_TASKS_PER_SLOT 4
#endif
#define TASKS_PER_SLOT VKB_GEMM_TASKS_PER_SLOT

size_t vkb_cpu_pack_size(int N, int K) {
    if (N <= 0 || K <= 0) return 0;
    return (size_t)(N + NR - 1) / NR * NR * (size_t)K;
}

void vkb_cpu_pack_weights(const float *W, int N, int K, float *P) {
    int panels = (N + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        float *dst = P + (size_t)p * K * NR;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < NR; j++) {
                int n = p * NR + j;
                dst[(size_t)k * NR + j] = n < N ? W[(size_t)n * K + k] : 0.0f;
            }
    }
}

/* A micro-kernel: y[r][j] (rows r < nr, columns j < cols, rows ldy apart)
 * = (first ? 0 : y[r][j]) + sum over k < kc of x_r[k] p[k NR + j], as a
 * chain of FMAs in k order.  Rows r >= nr (a tile past the last row: their x
 * pointers repeat the last row) and columns j >= cols are computed and
 * dropped, so an edge tile runs in place like any other.  While it runs it
 * prefetches npf cache lines from pf into L2, one per k step: the caller
 * spreads the next weight slice over the tiles of this one, so that slice is
 * in cache when its first tile starts (the weights stream from memory once
 * per forward pass at small M; the first tile over a slice otherwise waited
 * on it); and it prefetches its own slice 16 k steps ahead into L1 (a
 * 64 KB slice does not stay in L1 from one tile to the next: +4-10% on one
 * core of the Xeon).  With add (the last K block), the sums then get b + r (or b, or
 * r) added before they are stored: y = sum + (b + r), as a pass over Y would. */
typedef struct {
    const float *b; /* + b[j] (the tile's columns), or NULL */
    const float *res; /* + res[row ldr + j], or NULL */
    size_t ldr;
} tile_add;
typedef void (*gemm_kernel)(const float *const *x, const float *p, int kc, float *y, size_t ldy,
                            int first, int nr, int cols, const char *pf, int npf, const tile_add *add);

#define R6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define R12(X) R6(X) X(6) X(7) X(8) X(9) X(10) X(11)

#if defined(__x86_64__) && defined(__GNUC__)
#define VKB_GEMM_X86 1
/* The FMA intrinsics, not `a += s * b`: whether the compiler contracts that
 * into an FMA depends on the optimization level (not at -O1: other bits). */
#include <immintrin.h>
/* AVX-512: 12 rows x 32 columns, 24 zmm accumulators; edges by masks. */
#define D2(r) __m512 a##r##0, a##r##1; const float *x##r = x[r];
#define L2(r)                                                                                  \
    if (first || (r) >= nr) a##r##0 = a##r##1 = _mm512_setzero_ps();                           \
    else {                                                                                     \
        a##r##0 = _mm512_maskz_loadu_ps(m0, y + (size_t)(r) * ldy);                            \
        a##r##1 = _mm512_maskz_loadu_ps(m1, y + (size_t)(r) * ldy + 16);                       \
    }
#define F2(r)                                                                                  \
    {                                                                                          \
        __m512 s = _mm512_set1_ps(x##r[k]);                                                    \
        a##r##0 = _mm512_fmadd_ps(s, b0, a##r##0);                                             \
        a##r##1 = _mm512_fmadd_ps(s, b1, a##r##1);                                             \
    }
#define S2(r)                                                                                  \
    if ((r) < nr) {                                                                            \
        if (add) {                                                                             \
            __m512 c0 = cb0, c1 = cb1;                                                         \
            if (add->res) {                                                                      \
                const float *rr = add->res + (size_t)(r) * add->ldr;                             \
                __m512 r0 = _mm512_maskz_loadu_ps(m0, rr), r1 = _mm512_maskz_loadu_ps(m1, rr + 16); \
                c0 = add->b ? _mm512_add_ps(cb0, r0) : r0;                                     \
                c1 = add->b ? _mm512_add_ps(cb1, r1) : r1;                                     \
            }                                                                                  \
            a##r##0 = _mm512_add_ps(a##r##0, c0);                                              \
            a##r##1 = _mm512_add_ps(a##r##1, c1);                                              \
        }                                                                                      \
        _mm512_mask_storeu_ps(y + (size_t)(r) * ldy, m0, a##r##0);                             \
        _mm512_mask_storeu_ps(y + (size_t)(r) * ldy + 16, m1, a##r##1);                        \
    }
#define KLOOP_AVX512(K0, K1, PF)                                                               \
    for (int k = (K0); k < (K1); k++) {                                                        \
        PF _mm_prefetch((const char *)(p + (size_t)(k + 16) * NR), _MM_HINT_T0);               \
        _mm_prefetch((const char *)(p + (size_t)(k + 16) * NR + 16), _MM_HINT_T0);             \
        __m512 b0 = _mm512_loadu_ps(p + (size_t)k * NR);                                       \
        __m512 b1 = _mm512_loadu_ps(p + (size_t)k * NR + 16);                                  \
        R12(F2)                                                                                \
    }
__attribute__((target("avx512f,fma"))) static void kern_avx512(const float *const *x, const float *p,
                                                              int kc, float *y, size_t ldy, int first,
                                                              int nr, int cols, const char *pf, int npf,
                                                              const tile_add *add) {
    __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
    R12(D2)
    R12(L2)
    int kp = pf && npf > 0 ? (npf < kc ? npf : kc) : 0;
    KLOOP_AVX512(0, kp, _mm_prefetch(pf + (size_t)k * 64, _MM_HINT_T1);)
    KLOOP_AVX512(kp, kc, )
    __m512 cb0 = _mm512_setzero_ps(), cb1 = cb0;
    if (add && add->b) {
        cb0 = _mm512_maskz_loadu_ps(m0, add->b);
        cb1 = _mm512_maskz_loadu_ps(m1, add->b + 16);
    }
    R12(S2)
}

/* AVX2: 6 rows x 16 columns (half a panel), 12 ymm accumulators. */
#define D1(r) __m256 a##r##0, a##r##1; const float *x##r = x[r];
#define L1(r)                                                                                  \
    if (first || (r) >= nr) a##r##0 = a##r##1 = _mm256_setzero_ps();                           \
    else {                                                                                     \
        a##r##0 = _mm256_maskload_ps(y + (size_t)(r) * ldy, m0);                               \
        a##r##1 = _mm256_maskload_ps(y + (size_t)(r) * ldy + 8, m1);                           \
    }
#define F1(r)                                                                                  \
    {                                                                                          \
        __m256 s = _mm256_set1_ps(x##r[k]);                                                    \
        a##r##0 = _mm256_fmadd_ps(s, b0, a##r##0);                                             \
        a##r##1 = _mm256_fmadd_ps(s, b1, a##r##1);                                             \
    }
#define S1(r)                                                                                  \
    if ((r) < nr) {                                                                            \
        if (add) {                                                                             \
            __m256 c0 = cb0, c1 = cb1;                                                         \
            if (add->res) {                                                                      \
                const float *rr = add->res + (size_t)(r) * add->ldr;                             \
                __m256 r0 = _mm256_maskload_ps(rr, m0), r1 = _mm256_maskload_ps(rr + 8, m1);   \
                c0 = add->b ? _mm256_add_ps(cb0, r0) : r0;                                     \
                c1 = add->b ? _mm256_add_ps(cb1, r1) : r1;                                     \
            }                                                                                  \
            a##r##0 = _mm256_add_ps(a##r##0, c0);                                              \
            a##r##1 = _mm256_add_ps(a##r##1, c1);                                              \
        }                                                                                      \
        _mm256_maskstore_ps(y + (size_t)(r) * ldy, m0, a##r##0);                               \
        _mm256_maskstore_ps(y + (size_t)(r) * ldy + 8, m1, a##r##1);                           \
    }
#define KLOOP_AVX2(K0, K1, PF)                                                                 \
    for (int k = (K0); k < (K1); k++) {                                                        \
        PF _mm_prefetch((const char *)(p + (size_t)(k + 16) * NR), _MM_HINT_T0);               \
        __m256 b0 = _mm256_loadu_ps(p + (size_t)k * NR);                                       \
        __m256 b1 = _mm256_loadu_ps(p + (size_t)k * NR + 8);                                   \
        R6(F1)                                                                                 \
    }
__attribute__((target("avx2,fma"))) static void kern_avx2(const float *const *x, const float *p,
                                                         int kc, float *y, size_t ldy, int first,
                                                         int nr, int cols, const char *pf, int npf,
                                                         const tile_add *add) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane);
    __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), lane);
    R6(D1)
    R6(L1)
    int kp = pf && npf > 0 ? (npf < kc ? npf : kc) : 0;
    KLOOP_AVX2(0, kp, _mm_prefetch(pf + (size_t)k * 64, _MM_HINT_T1);)
    KLOOP_AVX2(kp, kc, )
    __m256 cb0 = _mm256_setzero_ps(), cb1 = cb0;
    if (add && add->b) {
        cb0 = _mm256_maskload_ps(add->b, m0);
        cb1 = _mm256_maskload_ps(add->b + 8, m1);
    }
    R6(S1)
}
#endif

/* Anywhere: 4 rows x 32 columns with fmaf (the same rounding as the FMA
 * instructions; a library call where the CPU has none).  No prefetch. */
static void kern_generic(const float *const *x, const float *p, int kc, float *y, size_t ldy,
                         int first, int nr, int cols, const char *pf, int npf, const tile_add *add) {
    (void)pf;
    (void)npf;
    float a[4][NR];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < NR; j++) a[r][j] = first || r >= nr || j >= cols ? 0.0f : y[(size_t)r * ldy + j];
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < 4; r++) {
            float s = x[r][k];
            for (int j = 0; j < NR; j++) a[r][j] = fmaf(s, p[(size_t)k * NR + j], a[r][j]);
        }
    if (add)
        for (int r = 0; r < nr && r < 4; r++)
            for (int j = 0; j < cols; j++) {
                const float *rr = add->res ? add->res + (size_t)r * add->ldr : NULL;
                a[r][j] += add->b && rr ? add->b[j] + rr[j] : add->b ? add->b[j] : rr[j];
            }
    for (int r = 0; r < nr && r < 4; r++) memcpy(y + (size_t)r * ldy, a[r], (size_t)cols * sizeof(float));
}

typedef struct {
    gemm_kernel kern;
    int mr, tw; /* the kernel's rows and columns (32: a panel, 16: half) */
} kernel_info;

/* The best kernel this CPU runs, or the one asked for (VKB_CPU_GEMM_*) if it can. */
static kernel_info pick_kernel(int want, int *got) {
#ifdef VKB_GEMM_X86
    int fma = __builtin_cpu_supports("fma");
    if ((want == VKB_CPU_GEMM_AUTO || want == VKB_CPU_GEMM_AVX512) && fma && __builtin_cpu_supports("avx512f")) {
        *got = VKB_CPU_GEMM_AVX512;
        return (kernel_info){kern_avx512, 12, 32};
    }
    if ((want == VKB_CPU_GEMM_AUTO || want == VKB_CPU_GEMM_AVX2) && fma && __builtin_cpu_supports("avx2")) {
        *got = VKB_CPU_GEMM_AVX2;
        return (kernel_info){kern_avx2, 6, 16};
    }
#endif
    (void)want;
    *got = VKB_CPU_GEMM_GENERIC;
    return (kernel_info){kern_generic, 4, 32};
}

typedef struct {
    const float *X, *P;
    float *Y;
    size_t ldx, ldy;
    int M, N, K, panels, n_chunks, tiles, mblocks;
    kernel_info ki;
    float *xpack; /* per slot: xrows x XS floats, or NULL: X read in place */
    int xrows;
    const vkb_gemm_epilogue *epi;
    atomic_int *tile_done; /* per row tile: tasks done with it, with epi->rows */
} gemm_ctx;

static void gemm_task(void *arg, int task, int slot) {
    const gemm_ctx *c = arg;
    int mb = task / c->n_chunks, ch = task % c->n_chunks;
    int mr = c->ki.mr, tw = c->ki.tw, N = c->N, K = c->K;
    /* even shares of the row tiles and of the panels */
    int m0 = (int)((long long)mb * c->tiles / c->mblocks) * mr;
    int m1 = (int)((long long)(mb + 1) * c->tiles / c->mblocks) * mr;
    if (m1 > c->M) m1 = c->M;
    int p0 = (int)((long long)ch * c->panels / c->n_chunks);
    int p1 = (int)((long long)(ch + 1) * c->panels / c->n_chunks);
    int ntiles = (m1 - m0 + mr - 1) / mr;
    const float *rows[12];
    float *xp = c->xpack ? c->xpack + (size_t)slot * c->xrows * XS : NULL;
    const vkb_gemm_epilogue *epi = c->epi;
    /* K block by K block: each panel's KC slice (64 KB, L1/L2) through all
     * the task's row tiles (X's KC slice of them, in L2), the next slice
     * prefetched meanwhile.  Where X's rows are a multiple of 4 KB apart
     * (all in the same L1 sets: 0.75x the speed at K = 3072 on Zen 4), they
     * are first copied XS floats apart. */
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC, last = k0 + KC >= K;
        if (xp)
            for (int m = m0; m < m1; m++)
                memcpy(xp + (size_t)(m - m0) * XS, c->X + (size_t)m * c->ldx + k0, (size_t)kc * sizeof *xp);
        for (int p = p0; p < p1; p++) {
            const float *pp = c->P + ((size_t)p * K + k0) * NR;
            /* the slice this task reads next: the next panel's, or the
             * first panel's in the next K block */
            const float *next = p + 1 < p1 ? c->P + ((size_t)(p + 1) * K + k0) * NR
                                : !last    ? c->P + ((size_t)p0 * K + k0 + KC) * NR
                                           : NULL;
            int next_kc = p + 1 < p1 ? kc : (K - k0 - KC < KC ? K - k0 - KC : KC);
            int lines = next ? next_kc * NR * (int)sizeof(float) / 64 : 0; /* 2 per k */
            int per_tile = (lines + ntiles - 1) / ntiles;
            int n0 = p * NR, cols = N - n0 < NR ? N - n0 : NR;
            for (int t = 0; t < ntiles; t++) {
                int i = m0 + t * mr, nr = m1 - i < mr ? m1 - i : mr;
                for (int r = 0; r < mr; r++) {
                    int m = r < nr ? i + r : m1 - 1; /* past the last row: repeat it, dropped */
                    rows[r] = xp ? xp + (size_t)(m - m0) * XS : c->X + (size_t)m * c->ldx + k0;
                }
                const char *pf = NULL;
                int npf = 0;
                if (t * per_tile < lines) {
                    pf = (const char *)next + (size_t)t * per_tile * 64;
                    npf = lines - t * per_tile < per_tile ? lines - t * per_tile : per_tile;
                }
                float *y = c->Y + (size_t)i * c->ldy + n0;
                for (int j0 = 0; j0 < NR && j0 < cols; j0 += tw) {
                    tile_add add = {epi && epi->bias ? epi->bias + n0 + j0 : NULL,
                                    epi && epi->R ? epi->R + (size_t)i * epi->ldr + n0 + j0 : NULL,
                                    epi ? epi->ldr : 0};
                    c->ki.kern(rows, pp + j0, kc, y + j0, c->ldy, k0 == 0, nr, cols - j0,
                               j0 ? NULL : pf, npf, last && (add.b || add.res) ? &add : NULL);
                }
                if (last && epi && epi->tile) epi->tile(epi->ctx, i, nr, n0, cols);
                /* the tile's rows done in this task's last panel: whole-row
                 * work (LayerNorm) by the task that finished them last, so
                 * the tasks ending together share it */
                if (last && p == p1 - 1 && epi && epi->rows &&
                    atomic_fetch_add(&c->tile_done[i / mr], 1) == c->n_chunks - 1)
                    epi->rows(epi->ctx, i, i + nr);
            }
        }
    }
}

int vkb_cpu_gemm_packed_ex(const float *X, size_t ldx, const float *P, float *Y, size_t ldy, int M,
                           int N, int K, const vkb_gemm_epilogue *epi, vkb_team *team, int kernel) {
    int got, flags = kernel & (VKB_CPU_GEMM_X_IN_PLACE | VKB_CPU_GEMM_X_COPY);
    kernel_info ki = pick_kernel(kernel & ~(VKB_CPU_GEMM_X_IN_PLACE | VKB_CPU_GEMM_X_COPY), &got);
    if (M <= 0 || N <= 0) return got;
    if (K <= 0) {
        for (int m = 0; m < M; m++) {
            float *y = Y + (size_t)m * ldy;
            const float *r = epi && epi->R ? epi->R + (size_t)m * epi->ldr : NULL;
            const float *b = epi ? epi->bias : NULL;
            for (int n = 0; n < N; n++) y[n] = 0.0f + (b && r ? b[n] + r[n] : b ? b[n] : r ? r[n] : 0.0f);
        }
        if (epi && epi->tile)
            for (int m = 0; m < M; m++) epi->tile(epi->ctx, m, 1, 0, N);
        if (epi && epi->rows) epi->rows(epi->ctx, 0, M);
        return got;
    }
    gemm_ctx c = {X, P, Y, ldx, ldy, M, N, K, (N + NR - 1) / NR, 0, 0, 0, ki, NULL, 0, epi, NULL};
    c.tiles = (M + ki.mr - 1) / ki.mr;
    c.mblocks = (M + MC - 1) / MC;
    if (c.mblocks > c.tiles) c.mblocks = c.tiles;
    int slots = team ? vkb_team_slots(team) : 1;
    /* about 4 tasks per slot, their count a multiple of the slots where the
     * panels allow, so that the slots finish together (capping a task's
     * panels, so that the outputs it revisits stay in L2, measured no
     * better) */
    c.n_chunks = (TASKS_PER_SLOT * slots + c.mblocks - 1) / c.mblocks;
    while (c.n_chunks < c.panels && (c.mblocks * c.n_chunks) % slots) c.n_chunks++;
    if (c.n_chunks > c.panels) c.n_chunks = c.panels;
    int tasks = c.mblocks * c.n_chunks;
    int par = team && slots > 1 && tasks > 1;
    /* X's copies (<= 0.8 MB per slot) where its rows alias in L1 (or when
     * asked); without them (out of memory) X is read in place: same bits */
    int xslots = par ? (slots < tasks ? slots : tasks) : 1;
    int copy = flags & VKB_CPU_GEMM_X_COPY ? 1 : flags & VKB_CPU_GEMM_X_IN_PLACE ? 0 : ldx % 1024 == 0;
    c.xrows = M < MC + 12 ? M : MC + 12; /* a task's rows: at most MC + one tile */
    c.xpack = copy ? malloc((size_t)xslots * c.xrows * XS * sizeof(float)) : NULL;
    atomic_int done_small[64];
    atomic_int *done = NULL;
    if (epi && epi->rows) {
        done = c.tiles <= 64 ? done_small : malloc((size_t)c.tiles * sizeof *done);
        if (!done) { /* no counters: whole rows after the GEMM, here */
            vkb_gemm_epilogue e = *epi;
            e.rows = NULL;
            vkb_cpu_gemm_packed_ex(X, ldx, P, Y, ldy, M, N, K, &e, team, kernel);
            epi->rows(epi->ctx, 0, M);
            free(c.xpack);
            return got;
        }
        for (int i = 0; i < c.tiles; i++) atomic_init(&done[i], 0);
    }
    c.tile_done = done;
    if (par) vkb_team_run(team, tasks, gemm_task, &c);
    else
        for (int t = 0; t < tasks; t++) gemm_task(&c, t, 0);
    if (done && done != done_small) free(done);
    free(c.xpack);
    return got;
}

int vkb_cpu_gemm_packed_kernel(const float *X, size_t ldx, const float *P, float *Y, int M, int N,
                               int K, vkb_team *team, int kernel) {
    return vkb_cpu_gemm_packed_ex(X, ldx, P, Y, (size_t)N, M, N, K, NULL, team, kernel);
}

void vkb_cpu_gemm_packed(const float *X, size_t ldx, const float *P, float *Y, int M, int N, int K,
                         vkb_team *team) {
    vkb_cpu_gemm_packed_kernel(X, ldx, P, Y, M, N, K, team, VKB_CPU_GEMM_AUTO);
}
