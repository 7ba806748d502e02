/* cpu_simd.c - the fast path's vector kernels: attention of one (sequence,
 * head), LayerNorm, GELU, and the low-precision path's row conversions and
 * epilogue (cpu_ops.h).  The bodies (cpu_simd_kernels.h) are written once on
 * 16-float GCC vector values and built three times: AVX-512F, AVX2+FMA and
 * portable (SSE2 on x86-64, whatever the compiler makes of the vector types
 * elsewhere), picked per call by __builtin_cpu_supports.  This file is built
 * with -ffp-contract=off (CMakeLists.txt), and a fused multiply-add is
 * written out where one is wanted (VFMA: the instruction, or fmaf per lane in
 * the portable build), so each instantiation does the same IEEE operations
 * in the same order: the same bits on every CPU. */
#define _GNU_SOURCE
#include "cpu_ops.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VKB_SIMD_X86 1
#else
#define VKB_SIMD_X86 0
#endif

/* vf values cross only always_inline functions of one file: no ABI to keep */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float vf __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef uint32_t vu __attribute__((vector_size(64)));
typedef double vd __attribute__((vector_size(64)));
typedef uint16_t vh __attribute__((vector_size(32)));
typedef uint8_t vb8 __attribute__((vector_size(16)));

#define VB(c) ((vf){(c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c)})
#define VD(c) ((vd){(c), (c), (c), (c), (c), (c), (c), (c)})
#define LANE ((vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
#define LO8(v) ({ vf8 lo8_; memcpy(&lo8_, &(v), sizeof lo8_); lo8_; })
#define HI8(v) ({ vf8 hi8_; memcpy(&hi8_, (const char *)&(v) + 32, sizeof hi8_); hi8_; })

#define REP8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define REP4(X) X(0) X(1) X(2) X(3)
#define REP16(X) REP8(X) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

/* __builtin_shufflevector indices (GCC >= 12 and clang) of the 16 x 16 transpose: stage k swaps element
 * (r, j + k) with (r + k, j) for every r, j without bit k */
#define TR_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define TR_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define TR_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define TR_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define TR_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define TR_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define TR_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define TR_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31


/* ---- portable ------------------------------------------------------------- */
static inline __attribute__((always_inline)) vf vfma_generic(vf a, vf b, vf c) {
    vf r;
    for (int l = 0; l < 16; l++) r[l] = fmaf(a[l], b[l], c[l]);
    return r;
}
#define SFX _generic
#define TGT
#define VFMA vfma_generic
#define QK_KEYS 4
#define PV_ROWS 4
#define REPQ REP4
#define REPP REP4
#include "cpu_simd_kernels.h"

#if VKB_SIMD_X86
/* ---- AVX2 + FMA: each vf is two ymm; 4 x 2 x 2 accumulators ---------------- */
static inline __attribute__((always_inline, target("avx2,fma"))) vf vfma_avx2(vf a, vf b, vf c) {
    __m256 a0, a1, b0, b1, c0, c1;
    memcpy(&a0, &a, 32); memcpy(&a1, (char *)&a + 32, 32);
    memcpy(&b0, &b, 32); memcpy(&b1, (char *)&b + 32, 32);
    memcpy(&c0, &c, 32); memcpy(&c1, (char *)&c + 32, 32);
    c0 = _mm256_fmadd_ps(a0, b0, c0);
    c1 = _mm256_fmadd_ps(a1, b1, c1);
    vf r;
    memcpy(&r, &c0, 32);
    memcpy((char *)&r + 32, &c1, 32);
    return r;
}
#define SFX _avx2
#define TGT __attribute__((target("avx2,fma")))
#define VFMA vfma_avx2
#define QK_KEYS 4
#define PV_ROWS 4
#define REPQ REP4
#define REPP REP4
#include "cpu_simd_kernels.h"

/* ---- AVX-512F: 8 x 2 accumulators of one zmm ------------------------------- */
static inline __attribute__((always_inline, target("avx512f"))) vf vfma_avx512(vf a, vf b, vf c) {
    return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
}
#define SFX _avx512
#define TGT __attribute__((target("avx512f")))
#define VFMA vfma_avx512
#define QK_KEYS 8
#define PV_ROWS 8
#define REPQ REP8
#define REPP REP8
#include "cpu_simd_kernels.h"
#endif

static int simd_supported(void) {
#if VKB_SIMD_X86
    if (__builtin_cpu_supports("avx512f")) return VKB_CPU_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return VKB_CPU_SIMD_AVX2;
#endif
    return VKB_CPU_SIMD_GENERIC;
}

int vkb_cpu_simd_level(int want) {
    int s = simd_supported();
    return want != VKB_CPU_SIMD_AUTO && want < s ? want : s;
}

/* f_avx512 args, f_avx2 args or f_generic args, by the level in use */
#define CALL3(f, level, args)                                                                      \
    do {                                                                                           \
        int lv_ = vkb_cpu_simd_level(level);                                                       \
        if (VKB_SIMD_X86 && lv_ == VKB_CPU_SIMD_AVX512) X86_ONLY(f##_avx512 args);                 \
        else if (VKB_SIMD_X86 && lv_ == VKB_CPU_SIMD_AVX2) X86_ONLY(f##_avx2 args);                \
        else f##_generic args;                                                                     \
    } while (0)
#if VKB_SIMD_X86
#define X86_ONLY(x) x
#else
#define X86_ONLY(x) (void)0
#endif

size_t vkb_cpu_attn_head_scratch(int L, int hd) {
    size_t hp = ((size_t)hd + 31) / 32 * 32;
    return (size_t)hd * 32 + ((size_t)L + 7) / 8 * 8 * 32 + 32 +
           (hp != (size_t)hd ? (size_t)L * hp : 0);
}

void vkb_cpu_attn_head(const float *q, const float *k, const float *v, size_t ld, float *ctx,
                       size_t ldc, int L, int nq, int n, int hd, float *scratch, int level) {
    float scale = (float)(1.0 / sqrt((double)hd));
    if (nq > L) nq = L;
    CALL3(attn_head, level, (q, k, v, ld, ctx, ldc, L, nq, n, hd, scale, scratch));
}

void vkb_cpu_layernorm_row(const float *x, const float *r, const float *g, const float *beta,
                           float *y, int dim, float eps, int level) {
    CALL3(layernorm_row, level, (x, r, g, beta, y, dim, eps));
}

void vkb_cpu_gelu_span(float *y, size_t n, int level) { CALL3(gelu_span, level, (y, n)); }

void vkb_cpu_bf16_row(const float *x, uint16_t *q, int K, int level) {
    CALL3(bf16_row, level, (x, q, K));
}

void vkb_cpu_quant_u8_row(const float *x, int K, uint8_t *q, float *scale, int32_t *zp, int level) {
    CALL3(quant_row, level, (x, K, q, scale, zp));
}

void vkb_cpu_lp_epilogue_row(float *y, int N, const vkb_lp_row_q *qz, const float *b, vkb_act act,
                             const float *r, const float *g, const float *beta, float eps, int level) {
    CALL3(lp_epilogue_row, level, (y, N, qz, b, (int)act, r, g, beta, eps));
}
