#version 450
// attention.comp - multi-head self-attention for one (query block, head,
// sequence) per workgroup: ctx = softmax(q k^T * scale, keys >= len masked) v.
// Keys and values stream through shared memory TK at a time and the softmax
// is computed online (running max m and sum l, rescaling the accumulator),
// so the L x L score matrix never exists in memory.  q, k, v are columns of
// one [tokens, ld] buffer (the fused QKV projection output).
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
// llvmpipe stops any loop after 65535 iterations in total per invocation
// (its hang guard), so the loops over the head dim are unrolled: a loop
// left in would count HD iterations per key and cut long sequences short.
// The shared-memory form (default): K/V tiles go through shared memory.
// ATTN_SUBGROUP (CPU implementations such as lavapipe, where a subgroup is
// one SIMD register and every load of a value all lanes share is a per-lane
// gather): keys go SG at a time, lane i loading key j0+i into registers, and
// each key reaches all lanes through subgroupShuffle with a constant index
// (a register broadcast); the online-softmax rescale is done once per SG keys.
#ifdef ATTN_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
layout(constant_id = 0) const int HD = 64;   // head dim
layout(constant_id = 1) const int TK = 32;   // keys per shared-memory tile
layout(constant_id = 2) const int SG = 8;    // ATTN_SUBGROUP: the subgroup size
#define WQ 64
layout(local_size_x = WQ) in;

layout(std430, binding = 0) readonly buffer QKV { STYPE qkv[]; };
layout(std430, binding = 1) readonly buffer Lens { int lens[]; };
layout(std430, binding = 2) writeonly buffer Ctx { STYPE ctx[]; };
layout(push_constant) uniform PC {
    uint L, ld, qoff, koff, voff, ldo; float scale;
} pc;

#ifndef ATTN_SUBGROUP
shared float ks[TK * HD];
shared float vs[TK * HD];
#endif

void main() {
    uint b = gl_WorkGroupID.z, h = gl_WorkGroupID.y;
    uint p = gl_WorkGroupID.x * WQ + gl_LocalInvocationID.x;
    bool live = p < pc.L;
    uint len = uint(clamp(lens[b], 0, int(pc.L)));
    uint row0 = b * pc.L;

    float q[HD], acc[HD];
    uint qbase = (row0 + min(p, pc.L - 1)) * pc.ld + pc.qoff + h * HD;
    [[unroll]] for (int d = 0; d < HD; d++) { q[d] = float(qkv[qbase + d]) * pc.scale; acc[d] = 0.0; }
    float m = -3.0e38, l = 0.0;

#ifdef ATTN_SUBGROUP
    // Every lane stays in the loops (the shuffles need all of them); the
    // trip counts are uniform over the workgroup.
    uint lane = gl_SubgroupInvocationID;
    for (uint j0 = 0; j0 < len; j0 += SG) {
        uint kb = (row0 + min(j0 + lane, len - 1)) * pc.ld + h * HD;
        float kr[HD], vr[HD];
        [[unroll]] for (int d = 0; d < HD; d++) {
            kr[d] = float(qkv[kb + pc.koff + d]);
            vr[d] = float(qkv[kb + pc.voff + d]);
        }
        float sc[SG];
        float mx = m;
        [[unroll]] for (int s = 0; s < SG; s++) {
            float x = 0.0;
            [[unroll]] for (int d = 0; d < HD; d++) x = fma(q[d], subgroupShuffle(kr[d], uint(s)), x);
            sc[s] = j0 + uint(s) < len ? x : -3.0e38;
            mx = max(mx, sc[s]);
        }
        float corr = exp(m - mx); // 0 on the first chunk (m = -3e38)
        l *= corr;
        [[unroll]] for (int d = 0; d < HD; d++) acc[d] *= corr;
        m = mx;
        [[unroll]] for (int s = 0; s < SG; s++) {
            float pj = j0 + uint(s) < len ? exp(sc[s] - m) : 0.0;
            l += pj;
            [[unroll]] for (int d = 0; d < HD; d++) acc[d] = fma(pj, subgroupShuffle(vr[d], uint(s)), acc[d]);
        }
    }
#else
    for (uint j0 = 0; j0 < len; j0 += TK) {
        uint nk = min(uint(TK), len - j0);
        barrier(); // previous tile fully consumed
        for (uint e = gl_LocalInvocationID.x; e < nk * HD; e += WQ) {
            uint jj = e / HD, d = e % HD;
            uint base = (row0 + j0 + jj) * pc.ld + h * HD + d;
            ks[e] = float(qkv[base + pc.koff]);
            vs[e] = float(qkv[base + pc.voff]);
        }
        barrier();
        for (uint jj = 0; jj < nk; jj++) {
            float sc = 0.0;
            [[unroll]] for (int d = 0; d < HD; d++) sc = fma(q[d], ks[jj * HD + d], sc);
            if (sc > m) { // new running max: rescale what was accumulated
                float corr = exp(m - sc);
                l *= corr;
                [[unroll]] for (int d = 0; d < HD; d++) acc[d] *= corr;
                m = sc;
            }
            float pj = exp(sc - m);
            l += pj;
            [[unroll]] for (int d = 0; d < HD; d++) acc[d] = fma(pj, vs[jj * HD + d], acc[d]);
        }
    }
#endif
    if (!live) return;
    float inv = l > 0.0 ? 1.0 / l : 0.0; // len == 0: no keys, zeros
    uint obase = (row0 + p) * pc.ldo + h * HD;
    [[unroll]] for (int d = 0; d < HD; d++) ctx[obase + d] = STYPE(acc[d] * inv);
}
