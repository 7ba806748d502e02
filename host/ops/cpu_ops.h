/* cpu_ops.h - the CPU reference operators (internal).  Plain, readable C;
 * the CPU backend composes them into the forward pass and the Vulkan tests
 * compare every shader against them.  `fp64` selects double accumulation
 * (the verification mode).  Matrices are row-major; activations of a batch
 * are [B*L, dim] with row b*L+p for position p of sequence b. */
#ifndef VKB_CPU_OPS_H
#define VKB_CPU_OPS_H
#include "parallel.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { VKB_ACT_NONE = 0, VKB_ACT_GELU = 1, VKB_ACT_RELU = 2 } vkb_act;

/* Y[M,N] = act(X[M,K] * W[N,K]^T + b[N]); b may be NULL. */
void vkb_cpu_linear(const float *X, const float *W, const float *b, float *Y,
                    int M, int N, int K, vkb_act act, int fp64, int threads);
/* y[rows,dim] = LayerNorm(x + r) * g + beta; r may be NULL; y may alias x. */
void vkb_cpu_add_layernorm(const float *x, const float *r, const float *g,
                           const float *beta, float *y, int rows, int dim,
                           float eps, int fp64);
/* Embedding: x[b*L+p] = LayerNorm(word[ids[b*L+p]] + pos[p]). */
void vkb_cpu_embed(const int32_t *ids, const float *word, const float *pos,
                   const float *g, const float *beta, float *x, int B, int L,
                   int dim, float eps, int fp64);
/* Multi-head attention on projected q, k, v ([B*L, H*hd] each): per sequence
 * and head, softmax(q k^T / sqrt(hd)) v with keys p >= lens[b] masked out;
 * ctx is [B*L, H*hd].  Rows of padded query positions are computed too
 * (HF does) but their values do not matter to the logits.  Returns 0, or
 * -1 when its scratch memory cannot be allocated (ctx is then untouched);
 * the other operators allocate nothing and cannot fail. */
int vkb_cpu_attention(const float *q, const float *k, const float *v,
                      float *ctx, int B, int L, int H, int hd,
                      const int32_t *lens, int fp64, int threads);

/* ---- the fast fp32 path (the CPU backend's default) ----------------------------
 * Same math as the fp32 operators above, arranged to touch the activations
 * fewer times; non-GEMM work runs on a persistent team (a NULL team: the
 * caller's thread alone).  Checked against the fp64 operators at odd sizes. */
/* The GEMM of the fast path (cpu_gemm.c): Y[M,N] = X W^T with W packed once
 * by vkb_cpu_pack_weights into panels of VKB_GEMM_NR output columns (panel
 * p: W[p NR + j][k] at P[(p K + k) NR + j], k-major, the last one
 * zero-padded; vkb_cpu_pack_size(N, K) floats).  Every output is one chain
 * of fp32 fused multiply-adds over k = 0..K-1 in order, so a row's result is
 * the same bits whatever M, whatever rows share the call, the thread count
 * and the instruction set (AVX-512, AVX2+FMA or none).  X has row stride
 * ldx; Y is [M,N] dense.  Work on the team (NULL: the caller's thread). */
#define VKB_GEMM_NR 32
size_t vkb_cpu_pack_size(int N, int K);
void vkb_cpu_pack_weights(const float *W, int N, int K, float *P);
void vkb_cpu_gemm_packed(const float *X, size_t ldx, const float *P, float *Y, int M, int N, int K,
                         vkb_team *team);
/* The same with a given micro-kernel (for the tests and benchmarks: all give
 * the same bits); one the CPU cannot run is replaced by the portable one.
 * Returns the kernel used. */
enum { VKB_CPU_GEMM_AUTO, VKB_CPU_GEMM_GENERIC, VKB_CPU_GEMM_AVX2, VKB_CPU_GEMM_AVX512,
       VKB_CPU_GEMM_X_IN_PLACE = 16, VKB_CPU_GEMM_X_COPY = 32 };
int vkb_cpu_gemm_packed_kernel(const float *X, size_t ldx, const float *P, float *Y, int M, int N,
                               int K, vkb_team *team, int kernel);
/* Work done inside the GEMM's tasks on outputs that are final, while they
 * are in cache: tile(ctx, m0, rows, n0, cols) for each block of Y (rows
 * [m0, m0+rows), columns [n0, n0+cols)) once its sums are complete (each
 * element in exactly one call); rows(ctx, m0, m1) once every column of rows
 * [m0, m1) is complete and its tile calls are done (each row in exactly one
 * call; whole-row work such as a LayerNorm).  Either may be NULL; calls run
 * on the team's threads, concurrently for disjoint blocks. */
typedef struct {
    const float *bias; /* Y = X W^T + (bias + R): added in registers before the */
    const float *R;    /* outputs are stored (either may be NULL; R's rows ldr */
    size_t ldr;        /* apart), before tile() sees them */
    void (*tile)(void *ctx, int m0, int rows, int n0, int cols);
    void (*rows)(void *ctx, int m0, int m1);
    void *ctx;
} vkb_gemm_epilogue;
/* vkb_cpu_gemm_packed_kernel with Y's row stride ldy and an epilogue (NULL:
 * none).  X is read in place unless its rows are a multiple of 4 KB apart
 * (then copied per task so they do not share L1 sets);
 * | VKB_CPU_GEMM_X_COPY forces the copy, | VKB_CPU_GEMM_X_IN_PLACE forbids it. */
