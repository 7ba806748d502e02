#version 450
// layernorm.comp - one workgroup per row: y = LayerNorm(x + r) * g + beta.
// With -DEMBED the row is gathered instead: x = word[ids[row]] + pos[row % L]
// (the embedding fused with its LayerNorm).  With -DLN_NORES there is no
// residual input: y = LayerNorm(x) * g + beta (the forward pass, whose
// output-projection GEMMs add the residual in their epilogue).  Two-pass mean/variance, as the
// CPU reference does, through a shared-memory tree reduction.
// LN_SUBGROUP (CPU implementations such as lavapipe): the workgroup is one
// subgroup (its size a specialization constant) and the sums are subgroupAdd,
// with no shared memory and no barriers, which llvmpipe runs as costly
// coroutine switches (the 64-wide tree took ~23 ms per 1024x768 LayerNorm
// there, the subgroup form several times less; see `vkbert bench`).
#include "common.glsl"
#ifdef LN_SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(local_size_x_id = 0) in;
#define WG gl_WorkGroupSize.x
#else
layout(local_size_x = 64) in;
#define WG 64
#endif

// Bindings: embed = ids, word, pos, g, beta, y; add_ln = x, r, g, beta, y;
// LN_NORES = x, g, beta, y.
#ifdef EMBED
layout(std430, binding = 0) readonly buffer Ids { int ids[]; };
layout(std430, binding = 1) readonly buffer Word { STYPE word[]; };
layout(std430, binding = 2) readonly buffer Pos { STYPE pos[]; };
#define B_G 3
#elif defined(LN_NORES)
layout(std430, binding = 0) readonly buffer X { STYPE x[]; };
#define B_G 1
#else
layout(std430, binding = 0) readonly buffer X { STYPE x[]; };
layout(std430, binding = 1) readonly buffer R { STYPE r[]; };
#define B_G 2
#endif
layout(std430, binding = B_G) readonly buffer G { STYPE g[]; };
layout(std430, binding = B_G + 1) readonly buffer Bt { STYPE beta[]; };
layout(std430, binding = B_G + 2) writeonly buffer Y { STYPE y[]; };

layout(push_constant) uniform PC { uint rows, dim, L; float eps; } pc;

#ifdef LN_SUBGROUP
float reduce_sum(float v) { return subgroupAdd(v); }
#else
shared float red[WG];

float reduce_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (t < s) red[t] += red[t + s];
        barrier();
    }
    float total = red[0];
    barrier(); // red[] is reused by the next reduction
    return total;
}
#endif

float load(uint row, uint i) {
#ifdef EMBED
    uint id = uint(ids[row]);
    uint p = row % pc.L;
    return float(word[id * pc.dim + i]) + float(pos[p * pc.dim + i]);
#elif defined(LN_NORES)
    return float(x[row * pc.dim + i]);
#else
    uint o = row * pc.dim + i;
    return float(x[o]) + float(r[o]);
#endif
}

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= pc.rows) return; // uniform per workgroup
    uint t = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = t; i < pc.dim; i += WG) s += load(row, i);
    float mean = reduce_sum(s) / float(pc.dim);
    float v = 0.0;
    for (uint i = t; i < pc.dim; i += WG) { float d = load(row, i) - mean; v += d * d; }
    float rstd = inversesqrt(reduce_sum(v) / float(pc.dim) + pc.eps);
    for (uint i = t; i < pc.dim; i += WG)
        y[row * pc.dim + i] = STYPE((load(row, i) - mean) * rstd * float(g[i]) + float(beta[i]));
}
