/* cpu_simd_kernels.h - the bodies of the SIMD kernels (cpu_simd.c), written
 * once on 16-float GCC vector values and included once per instruction set
 * with SFX (the name suffix), TGT (the target attribute), VFMA (a*b+c with
 * one rounding), and QK_KEYS / PV_ROWS (register tiling: REPQ / REPP list
 * that many accumulator indices).  Each output is the same chain of the same
 * IEEE operations in every instantiation (the file is built with
 * -ffp-contract=off; fused multiply-adds only where VFMA says so), so every
 * instruction set gives the same bits.  Included by cpu_simd.c only. */

#define KCAT_(a, b) a##b
#define KCAT(a, b) KCAT_(a, b)
#define KN(name) KCAT(name, SFX)
#define KI static inline __attribute__((always_inline)) TGT

KI vf KN(vload)(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
KI void KN(vstore)(float *p, vf v) { memcpy(p, &v, sizeof v); }
/* the first cnt (0..16) floats at p, the rest zero */
KI vf KN(vload_n)(const float *p, int cnt) {
    vf v = VB(0.0f);
    memcpy(&v, p, (size_t)cnt * sizeof(float));
    return v;
}
/* cnt = 16: a plain vector load/store; fewer: through memcpy */
KI vf KN(vload_c)(const float *p, int cnt) { return cnt == 16 ? KN(vload)(p) : KN(vload_n)(p, cnt); }
KI void KN(vstore_c)(float *p, vf v, int cnt) {
    if (cnt == 16) KN(vstore)(p, v);
    else memcpy(p, &v, (size_t)cnt * sizeof(float));
}
KI vf KN(vsel)(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
KI vf KN(vmax)(vf a, vf b) { return KN(vsel)(a > b, a, b); } /* a > b ? a : b */

/* e^v for v in [-87, 0]: Cody-Waite range reduction and a degree-7 Taylor
 * polynomial (relative error ~1e-7), fused multiply-adds throughout; n =
 * round(v / ln 2) comes from adding 1.5 * 2^23, whose bits then hold n too. */
KI vf KN(vexp_neg)(vf v) {
    v = KN(vsel)(v < -87.0f, VB(-87.0f), v); /* a NaN stays one, through r and p */
    vf t = VFMA(v, VB(1.44269504088896341f), VB(12582912.0f)); /* 1.5 * 2^23 + n */
    vf n = t - 12582912.0f;
    vf r = VFMA(n, VB(-0.693359375f), v); /* ln 2 in two parts */
    r = VFMA(n, VB(2.12194440e-4f), r);
    vf p = VFMA(VB(1.0f / 5040.0f), r, VB(1.0f / 720.0f));
    p = VFMA(p, r, VB(1.0f / 120.0f));
    p = VFMA(p, r, VB(1.0f / 24.0f));
    p = VFMA(p, r, VB(1.0f / 6.0f));
    p = VFMA(p, r, VB(0.5f));
    p = VFMA(p, r, VB(1.0f));
    p = VFMA(p, r, VB(1.0f));
    vu bits = ((vu)t - 0x4B400000u + 127u) << 23; /* 2^n for n in [-126, 0] */
    return p * (vf)bits;
}

/* GELU, erf from Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) written for
 * x < 0 as erfc, so the small results of the negative side keep their
 * relative accuracy; x > 10: x (erfc < 1e-23; +inf stays) */
KI vf KN(vgelu)(vf x) {
    vf ax = (vf)((vu)x & 0x7fffffffu);
    vf z = ax * 0.70710678118654752f;
    vf t = 1.0f / (1.0f + 0.3275911f * z);
    vf poly = VFMA(t, VB(1.061405429f), VB(-1.453152027f));
    poly = VFMA(poly, t, VB(1.421413741f));
    poly = VFMA(poly, t, VB(-0.284496736f));
    poly = VFMA(poly, t, VB(0.254829592f));
    poly = poly * t;
    vf erfc_z = poly * KN(vexp_neg)(-z * z);
    vf h = 0.5f * x * erfc_z;
    vf y = KN(vsel)(x < 0.0f, h, x - h);
    return KN(vsel)(x > 10.0f, x, y);
}

TGT static void KN(gelu_span)(float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) KN(vstore)(y + i, KN(vgelu)(KN(vload)(y + i)));
    if (i < n) {
        vf v = KN(vgelu)(KN(vload_n)(y + i, (int)(n - i)));
        memcpy(y + i, &v, (n - i) * sizeof(float));
    }
}

/* Sum of 16 double lanes (lo: 0..7, hi: 8..15) in a fixed tree. */
KI double KN(hsum_d)(vd lo, vd hi) {
    double a[16];
    memcpy(a, &lo, sizeof lo);
    memcpy(a + 8, &hi, sizeof hi);
    for (int w = 8; w; w >>= 1)
        for (int l = 0; l < w; l++) a[l] += a[l + w];
    return a[0];
}

/* LayerNorm of x (+ r) into y (may alias x): mean and variance summed in
 * double over 16 lanes (element i into lane i % 16, the tail zero-padded),
 * then a fixed tree; d = x + r - mean in float, y = d * inv * g + beta. */
TGT static void KN(layernorm_row)(const float *x, const float *r, const float *g,
                                  const float *beta, float *y, int dim, float eps) {
    vd s0 = VD(0.0), s1 = VD(0.0);
    int i = 0;
    for (; i < dim; i += 16) {
        int c = dim - i < 16 ? dim - i : 16;
        vf v = KN(vload_c)(x + i, c);
        if (r) v = v + KN(vload_c)(r + i, c);
        s0 = s0 + __builtin_convertvector(LO8(v), vd);
        s1 = s1 + __builtin_convertvector(HI8(v), vd);
    }
    double mean = KN(hsum_d)(s0, s1) / dim;
    float fm = (float)mean;
    s0 = s1 = VD(0.0);
    for (i = 0; i < dim; i += 16) {
        int c = dim - i < 16 ? dim - i : 16;
        vf v = KN(vload_c)(x + i, c);
        if (r) v = v + KN(vload_c)(r + i, c);
        vf d = v - fm;
        if (c < 16) d = KN(vsel)(LANE < c, d, VB(0.0f));
        vd d0 = __builtin_convertvector(LO8(d), vd), d1 = __builtin_convertvector(HI8(d), vd);
        s0 = s0 + d0 * d0;
        s1 = s1 + d1 * d1;
    }
    double var = KN(hsum_d)(s0, s1) / dim;
    float inv = (float)(1.0 / sqrt(var + (double)eps));
    for (i = 0; i < dim; i += 16) {
        int c = dim - i < 16 ? dim - i : 16;
        vf v = KN(vload_c)(x + i, c);
        if (r) v = v + KN(vload_c)(r + i, c);
        vf o = (v - fm) * inv * KN(vload_c)(g + i, c) + KN(vload_c)(beta + i, c);
        KN(vstore_c)(y + i, o, c);
    }
}

/* ---- attention of one (sequence, head) -------------------------------------
 * Queries 32 at a time, transposed and scaled into qt [hd][32]; the scores
 * come out transposed, st[j][i] (key j, query lane i), so the softmax over j
 * is vertical (one chain per query lane, no horizontal reduction); keys and
 * values are read in place (rows D floats apart), values through a zero-
 * padded copy when hd is not a multiple of 32.  Per output: s_ij = fma chain
 * over e; p_ij = e^(s_ij - max_j); sum_j p_ij in order j; ctx_ie = (fma chain
 * over j of p_ij v_je) * (1 / sum).  Nothing depends on L, the tile or the
 * batch. */
#define QREG_DECL(c) vf a##c = VB(0.0f), b##c = VB(0.0f); \
    const float *k##c = kb + (size_t)(j0 + (c) < n ? j0 + (c) : n - 1) * D;
#define QREG_FMA(c) { vf kc = VB(k##c[e]); a##c = VFMA(q0, kc, a##c); b##c = VFMA(q1, kc, b##c); }
#define QREG_STORE(c) KN(vstore)(st + (size_t)(j0 + (c)) * 32, a##c); \
    KN(vstore)(st + (size_t)(j0 + (c)) * 32 + 16, b##c);

#define PREG_DECL(r) vf a##r = VB(0.0f), b##r = VB(0.0f);
#define PREG_FMA(r) { vf pr = VB(pj[r0 + (r)]); a##r = VFMA(w0, pr, a##r); b##r = VFMA(w1, pr, b##r); }
#define PREG_STORE(r) if (r0 + (r) < nt) { \
        float *o = cb + (size_t)(t0 + r0 + (r)) * DC + e0; \
        vf is = VB(inv[r0 + (r)]); \
        vf o0 = a##r * is, o1 = b##r * is; \
        if (cnt >= 16) KN(vstore)(o, o0); else memcpy(o, &o0, (size_t)cnt * sizeof(float)); \
        if (cnt == 32) KN(vstore)(o + 16, o1); \
        else if (cnt > 16) memcpy(o + 16, &o1, (size_t)(cnt - 16) * sizeof(float)); }

TGT static void KN(attn_head)(const float *qb, const float *kb, const float *vb, size_t D,
                              float *cb, size_t DC, int L, int nq, int n, int hd, float scale,
                              float *scr) {
    if (n <= 0) { /* no valid key: zeros, as the fp64 path */
        for (int i = 0; i < nq; i++) memset(cb + (size_t)i * DC, 0, (size_t)hd * sizeof(float));
        return;
    }
    /* the head's rows are D floats apart, too far for the hardware prefetcher:
     * ask for all of them now (to L2), so their misses overlap */
    for (int i = 0; i < L; i++)
        for (int e = 0; e < hd; e += 16) {
            if (i < nq) __builtin_prefetch(qb + (size_t)i * D + e, 0, 2);
            if (i < n) {
                __builtin_prefetch(kb + (size_t)i * D + e, 0, 2);
                __builtin_prefetch(vb + (size_t)i * D + e, 0, 2);
            }
        }
    size_t hp = ((size_t)hd + 31) / 32 * 32;
    float *qt = scr;                                   /* [hd][32] */
    float *st = qt + (size_t)hd * 32;                  /* [round_up(L, QK_KEYS)][32] */
    float *inv = st + ((size_t)L + QK_KEYS - 1) / QK_KEYS * QK_KEYS * 32; /* [32] */
    const float *vs = vb;
    size_t ldv = D;
    if (hp != (size_t)hd) { /* [n][hp], zero-padded */
        float *vp = inv + 32;
        for (int j = 0; j < n; j++) {
            memcpy(vp + (size_t)j * hp, vb + (size_t)j * D, (size_t)hd * sizeof(float));
            memset(vp + (size_t)j * hp + hd, 0, (hp - (size_t)hd) * sizeof(float));
        }
        vs = vp;
        ldv = hp;
    }
    for (int t0 = 0; t0 < nq; t0 += 32) { /* each query in its own lane: nq changes no bit */
        int nt = nq - t0 < 32 ? nq - t0 : 32;
        /* qt = the tile's queries * scale, transposed in 16 x 16 blocks in
         * registers; queries past nt are zero */
        for (int i0 = 0; i0 < 32; i0 += 16)
            for (int e0 = 0; e0 < hd; e0 += 16) {
                int ce = hd - e0 < 16 ? hd - e0 : 16;
                const float *qs = qb + (size_t)(t0 + i0) * D + e0;
#define TLOAD(r) vf m##r = i0 + (r) < nt ? KN(vload_c)(qs + (size_t)(r) * D, ce) * scale : VB(0.0f);
                REP16(TLOAD)
#undef TLOAD
#define TPAIR(a, b, k) { vf A_ = m##a, B_ = m##b; \
                m##a = __builtin_shufflevector(A_, B_, TR_LO##k); m##b = __builtin_shufflevector(A_, B_, TR_HI##k); }
                TPAIR(0, 8, 8) TPAIR(1, 9, 8) TPAIR(2, 10, 8) TPAIR(3, 11, 8)
                TPAIR(4, 12, 8) TPAIR(5, 13, 8) TPAIR(6, 14, 8) TPAIR(7, 15, 8)
                TPAIR(0, 4, 4) TPAIR(1, 5, 4) TPAIR(2, 6, 4) TPAIR(3, 7, 4)
                TPAIR(8, 12, 4) TPAIR(9, 13, 4) TPAIR(10, 14, 4) TPAIR(11, 15, 4)
                TPAIR(0, 2, 2) TPAIR(1, 3, 2) TPAIR(4, 6, 2) TPAIR(5, 7, 2)
                TPAIR(8, 10, 2) TPAIR(9, 11, 2) TPAIR(12, 14, 2) TPAIR(13, 15, 2)
                TPAIR(0, 1, 1) TPAIR(2, 3, 1) TPAIR(4, 5, 1) TPAIR(6, 7, 1)
                TPAIR(8, 9, 1) TPAIR(10, 11, 1) TPAIR(12, 13, 1) TPAIR(14, 15, 1)
#undef TPAIR
#define TSTORE(e) if ((e) < ce) KN(vstore)(qt + (size_t)(e0 + (e)) * 32 + i0, m##e);
                REP16(TSTORE)
#undef TSTORE
            }
        /* scores: QK_KEYS keys (past n: the last one again, dropped) x 32 queries */
        for (int j0 = 0; j0 < n; j0 += QK_KEYS) {
            REPQ(QREG_DECL)
            for (int e = 0; e < hd; e++) {
                vf q0 = KN(vload)(qt + (size_t)e * 32), q1 = KN(vload)(qt + (size_t)e * 32 + 16);
                REPQ(QREG_FMA)
            }
            REPQ(QREG_STORE)
        }
        /* softmax over the n keys, per query lane; probabilities in place */
        for (int h = 0; h < 32; h += 16) {
            vf mx = KN(vload)(st + h);
            for (int j = 1; j < n; j++) mx = KN(vmax)(KN(vload)(st + (size_t)j * 32 + h), mx);
            vf sum = VB(0.0f);
            for (int j = 0; j < n; j++) {
                vf p = KN(vexp_neg)(KN(vload)(st + (size_t)j * 32 + h) - mx);
                KN(vstore)(st + (size_t)j * 32 + h, p);
                sum = sum + p;
            }
            KN(vstore)(inv + h, 1.0f / sum);
        }
        /* ctx rows: PV_ROWS queries x 32 columns */
        for (int r0 = 0; r0 < nt; r0 += PV_ROWS)
            for (size_t e0 = 0; e0 < hp; e0 += 32) {
                int cnt = hd - (int)e0 < 32 ? hd - (int)e0 : 32;
                REPP(PREG_DECL)
                const float *pj = st, *vj = vs + e0;
                for (int j = 0; j < n; j++, pj += 32, vj += ldv) {
                    vf w0 = KN(vload)(vj), w1 = KN(vload)(vj + 16);
                    REPP(PREG_FMA)
                }
                REPP(PREG_STORE)
            }
    }
}
#undef QREG_DECL
#undef QREG_FMA
#undef QREG_STORE
#undef PREG_DECL
#undef PREG_FMA
#undef PREG_STORE

/* ---- low-precision GEMM inputs and outputs (cpu_lowp.c) ---------------------- */
/* bf16, round to nearest even (finite inputs), as to_bf16 in cpu_lowp.c */
TGT static void KN(bf16_row)(const float *x, uint16_t *q, int K) {
    for (int k = 0; k < K; k += 16) {
        int c = K - k < 16 ? K - k : 16;
        vu u = (vu)KN(vload_c)(x + k, c);
        u = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        vh h = __builtin_convertvector(u, vh);
        if (c == 16) memcpy(q + k, &h, sizeof h);
        else memcpy(q + k, &h, (size_t)c * sizeof(uint16_t));
    }
}

/* u8 with the row's scale and zero point (quant_ref in test_cpu_ops.c): the
 * range [min(0, lo), max(0, hi)] onto [0, 255]; x * inv is within +-256, so
 * adding and subtracting 1.5 * 2^23 rounds it to nearest even, as nearbyintf. */
TGT static void KN(quant_row)(const float *x, int K, uint8_t *q, float *scale, int32_t *zp) {
    vf lo = VB(0.0f), hi = VB(0.0f);
    for (int k = 0; k < K; k += 16) {
        int c = K - k < 16 ? K - k : 16;
        vf v = KN(vload_c)(x + k, c); /* zero padding: the range includes 0 anyway */
        lo = KN(vsel)(v < lo, v, lo);
        hi = KN(vsel)(v > hi, v, hi);
    }
    float l = 0, h = 0;
    for (int i = 0; i < 16; i++) {
        l = lo[i] < l ? lo[i] : l;
        h = hi[i] > h ? hi[i] : h;
    }
    float s = (h - l) / 255.0f;
    if (!(s > 0)) s = 1.0f;
    float inv = 1.0f / s;
    float z = nearbyintf(-l * inv);
    z = z < 0 ? 0 : z > 255 ? 255 : z;
    for (int k = 0; k < K; k += 16) {
        int c = K - k < 16 ? K - k : 16;
        vf v = KN(vload_c)(x + k, c) * inv;
        v = (v + 12582912.0f) - 12582912.0f + z;
        v = KN(vsel)(v < 0.0f, VB(0.0f), v);
        v = KN(vsel)(v > 255.0f, VB(255.0f), v);
        vb8 b = __builtin_convertvector(__builtin_convertvector(v, vi), vb8);
        if (c == 16) memcpy(q + k, &b, sizeof b);
        else memcpy(q + k, &b, (size_t)c);
    }
    *scale = s;
    *zp = (int32_t)z;
}

/* The epilogue of one output row of N: (int8: y holds s32 sums, scaled by
 * sa * wscale[n] after subtracting zp * wsum[n]) + b, act, + r, then
 * LayerNorm (g set). */
TGT static void KN(lp_epilogue_row)(float *y, int N, const vkb_lp_row_q *qz, const float *b,
                                    int act, const float *r, const float *g, const float *beta,
                                    float eps) {
    for (int n = 0; n < N; n += 16) {
        int c = N - n < 16 ? N - n : 16;
        vf v = KN(vload_c)(y + n, c);
        if (qz) {
            vi acc = (vi)v;
            vi ws;
            vf sc = VB(0.0f);
            if (c == 16) {
                memcpy(&ws, qz->wsum + n, sizeof ws);
                memcpy(&sc, qz->wscale + n, sizeof sc);
            } else {
                memset(&ws, 0, sizeof ws);
                memcpy(&ws, qz->wsum + n, (size_t)c * sizeof(int32_t));
                memcpy(&sc, qz->wscale + n, (size_t)c * sizeof(float));
            }
            v = __builtin_convertvector(acc - qz->zp * ws, vf) * (qz->sa * sc);
        }
        if (b) v = v + KN(vload_c)(b + n, c);
        if (act == 1) v = KN(vgelu)(v);
        else if (act == 2) v = KN(vsel)(v > 0.0f, v, VB(0.0f));
        if (r) v = v + KN(vload_c)(r + n, c);
        KN(vstore_c)(y + n, v, c);
    }
    if (g) KN(layernorm_row)(y, NULL, g, beta, y, N, eps);
}

#undef KN
#undef KI

/* this instantiation's parameters, undefined for the next one */
#undef SFX
#undef TGT
#undef VFMA
#undef QK_KEYS
#undef PV_ROWS
#undef REPQ
#undef REPP
