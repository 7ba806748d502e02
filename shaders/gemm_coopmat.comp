#version 450
// gemm_coopmat.comp - Y[M,N] = act(X[M,K] * W[N,K]^T + b[N]) on tensor cores
// through GL_NV_cooperative_matrix (Debian's glslc 2023.2 cannot compile
// GL_KHR_cooperative_matrix), fp16 storage in and out, fp32 accumulators.
//
// A BM x BN output tile per workgroup of NSG subgroups (subgroup size 32,
// checked by the host); subgroup s owns a WM x WN block as (WM/16) x (WN/16)
// 16x16 accumulators.  Each BK-deep slice of X and W is loaded from global
// memory into registers (the next slice is fetched while the current one is
// multiplied), then into shared memory as fp16, row-major with a padded row
// stride LDS.  W rows are [N,K] row-major, so the W tile read as a
// column-major K x N matrix is W^T, which is what B must be.
//
// Any M, N, K: loads outside the matrices read 0 (so they add nothing), and
// the epilogue goes through shared memory one 16x16 accumulator at a time,
// adding the bias, applying the activation and storing with bounds checks.
// Rows of X are lda apart, rows of Y ldy apart (as in gemm_tiled.comp).
//
// Variants (shaders.cmake): BM, BN, WM, WN as defines.  The host uses this
// shader only after a self-test against gemm_tiled on the same device.
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
// glslang emits coopmat modules with the Vulkan memory model (the host
// enables vulkanMemoryModel); shared variables are then workgroup-coherent.
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_control_flow_attributes : require
#ifndef F16
#define F16
#endif
#include "common.glsl"

#ifndef BM
#define BM 128
#endif
#ifndef BN
#define BN 128
#endif
#ifndef WM
#define WM 64
#endif
#ifndef WN
#define WN 32
#endif
#define BK 32
#define SCOPE gl_ScopeSubgroup
#define TM (WM / 16)                      // accumulators per subgroup, down
#define TN (WN / 16)                      // and across
#define NSG ((BM / WM) * (BN / WN))       // subgroups per workgroup
#define NT (NSG * 32)                     // invocations per workgroup
// Row stride of the shared tiles in halves: BK + 8 keeps every 16x16 load
// 16-byte aligned (80-byte rows) and staggers rows across banks.
#define LDS (BK + 8)
#define NVA (BM * BK / 8 / NT)            // 8-half vectors of X per invocation
#define NVB (BN * BK / 8 / NT)            // and of W

layout(local_size_x = NT) in;

layout(std430, binding = 0) readonly buffer A { float16_t a[]; };
layout(std430, binding = 0) readonly buffer A8 { uvec4 a8[]; };   // same data, 8 halves
layout(std430, binding = 1) readonly buffer Wt { float16_t w[]; };
layout(std430, binding = 1) readonly buffer W8 { uvec4 w8[]; };
layout(std430, binding = 2) readonly buffer Bias { float16_t bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float16_t y[]; };
layout(push_constant) uniform PC { uint M, N, K, lda, ldy, act; } pc;

shared float16_t As[BM * LDS];
shared float16_t Bs[BN * LDS];
shared float Cs[NSG * 256];               // one 16x16 fp32 tile per subgroup

// 8 consecutive halves of row `row` from column `col` (a multiple of 8) of a
// matrix with `rows` rows, K columns, rows `ld` apart; zeros outside.  When
// K and ld are multiples of 8 (`vec`), one 16-byte load; else 8 checked ones.
uvec4 load8(bool isA, uint row, uint rows, uint col, uint ld, bool vec) {
    if (row >= rows || col >= pc.K) return uvec4(0);
    uint base = row * ld + col;
    if (vec) return isA ? a8[base / 8] : w8[base / 8];
    float16_t v[8];
    [[unroll]] for (uint i = 0; i < 8; i++) {
        bool ok = col + i < pc.K;
        v[i] = ok ? (isA ? a[base + i] : w[base + i]) : float16_t(0.0);
    }
    return uvec4(packFloat2x16(f16vec2(v[0], v[1])), packFloat2x16(f16vec2(v[2], v[3])),
                 packFloat2x16(f16vec2(v[4], v[5])), packFloat2x16(f16vec2(v[6], v[7])));
}

