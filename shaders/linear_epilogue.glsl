// linear_epilogue.glsl - the bindings, push constants and epilogue shared by
// every GEMM form (linear.comp: scalar and cooperative-matrix; gemm_texel.comp):
//   Y[gm, gn] = act(acc + b[gn]) (+ R[gm, gn] when pc.res != 0)
// Bindings 0 and 1 (X and W) are the including shader's; bias is 2, Y 3 and
// the residual R 4 (rows ldy apart, as Y; the host binds some other
// read-only buffer there when res == 0, and the shader never reads it).
// The output projections use the residual (attention out_lin + X, FFN lin2 +
// X1), so the LayerNorm that follows reads one buffer instead of two.
layout(std430, binding = 2) readonly buffer Bias { STYPE bias[]; };
layout(std430, binding = 3) writeonly buffer Y { STYPE y[]; };
layout(std430, binding = 4) readonly buffer Res { STYPE resid[]; };
layout(push_constant) uniform PC { uint M, N, K, lda, ldy, act, res; } pc;

// One output element; out-of-range (gm, gn) are skipped.
void linear_store(uint gm, uint gn, float acc) {
    if (gm >= pc.M || gn >= pc.N) return;
    uint o = gm * pc.ldy + gn;
    float v = vkb_act(acc + float(bias[gn]), pc.act);
    if (pc.res != 0u) v += float(resid[o]);
    y[o] = STYPE(v);
}
