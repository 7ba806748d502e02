#version 450
// linear.comp - Y[M,N] = act(X[M,K] W[N,K]^T + b[N]) (+ R[M,N]): the GEMM of
// the op `linear` (vkb_cpu_linear), one source for GPUs with and without
// tensor cores.  Everything but the inner product is written once:
//   - the tiling: a BM x BN output tile per workgroup of NW "warps" of 32
//     invocations, warp w owning a WM x WN block of it;
//   - global -> shared loads: each BK-deep slice of X and W is fetched into
//     registers 4 consecutive k at a time (one 16/8-byte load when K and lda
//     are multiples of 4, else 4 checked loads), then written to shared
//     memory row-major (k fastest, padded row stride LDS);
//   - pipeline stages: STAGES 1 = one shared buffer (two barriers per
//     slice; the next slice's global loads overlap the multiply), STAGES 2 =
//     double-buffered shared memory (one barrier per slice: the next slice
//     goes into the other buffer while this one is multiplied);
//   - bounds: loads outside X or W read 0 (adding nothing), stores outside
//     Y are skipped, so any M, N, K; X rows lda apart, Y (and R) rows ldy;
//   - the epilogue (linear_epilogue.glsl): bias, activation, residual.
// The inner product, chosen at build time:
//   COOPMAT: GL_NV_cooperative_matrix 16x16x16 fp16 fragments with fp32
//     accumulators, (WM/16) x (WN/16) per warp (a warp is one subgroup of
//     32: the host checks the subgroup size); fp16 storage only.  Debian's
//     glslc 2023.2 cannot compile GL_KHR_cooperative_matrix.
//   else: scalar fp32 register tiles: the 32 lanes of a warp as 4 x 8, each
//     lane (WM/4) x (WN/8) outputs strided 4 rows / 8 columns apart.  This is
//     what lavapipe and CI run, so they exercise the same tiles, stages,
//     bounds and epilogue as the tensor-core form.  SH16 (with F16): shared
//     memory in the coopmat form's layout (fp16, row stride BK + 8 halves)
//     instead of fp32 - the scalar twins of the coopmat configurations
//     (tiled_cs, tiled_cl), which then also fit lavapipe's 32 KiB.
// Configurations (shaders/shaders.cmake, vkb_gemm_variant): BM, BN, BK, WM,
// WN, STAGES as defines.
#extension GL_EXT_control_flow_attributes : require
#if defined(SH16) && !defined(COOPMAT)
#ifndef F16
#error "linear.comp: SH16 (fp16 shared memory) is for fp16 storage builds"
#endif
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#ifdef COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
// glslang emits coopmat modules with the Vulkan memory model (the host
// enables vulkanMemoryModel); shared variables are then workgroup-coherent.
#extension GL_KHR_memory_scope_semantics : require
#ifndef F16
#define F16
#endif
#endif
#include "common.glsl"

#ifndef BM
#define BM 64
#endif
#ifndef BN
#define BN 64
#endif
#ifndef BK
#define BK 16
#endif
#ifndef WM
#define WM 32
#endif
#ifndef WN
#define WN 32
#endif
#ifndef STAGES
#define STAGES 2
#endif
#define NW ((BM / WM) * (BN / WN))    // warps per workgroup
#define NT (NW * 32)                  // invocations per workgroup
#define NVA (BM * BK / 4 / NT)        // 4-element groups of X per invocation per slice
#define NVB (BN * BK / 4 / NT)        // and of W
#if (BM % WM) || (BN % WN) || (BK % 4) || (BM * BK) % (4 * NT) || (BN * BK) % (4 * NT) || STAGES < 1 || STAGES > 2
#error "linear.comp: bad tile configuration"
#endif
#ifdef COOPMAT
#if (WM % 16) || (WN % 16) || (BK % 16)
#error "linear.comp: coopmat needs WM, WN, BK multiples of 16"
#endif
#define SHTYPE float16_t
#define LDS (BK + 8)                  // halves: keeps 16x16 loads 16-byte aligned, staggers banks
#define TM (WM / 16)
#define TN (WN / 16)
#else
#if (WM % 4) || (WN % 8)
#error "linear.comp: scalar needs WM % 4 == 0 and WN % 8 == 0"
#endif
#ifdef SH16
#define SHTYPE float16_t
#define LDS (BK + 8)                  // the coopmat form's layout
#else
#define SHTYPE float
#define LDS (BK + 1)
#endif
#define TR (WM / 4)                   // rows per lane
#define TC (WN / 8)                   // columns per lane
#endif