void store8(bool isA, uint r, uint c8, uvec4 v) {
    uint o = r * LDS + c8 * 8;
    [[unroll]] for (uint i = 0; i < 4; i++) {
        f16vec2 h = unpackFloat2x16(v[i]);
        if (isA) { As[o + 2 * i] = h.x; As[o + 2 * i + 1] = h.y; }
        else { Bs[o + 2 * i] = h.x; Bs[o + 2 * i + 1] = h.y; }
    }
}

void main() {
    uint tid = gl_LocalInvocationIndex;
    uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    uint sm = (sg / (BN / WN)) * WM, sn = (sg % (BN / WN)) * WN;   // subgroup's block in the tile
    bool vecA = pc.K % 8 == 0 && pc.lda % 8 == 0, vecB = pc.K % 8 == 0;

    fcoopmatNV<32, SCOPE, 16, 16> acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; i++)
        [[unroll]] for (int j = 0; j < TN; j++)
            acc[i][j] = fcoopmatNV<32, SCOPE, 16, 16>(0.0);

    // vector v of a tile: row v / (BK/8), 8-column group v % (BK/8)
    uvec4 ra[NVA], rb[NVB];
    [[unroll]] for (int i = 0; i < NVA; i++) {
        uint v = tid + uint(i) * NT;
        ra[i] = load8(true, m0 + v / (BK / 8), pc.M, (v % (BK / 8)) * 8, pc.lda, vecA);
    }
    [[unroll]] for (int i = 0; i < NVB; i++) {
        uint v = tid + uint(i) * NT;
        rb[i] = load8(false, n0 + v / (BK / 8), pc.N, (v % (BK / 8)) * 8, pc.K, vecB);
    }

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        barrier();                         // everyone is done with the last slice
        [[unroll]] for (int i = 0; i < NVA; i++) {
            uint v = tid + uint(i) * NT;
            store8(true, v / (BK / 8), v % (BK / 8), ra[i]);
        }
        [[unroll]] for (int i = 0; i < NVB; i++) {
            uint v = tid + uint(i) * NT;
            store8(false, v / (BK / 8), v % (BK / 8), rb[i]);
        }
        barrier();
        uint k1 = k0 + BK;                 // fetch the next slice while multiplying
        if (k1 < pc.K) {
            [[unroll]] for (int i = 0; i < NVA; i++) {
                uint v = tid + uint(i) * NT;
                ra[i] = load8(true, m0 + v / (BK / 8), pc.M, k1 + (v % (BK / 8)) * 8, pc.lda, vecA);
            }
            [[unroll]] for (int i = 0; i < NVB; i++) {
                uint v = tid + uint(i) * NT;
                rb[i] = load8(false, n0 + v / (BK / 8), pc.N, k1 + (v % (BK / 8)) * 8, pc.K, vecB);
            }
        }
        [[unroll]] for (uint kk = 0; kk < BK; kk += 16) {
            fcoopmatNV<16, SCOPE, 16, 16> fa[TM], fb[TN];
            [[unroll]] for (int i = 0; i < TM; i++)
                coopMatLoadNV(fa[i], As, (sm + uint(i) * 16) * LDS + kk, LDS, false);
            [[unroll]] for (int j = 0; j < TN; j++)
                coopMatLoadNV(fb[j], Bs, (sn + uint(j) * 16) * LDS + kk, LDS, true);
            [[unroll]] for (int i = 0; i < TM; i++)
                [[unroll]] for (int j = 0; j < TN; j++)
                    acc[i][j] = coopMatMulAddNV(fa[i], fb[j], acc[i][j]);
        }
    }

    // epilogue: per accumulator, through this subgroup's 16x16 scratch
    [[unroll]] for (int i = 0; i < TM; i++) {
        [[unroll]] for (int j = 0; j < TN; j++) {
            coopMatStoreNV(acc[i][j], Cs, sg * 256, 16, false);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            uint rm = m0 + sm + uint(i) * 16, cn = n0 + sn + uint(j) * 16;
            for (uint e = lane; e < 256; e += gl_SubgroupSize) {
                uint gm = rm + e / 16, gn = cn + e % 16;
                if (gm < pc.M && gn < pc.N)
                    y[gm * pc.ldy + gn] =
                        float16_t(vkb_act(Cs[sg * 256 + e] + float(bias[gn]), pc.act));
            }
            subgroupMemoryBarrierShared();
            subgroupBarrier();             // scratch is reused by the next tile
        }
    }
}
