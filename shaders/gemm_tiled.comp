#version 450
// gemm_tiled.comp - Y[M,N] = act(X[M,K] * W[N,K]^T + b[N]) for GPUs: a
// 64x64 output tile per 256-invocation workgroup, staged through shared
// memory in BK-deep slices, 4x4 outputs per invocation.  Any M, N, K: loads
// outside the matrices read 0 and stores outside are skipped.  X rows are
// lda elements apart (lda = K, or L*dim to read the first token of each
// sequence for the classifier head); Y rows ldy apart.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
// Fixed-size loops are unrolled: besides speed, llvmpipe stops a loop after
// 65535 iterations in total per invocation, which long K would exceed.
#define BM 64
#define BN 64
#define BK 16
layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer A { STYPE a[]; };
layout(std430, binding = 1) readonly buffer Wt { STYPE w[]; };
layout(std430, binding = 2) readonly buffer Bias { STYPE bias[]; };
layout(std430, binding = 3) writeonly buffer Y { STYPE y[]; };
layout(push_constant) uniform PC { uint M, N, K, lda, ldy, act; } pc;

shared float As[BK][BM + 1];
shared float Ws[BK][BN + 1];

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tid = ty * 16 + tx;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    float acc[4][4];
    [[unroll]] for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        // 64x16 elements of each operand: 4 per invocation, k fastest so
        // neighbouring invocations read neighbouring addresses.
        for (uint e = tid; e < BM * BK; e += 256) {
            uint r = e / BK, kk = e % BK;
            uint gm = m0 + r, gn = n0 + r, gk = k0 + kk;
            As[kk][r] = (gm < pc.M && gk < pc.K) ? float(a[gm * pc.lda + gk]) : 0.0;
            Ws[kk][r] = (gn < pc.N && gk < pc.K) ? float(w[gn * pc.K + gk]) : 0.0;
        }
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk++) {
            float av[4], wv[4];
            [[unroll]] for (int i = 0; i < 4; i++) av[i] = As[kk][ty + 16 * i];
            [[unroll]] for (int j = 0; j < 4; j++) wv[j] = Ws[kk][tx + 16 * j];
            [[unroll]] for (int i = 0; i < 4; i++)
                [[unroll]] for (int j = 0; j < 4; j++) acc[i][j] = fma(av[i], wv[j], acc[i][j]);
        }
        barrier();
    }
    [[unroll]] for (int i = 0; i < 4; i++) {
        uint gm = m0 + ty + 16 * i;
        if (gm >= pc.M) continue;
        [[unroll]] for (int j = 0; j < 4; j++) {
            uint gn = n0 + tx + 16 * j;
            if (gn < pc.N)
                y[gm * pc.ldy + gn] = STYPE(vkb_act(acc[i][j] + float(bias[gn]), pc.act));
        }
    }
}
