#version 450
// attention_flash.comp - flash attention: ctx = softmax(q k^T * scale, keys
// >= len masked) v for a tile of BQ queries of one (head, sequence) per
// workgroup.  The query tile is staged in shared memory once; keys and
// values stream through shared memory BK at a time; each tile's scores
// S = Q K^T go to shared memory, the online softmax (running max m and sum
// l per query row, rescaling what was accumulated) turns them into
// probabilities P, and O += P V accumulates in registers.  The L x L score
// matrix never exists.  q, k, v are columns of one [tokens, ld] buffer (the
// fused QKV projection output), as in attention.comp.
//
// The two inner products (Q K^T and P V) are written once in two forms,
// everything else (staging, masking, bounds, softmax, epilogue) is shared:
//  - scalar register tiles (default): invocation (ty, tx) of an 8 x 8 grid
//    owns rows ty + 8i and columns tx + 8j of each tile; runs anywhere
//    (lavapipe, CI);
//  - ATTN_COOPMAT: GL_NV_cooperative_matrix 16x16x16 fp16 fragments with
//    fp32 accumulators (tensor cores), two subgroups of 32 each owning 16
//    query rows; BQ = 32, BK and HD multiples of 16 (the host checks).
//    P V of a tile goes through shared memory, where the scalar epilogue
//    rescales and adds it.
// Any L and padding: query rows past L are computed on clamped loads and
// not stored; keys past len are masked (probability 0) and their K/V rows
// staged as zeros; len == 0 gives zeros.
#ifdef ATTN_COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_memory_scope_semantics : require
#ifndef F16
#define F16
#endif
#endif
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

layout(constant_id = 0) const int HD = 64;  // head dim
layout(constant_id = 1) const int BQ = 32;  // queries per workgroup (multiple of 8)
layout(constant_id = 2) const int BK = 32;  // keys per tile (multiple of 8)
#define NT 64
layout(local_size_x = NT) in;

layout(std430, binding = 0) readonly buffer QKV { STYPE qkv[]; };
layout(std430, binding = 1) readonly buffer Lens { int lens[]; };
layout(std430, binding = 2) writeonly buffer Ctx { STYPE ctx[]; };
layout(push_constant) uniform PC {
    uint L, ld, qoff, koff, voff, ldo; float scale;
} pc;

const int RT = BQ / 8;        // query rows per invocation
const int CK = BK / 8;        // key columns per invocation (scores)
const int CD = (HD + 7) / 8;  // head-dim columns per invocation (output)

#ifdef ATTN_COOPMAT
#define TT float16_t
const int LDQ = HD + 8;       // halves; keeps 16-byte alignment of fragment rows
shared float16_t ps[BQ * BK]; // probabilities: the A operand of P V
shared float os[BQ * HD];     // P V of the current tile
#else
#define TT float
const int LDQ = HD + 1;       // staggers rows across banks
#endif
shared TT qs[BQ * LDQ];
shared TT ks[BK * LDQ];
shared TT vs[BK * LDQ];
shared float ss[BQ * BK];     // scores (scalar form: then probabilities)
shared float rs[BQ];          // per row: this tile's rescale factor; at the end 1/l
float o[RT * CD];             // this invocation's output accumulators (rows ty + 8i, columns tx + 8c)