layout(local_size_x = NT) in;

layout(std430, binding = 0) readonly buffer A { STYPE a[]; };
layout(std430, binding = 1) readonly buffer Wt { STYPE w[]; };
// the same data, 4 elements at a time (vector loads)
#ifdef F16
layout(std430, binding = 0) readonly buffer A4 { uvec2 a4[]; };
layout(std430, binding = 1) readonly buffer W4 { uvec2 w4[]; };
#else
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer W4 { vec4 w4[]; };
#endif
#include "linear_epilogue.glsl"

shared SHTYPE As[STAGES * BM * LDS];
shared SHTYPE Bs[STAGES * BN * LDS];
#ifdef COOPMAT
shared float Cs[NW * 256];            // one 16x16 fp32 tile per warp (epilogue)
#endif

// 4 consecutive elements of row `row` from column `col` (a multiple of 4) of
// X (isA) or W: `rows` rows, K columns, rows `ld` apart; zeros outside.
vec4 load4(bool isA, uint row, uint rows, uint col, uint ld, bool vec) {
    if (row >= rows || col >= pc.K) return vec4(0.0);
    uint base = row * ld + col;
    if (vec) {
#ifdef F16
        uvec2 u = isA ? a4[base / 4] : w4[base / 4];
        return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y));
#else
        return isA ? a4[base / 4] : w4[base / 4];
#endif
    }
    vec4 v;
    [[unroll]] for (uint i = 0; i < 4; i++)
        v[i] = col + i < pc.K ? (isA ? float(a[base + i]) : float(w[base + i])) : 0.0; // no fp16 select
    return v;
}

vec4 ra[NVA], rb[NVB];                // the slice in flight

// group g of a tile: row g / (BK/4), 4-column group g % (BK/4)
void fetch(uint tid, uint m0, uint n0, uint k0, bool vecA, bool vecB) {
    [[unroll]] for (int i = 0; i < NVA; i++) {
        uint g = tid + uint(i) * NT;
        ra[i] = load4(true, m0 + g / (BK / 4), pc.M, k0 + (g % (BK / 4)) * 4, pc.lda, vecA);
    }
    [[unroll]] for (int i = 0; i < NVB; i++) {
        uint g = tid + uint(i) * NT;
        rb[i] = load4(false, n0 + g / (BK / 4), pc.N, k0 + (g % (BK / 4)) * 4, pc.K, vecB);
    }
}

void stash(uint tid, uint s) {
    [[unroll]] for (int i = 0; i < NVA; i++) {
        uint g = tid + uint(i) * NT;
        uint o = s * (BM * LDS) + (g / (BK / 4)) * LDS + (g % (BK / 4)) * 4;
        [[unroll]] for (uint e = 0; e < 4; e++) As[o + e] = SHTYPE(ra[i][e]);
    }
    [[unroll]] for (int i = 0; i < NVB; i++) {
        uint g = tid + uint(i) * NT;
        uint o = s * (BN * LDS) + (g / (BK / 4)) * LDS + (g % (BK / 4)) * 4;
        [[unroll]] for (uint e = 0; e < 4; e++) Bs[o + e] = SHTYPE(rb[i][e]);
    }
}

