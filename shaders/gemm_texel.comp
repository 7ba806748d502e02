#version 450
// gemm_texel.comp - Y[M,N] = act(X[M,K] * W[N,K]^T + b[N]) for CPU
// implementations (lavapipe): no shared memory; each invocation keeps a
// 16x8 block of outputs in registers and reads X and W through uniform
// texel buffers (RGBA32F or RGBA16F views), one texelFetch = 4 consecutive k.
// On llvmpipe this was ~10x faster than the shared-memory tiles of the
// former gemm_tiled.comp (now linear.comp's scalar form).  What limits it there is the texel fetches (each is a
// per-lane gather with bounds checks), not the FMAs: a bigger block means
// fewer fetches per FMA, and 16x8 measured 1.2-1.3x faster than 8x8 with
// bench/gemm_bench (8x4, 4x8, 4x4 slower; 16x16 no better; workgroups of
// 16 invocations 2x slower than 64).  Needs K and lda multiples of 4 (the host falls back to
// linear.comp otherwise).  Out-of-range rows are clamped on load (so the inner
// loop has no branches) and skipped on store.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
// Fixed-size loops are unrolled: besides speed, llvmpipe stops a loop after
// 65535 iterations in total per invocation, which long K would exceed.
#define RM 16
#define RN 8
layout(local_size_x = 8, local_size_y = 8) in;

layout(binding = 0) uniform samplerBuffer A;   // [M, lda/4] texels
layout(binding = 1) uniform samplerBuffer W;   // [N, K/4] texels
#include "linear_epilogue.glsl"   // bias, Y, residual, push constants, linear_store

void main() {
    uint n0 = gl_GlobalInvocationID.x * RN, m0 = gl_GlobalInvocationID.y * RM;
    if (n0 >= pc.N || m0 >= pc.M) return;
    uint K4 = pc.K / 4, lda4 = pc.lda / 4;
    int abase[RM], wbase[RN];
    [[unroll]] for (int i = 0; i < RM; i++) abase[i] = int(min(m0 + i, pc.M - 1) * lda4);
    [[unroll]] for (int j = 0; j < RN; j++) wbase[j] = int(min(n0 + j, pc.N - 1) * K4);
    float acc[RM][RN];
    [[unroll]] for (int i = 0; i < RM; i++) for (int j = 0; j < RN; j++) acc[i][j] = 0.0;
    for (int k = 0; k < int(K4); k++) {
        vec4 av[RM], wv[RN];
        [[unroll]] for (int i = 0; i < RM; i++) av[i] = texelFetch(A, abase[i] + k);
        [[unroll]] for (int j = 0; j < RN; j++) wv[j] = texelFetch(W, wbase[j] + k);
        [[unroll]] for (int i = 0; i < RM; i++)
            [[unroll]] for (int j = 0; j < RN; j++) acc[i][j] += dot(av[i], wv[j]);
    }
    [[unroll]] for (int i = 0; i < RM; i++) {
        uint gm = m0 + i;
        if (gm >= pc.M) break;
        [[unroll]] for (int j = 0; j < RN; j++) linear_store(gm, n0 + j, acc[i][j]);
    }
}