#ifdef ATTN_COOPMAT
#define FRAG fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define ACC fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>
// ss = Q K^T: subgroup sg, rows 16sg..16sg+15, all BK columns.  K tile rows
// are keys, so K read column-major is K^T.
void qk_tile() {
    uint sg = gl_SubgroupID;
    for (int n = 0; n < BK / 16; n++) {
        ACC acc = ACC(0.0);
        for (int kk = 0; kk < HD / 16; kk++) {
            FRAG a, bm;
            coopMatLoadNV(a, qs, sg * 16 * LDQ + kk * 16, LDQ, false);
            coopMatLoadNV(bm, ks, n * 16 * LDQ + kk * 16, LDQ, true);
            acc = coopMatMulAddNV(a, bm, acc);
        }
        coopMatStoreNV(acc, ss, sg * 16 * BK + n * 16, BK, false);
    }
}
// os = P V for the subgroup's 16 rows; then o = o * r + os (scalar).
void pv_tile(uint tx, uint ty) {
    uint sg = gl_SubgroupID;
    for (int c = 0; c < HD / 16; c++) {
        ACC acc = ACC(0.0);
        for (int kk = 0; kk < BK / 16; kk++) {
            FRAG a, bm;
            coopMatLoadNV(a, ps, sg * 16 * BK + kk * 16, BK, false);
            coopMatLoadNV(bm, vs, kk * 16 * LDQ + c * 16, LDQ, false);
            acc = coopMatMulAddNV(a, bm, acc);
        }
        coopMatStoreNV(acc, os, sg * 16 * HD + c * 16, HD, false);
    }
    barrier();
    [[unroll]] for (int i = 0; i < RT; i++) {
        uint r = ty + 8 * i;
        float f = rs[r];
        [[unroll]] for (int c = 0; c < CD; c++) {
            uint d = min(tx + 8 * c, uint(HD - 1));
            o[i * CD + c] = fma(o[i * CD + c], f, os[r * HD + d]);
        }
    }
}
#else
// ss = Q K^T as RT x CK register tiles.
void qk_tile(uint tx, uint ty) {
    float s[RT * CK];
    [[unroll]] for (int i = 0; i < RT * CK; i++) s[i] = 0.0;
    for (int d = 0; d < HD; d++) {
        float qv[RT], kv[CK];
        [[unroll]] for (int i = 0; i < RT; i++) qv[i] = qs[(ty + 8 * i) * LDQ + d];
        [[unroll]] for (int j = 0; j < CK; j++) kv[j] = ks[(tx + 8 * j) * LDQ + d];
        [[unroll]] for (int i = 0; i < RT; i++)
            [[unroll]] for (int j = 0; j < CK; j++) s[i * CK + j] = fma(qv[i], kv[j], s[i * CK + j]);
    }
    [[unroll]] for (int i = 0; i < RT; i++)
        [[unroll]] for (int j = 0; j < CK; j++) ss[(ty + 8 * i) * BK + tx + 8 * j] = s[i * CK + j];
}
// o = o * r + P V as RT x CD register tiles (P in ss).
void pv_tile(uint tx, uint ty) {
    [[unroll]] for (int i = 0; i < RT; i++) {
        float f = rs[ty + 8 * i];
        [[unroll]] for (int c = 0; c < CD; c++) o[i * CD + c] *= f;
    }
    for (int j = 0; j < BK; j++) {
        float pv[RT];
        [[unroll]] for (int i = 0; i < RT; i++) pv[i] = ss[(ty + 8 * i) * BK + j];
        [[unroll]] for (int c = 0; c < CD; c++) {
            float v = vs[j * LDQ + min(tx + 8 * c, uint(HD - 1))];
            [[unroll]] for (int i = 0; i < RT; i++) o[i * CD + c] = fma(pv[i], v, o[i * CD + c]);
        }
    }
}
#endif

void main() {
    uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y, q0 = gl_WorkGroupID.x * BQ;
    uint t = gl_LocalInvocationID.x, tx = t % 8, ty = t / 8;
    uint len = uint(clamp(lens[b], 0, int(pc.L)));
    uint row0 = b * pc.L;

    for (uint e = t; e < uint(BQ * HD); e += NT) {
        uint r = e / HD, d = e % HD, p = min(q0 + r, pc.L - 1);
        qs[r * LDQ + d] = TT(qkv[(row0 + p) * pc.ld + pc.qoff + h * HD + d]);
    }
    [[unroll]] for (int i = 0; i < RT * CD; i++) o[i] = 0.0;
    float m = -3.0e38, l = 0.0; // query row t's running max and sum (t < BQ)

    // len is uniform over the workgroup: the barriers below are reached by all
    for (uint j0 = 0; j0 < len; j0 += BK) {
        uint nk = min(uint(BK), len - j0);
        barrier(); // the previous tile consumed (and the query tile staged)
        for (uint e = t; e < uint(BK * HD); e += NT) {
            uint jj = e / HD, d = e % HD;
            uint base = (row0 + j0 + min(jj, nk - 1)) * pc.ld + h * HD + d;
            bool in_ = jj < nk;
            ks[jj * LDQ + d] = in_ ? TT(qkv[base + pc.koff]) : TT(0.0);
            vs[jj * LDQ + d] = in_ ? TT(qkv[base + pc.voff]) : TT(0.0);
        }
        barrier();
#ifdef ATTN_COOPMAT
        qk_tile();
#else
        qk_tile(tx, ty);
#endif
        barrier();
        if (t < uint(BQ)) { // online softmax of row t over this tile
            float mx = m;
            for (uint j = 0; j < nk; j++) mx = max(mx, ss[t * BK + j] * pc.scale);
            float f = exp(m - mx); // 0 on the first tile (m = -3e38)
            l *= f;
            for (int j = 0; j < BK; j++) {
                float p = uint(j) < nk ? exp(ss[t * BK + j] * pc.scale - mx) : 0.0;
#ifdef ATTN_COOPMAT
                float16_t ph = float16_t(p);
                ps[t * BK + j] = ph;
                l += float(ph); // the sum of what P V multiplies
#else
                ss[t * BK + j] = p;
                l += p;
#endif
            }
            m = mx;
            rs[t] = f;
        }
        barrier();
        pv_tile(tx, ty);
    }
    barrier();
    if (t < uint(BQ)) rs[t] = l > 0.0 ? 1.0 / l : 0.0; // len == 0: no keys, zeros
    barrier();
    [[unroll]] for (int i = 0; i < RT; i++) {
        uint r = ty + 8 * i, p = q0 + r;
        if (p >= pc.L) continue;
        float f = rs[r];
        uint obase = (row0 + p) * pc.ldo + h * HD;
        [[unroll]] for (int c = 0; c < CD; c++) {
            uint d = tx + 8 * c;
            if (d < uint(HD)) ctx[obase + d] = STYPE(o[i * CD + c] * f);
        }
    }
}