// ---- the inner product over one shared slice s, on this warp's block ----
#ifdef COOPMAT
#define SCOPE gl_ScopeSubgroup
fcoopmatNV<32, SCOPE, 16, 16> acc[TM][TN];
void acc_init() {
    [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++) acc[i][j] = fcoopmatNV<32, SCOPE, 16, 16>(0.0);
}
void multiply(uint s, uint sm, uint sn, uint lane) {
    // W rows are [N,K] row-major, so the W tile read column-major is W^T
    [[unroll]] for (uint kk = 0; kk < BK; kk += 16) {
        fcoopmatNV<16, SCOPE, 16, 16> fa[TM], fb[TN];
        [[unroll]] for (int i = 0; i < TM; i++)
            coopMatLoadNV(fa[i], As, s * (BM * LDS) + (sm + uint(i) * 16) * LDS + kk, LDS, false);
        [[unroll]] for (int j = 0; j < TN; j++)
            coopMatLoadNV(fb[j], Bs, s * (BN * LDS) + (sn + uint(j) * 16) * LDS + kk, LDS, true);
        [[unroll]] for (int i = 0; i < TM; i++)
            [[unroll]] for (int j = 0; j < TN; j++) acc[i][j] = coopMatMulAddNV(fa[i], fb[j], acc[i][j]);
    }
}
// per accumulator, through this warp's 16x16 scratch
void epilogue(uint wp, uint lane, uint rm0, uint cn0) {
    [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++) {
            coopMatStoreNV(acc[i][j], Cs, wp * 256, 16, false);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            uint rm = rm0 + uint(i) * 16, cn = cn0 + uint(j) * 16;
            for (uint e = lane; e < 256; e += gl_SubgroupSize)
                linear_store(rm + e / 16, cn + e % 16, Cs[wp * 256 + e]);
            subgroupMemoryBarrierShared();
            subgroupBarrier();             // the scratch is reused by the next tile
        }
}
#else
float acc[TR][TC];
void acc_init() {
    [[unroll]] for (int i = 0; i < TR; i++)
        [[unroll]] for (int j = 0; j < TC; j++) acc[i][j] = 0.0;
}
void multiply(uint s, uint sm, uint sn, uint lane) {
    uint r0 = s * (BM * LDS) + (sm + lane / 8) * LDS, c0 = s * (BN * LDS) + (sn + lane % 8) * LDS;
#ifdef SH16
    // the twins' (TR x TC up to 16 x 8) k loop stays a loop: unrolled, BK x TR x TC
    // FMAs made llvmpipe's cold compile of tiled_cl take ~40 s
    [[dont_unroll]]
#else
    [[unroll]]
#endif
    for (uint kk = 0; kk < BK; kk++) {
        float av[TR], wv[TC];
        [[unroll]] for (int i = 0; i < TR; i++) av[i] = float(As[r0 + uint(i) * 4 * LDS + kk]);
        [[unroll]] for (int j = 0; j < TC; j++) wv[j] = float(Bs[c0 + uint(j) * 8 * LDS + kk]);
        [[unroll]] for (int i = 0; i < TR; i++)
            [[unroll]] for (int j = 0; j < TC; j++) acc[i][j] = fma(av[i], wv[j], acc[i][j]);
    }
}
void epilogue(uint wp, uint lane, uint rm0, uint cn0) {
#ifdef SH16
    [[dont_unroll]]                        // (as the k loop: the twins' compile time)
#else
    [[unroll]]
#endif
    for (int i = 0; i < TR; i++)
        [[unroll]] for (int j = 0; j < TC; j++)
            linear_store(rm0 + lane / 8 + uint(i) * 4, cn0 + lane % 8 + uint(j) * 8, acc[i][j]);
}
#endif

void main() {
    uint tid = gl_LocalInvocationIndex;
#ifdef COOPMAT
    uint wp = gl_SubgroupID, lane = gl_SubgroupInvocationID;
#else
    uint wp = tid / 32, lane = tid % 32;
#endif
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    uint sm = (wp / (BN / WN)) * WM, sn = (wp % (BN / WN)) * WN;   // the warp's block in the tile
    bool vecA = pc.K % 4 == 0 && pc.lda % 4 == 0, vecB = pc.K % 4 == 0;
    uint nk = (pc.K + BK - 1) / BK;
    acc_init();
    fetch(tid, m0, n0, 0, vecA, vecB);
#if STAGES == 1
    for (uint t = 0; t < nk; t++) {
        barrier();                         // everyone is done with the last slice
        stash(tid, 0);
        barrier();
        if (t + 1 < nk) fetch(tid, m0, n0, (t + 1) * BK, vecA, vecB);   // in flight while multiplying
        multiply(0, sm, sn, lane);
    }
#else
    stash(tid, 0);
    barrier();
    for (uint t = 0; t < nk; t++) {
        if (t + 1 < nk) fetch(tid, m0, n0, (t + 1) * BK, vecA, vecB);
        multiply(t & 1u, sm, sn, lane);
        // the other buffer was last read in slice t-1, before the barrier below it
        if (t + 1 < nk) stash(tid, (t + 1) & 1u);
        barrier();
    }
#endif
    epilogue(wp, lane, m0 + sm, n0 + sn);
}