int vkb_cpu_gemm_packed_ex(const float *X, size_t ldx, const float *P, float *Y, size_t ldy, int M,
                           int N, int K, const vkb_gemm_epilogue *epi, vkb_team *team, int kernel);

/* Y[M,N] = act(X P + b + R) (b, R may be NULL; P: W [N,K] packed by
 * vkb_cpu_pack_weights): the packed GEMM, whose tasks add b and R and apply
 * act (GELU: vkb_cpu_gelu_fast) to each block of outputs as soon as it is
 * final, while it is in cache.  X, R and Y have row strides ldx, ldr and ldy
 * (ldx = L*dim gathers the first token of each sequence without a copy).  A row's result is the
 * same bits whatever M and whatever rows share the call.  It cannot fail
 * (the GEMM's scratch is optional). */
void vkb_cpu_linear_fast(const float *X, size_t ldx, const float *P, const float *b,
                         const float *R, size_t ldr, float *Y, size_t ldy, int M, int N, int K,
                         vkb_act act, vkb_team *team);
/* Y = LayerNorm(X W^T + b + R) * g + beta (the residual blocks' output):
 * vkb_cpu_linear_fast with Y dense, each row's LayerNorm run by the GEMM
 * task that completes the row (same bits as vkb_cpu_linear_fast then vkb_cpu_layernorm_fast). */
void vkb_cpu_linear_ln_fast(const float *X, size_t ldx, const float *P, const float *b,
                           const float *R, size_t ldr, const float *g, const float *beta,
                           float eps, float *Y, int M, int N, int K, vkb_team *team);
/* y = GELU(y) (erf form, |error| <= 2e-7 * |y|), vectorized. */
void vkb_cpu_gelu_fast(float *y, size_t n);
/* x[rows,dim] = LayerNorm(x) * g + beta, in place. */
void vkb_cpu_layernorm_fast(float *x, const float *g, const float *beta, int rows, int dim,
                            float eps, vkb_team *team);
/* vkb_cpu_embed on the team. */
void vkb_cpu_embed_fast(const int32_t *ids, const float *word, const float *pos, const float *g,
                        const float *beta, float *x, int B, int L, int dim, float eps,
                        vkb_team *team);
/* Attention on a fused projection: row m of qkv holds q (H*hd floats), then k,
 * then v, rows ld floats apart; ctx is [B*L, H*hd].  Tasks (sequence, head)
 * on the team; query tiles of 32 keep their scores in cache.  Only the first
 * nq queries of each sequence (1: its [CLS] token; L: all) are computed, to
 * the same bits as among all; ctx's other rows are left as they are.  0, or
 * -1 when the scratch cannot be allocated. */
int vkb_cpu_attention_fast(const float *qkv, size_t ld, float *ctx, int B, int L, int nq, int H,
                           int hd, const int32_t *lens, vkb_team *team);
/* ---- vector kernels (cpu_simd.c) --------------------------------------------------
 * Built for AVX-512F, AVX2+FMA and portable C, picked per call from what the
 * CPU has; every level gives the same bits (same operations in the same
 * order, fused multiply-adds only where written).  Each takes the level to
 * run at: VKB_CPU_SIMD_AUTO (what the operators pass) is the best the CPU
 * has; a lower one is run as asked (the tests compare the levels), a higher
 * one the CPU lacks as the best it has.  vkb_cpu_simd_level(want) says
 * which level a call with `want` runs. */
enum { VKB_CPU_SIMD_AUTO, VKB_CPU_SIMD_GENERIC, VKB_CPU_SIMD_AVX2, VKB_CPU_SIMD_AVX512 };
int vkb_cpu_simd_level(int want);
/* Attention of one sequence and head: q, k, v rows ld floats apart (L rows;
 * the first n keys/values valid), ctx rows ldc apart, hd columns each; the
 * first nq <= L queries (each query's bits do not depend on nq);
 * scratch: vkb_cpu_attn_head_scratch(L, hd) floats. */
size_t vkb_cpu_attn_head_scratch(int L, int hd);
void vkb_cpu_attn_head(const float *q, const float *k, const float *v, size_t ld, float *ctx,
                       size_t ldc, int L, int nq, int n, int hd, float *scratch, int level);
/* y = LayerNorm(x + r) * g + beta over dim (r may be NULL; y may alias x):
 * sums in double, 16 partial sums in a fixed order. */
void vkb_cpu_layernorm_row(const float *x, const float *r, const float *g, const float *beta,
                           float *y, int dim, float eps, int level);
/* y = GELU(y) (vkb_cpu_gelu_fast) */
void vkb_cpu_gelu_span(float *y, size_t n, int level);
/* The low-precision path's rows (cpu_lowp.c): fp32 -> bf16 (round to nearest
 * even); fp32 -> u8 with the row's scale and zero point; the epilogue of an
 * output row: (qz: y holds int32 sums, y = (acc - zp * wsum[n]) * (sa *
 * wscale[n])) + b, act, + r, then LayerNorm with g, beta (g NULL: none). */
typedef struct {
    const int32_t *wsum;
    const float *wscale;
    int32_t zp;
    float sa;
} vkb_lp_row_q;
void vkb_cpu_bf16_row(const float *x, uint16_t *q, int K, int level);
void vkb_cpu_quant_u8_row(const float *x, int K, uint8_t *q, float *scale, int32_t *zp, int level);
void vkb_cpu_lp_epilogue_row(float *y, int N, const vkb_lp_row_q *qz, const float *b, vkb_act act,
                             const float *r, const float *g, const float *beta, float eps,
                             int level);
#endif
