/* test_tensor_convert.c - vkb_tensor_to_f32 on every F16 and BF16 bit
 * pattern (subnormals, infinities, NaNs included), read from unaligned data,
 * against an independent ldexp-based decoding; and the conversion to f16
 * that fp16 uploads use (vkb_tensor_convert, to_half) against a
 * straightforward branchy rounding, on every sign x exponent x top-10-bit
 * mantissa with the dropped 13 bits at each rounding boundary. */
#include "testutil.h"
#include "model.h"
#include "half.h"
#include <math.h>
#include <string.h>

/* Reference: the IEEE half definition, straight from the formula. */
static float ref_f16(uint16_t h) {
    int s = h >> 15, e = h >> 10 & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp(m, -24);
    else v = ldexp(1024 + m, e - 25);
    return (float)(s ? -v : v);
}

/* Reference f32 -> f16: the textbook cases one by one, round to nearest even
 * on the remainder. */
static uint16_t ref_to_f16(uint32_t x) {
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 0xff) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
    int ee = (int)e - 127 + 15;
    if (ee >= 31) return (uint16_t)(sign | 0x7c00u);
    if (ee <= 0) {
        if (ee < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - ee);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)ee << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static void check_to_f16(void) {
    static const uint32_t low[] = {0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x0800, 0x17ff};
    const size_t nlow = sizeof low / sizeof low[0], n = 2u * 256u * 1024u * nlow;
    unsigned char *raw = malloc(4 * n + 3);
    uint16_t *h = malloc(2 * n), *h2 = malloc(2 * n);
    REQUIRE(raw && h && h2, "out of memory");
    size_t i = 0;
    for (uint32_t s = 0; s < 2; s++)
        for (uint32_t e = 0; e < 256; e++)
            for (uint32_t top = 0; top < 1024; top++)
                for (size_t k = 0; k < nlow; k++, i++) {
                    uint32_t x = s << 31 | e << 23 | top << 13 | low[k];
                    for (int b = 0; b < 4; b++) raw[3 + 4 * i + b] = (unsigned char)(x >> (8 * b));
                }
    /* three bytes in: no element is aligned */
    vkb_tensor t = {.data = raw + 3, .dtype = VKB_DT_F32, .ndim = 1, .shape = {(int64_t)n}, .numel = (int64_t)n};
    vkb_tensor_convert(&t, 0, (int64_t)n, h, 1, NULL);
    int bad = 0;
    for (i = 0; i < n; i++) {
        const unsigned char *p = raw + 3 + 4 * i;
        uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        uint16_t want = ref_to_f16(x);
        if (h[i] != want && bad++ < 5) CHECK(0, "f32 0x%08x -> f16 0x%04x, want 0x%04x", x, h[i], want);
        float f;
        memcpy(&f, &x, 4);
        if (vkb_f32_to_f16(f) != want && bad++ < 5) CHECK(0, "scalar f32 0x%08x", x);
    }
    CHECK(bad == 0, "%d f32 -> f16 conversions wrong", bad);
    /* a sub-range lands where the whole conversion put it */
    vkb_tensor_convert(&t, 12345, 1000, h2, 1, NULL);
    CHECK(memcmp(h2, h + 12345, 2000) == 0, "sub-range conversion differs");
    CHECK(vkb_f32_to_f16(65519.996f) == 0x7bff && vkb_f32_to_f16(65520.0f) == 0x7c00 &&
          vkb_f32_to_f16(-1e10f) == 0xfc00, "overflow boundary");
    CHECK(vkb_f32_to_f16(ldexpf(1, -25)) == 0 && vkb_f32_to_f16(ldexpf(3, -26)) == 1 &&
          vkb_f32_to_f16(ldexpf(1, -14)) == 0x0400, "subnormal boundaries");
    free(raw); free(h); free(h2);

    /* F16 -> f16 is a copy; BF16 -> f16 rounds like f32 -> f16 */
    unsigned char r16[2 * 65536 + 1];
    for (uint32_t v = 0; v < 65536; v++) { r16[1 + 2 * v] = (unsigned char)v; r16[2 + 2 * v] = (unsigned char)(v >> 8); }
    uint16_t *o = malloc(2 * 65536);
    REQUIRE(o, "out of memory");
    vkb_tensor t16 = {.data = r16 + 1, .dtype = VKB_DT_F16, .ndim = 1, .shape = {65536}, .numel = 65536};
    vkb_tensor_convert(&t16, 0, 65536, o, 1, NULL);
    bad = 0;
    for (uint32_t v = 0; v < 65536; v++) bad += o[v] != v;
    CHECK(bad == 0, "f16 -> f16 changed %d values", bad);
    t16.dtype = VKB_DT_BF16;
    vkb_tensor_convert(&t16, 0, 65536, o, 1, NULL);
    bad = 0;
    for (uint32_t v = 0; v < 65536; v++) bad += o[v] != ref_to_f16(v << 16);
    CHECK(bad == 0, "bf16 -> f16: %d values wrong", bad);
    free(o);
}

static int same(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static void convert_all(vkb_dtype dt, float *out) {
    /* One byte of offset so that no element is 2- or 4-byte aligned. */
    unsigned char *raw = malloc(2 * 65536 + 1);
    for (uint32_t i = 0; i < 65536; i++) {
        raw[1 + 2 * i] = (unsigned char)(i & 0xff);
        raw[2 + 2 * i] = (unsigned char)(i >> 8);
    }
    vkb_tensor t = {.data = raw + 1, .dtype = dt, .ndim = 1, .shape = {65536}, .numel = 65536};
    vkb_tensor_to_f32(&t, out, NULL);
    free(raw);
}

int main(void) {
    float *out = malloc(65536 * sizeof(float));
    int bad = 0;
    convert_all(VKB_DT_F16, out);
    for (uint32_t i = 0; i < 65536; i++)
        if (!same(out[i], ref_f16((uint16_t)i)) && bad++ < 5)
            CHECK(0, "f16 0x%04x -> %g, want %g", i, out[i], ref_f16((uint16_t)i));
    CHECK(bad == 0, "%d f16 patterns wrong", bad);
    /* Spot checks of the special cases, spelled out. */
    CHECK(out[0x0001] == ldexpf(1, -24), "smallest subnormal");
    CHECK(out[0x03ff] == ldexpf(1023, -24), "largest subnormal");
    CHECK(out[0x0400] == ldexpf(1, -14), "smallest normal");
    CHECK(out[0x7bff] == 65504.0f, "largest finite");
    CHECK(isinf(out[0x7c00]) && out[0x7c00] > 0 && isinf(out[0xfc00]) && out[0xfc00] < 0, "infinities");
    CHECK(isnan(out[0x7e00]) && isnan(out[0x7c01]) && isnan(out[0xfe00]), "NaNs (quiet, signalling, negative)");
    CHECK(out[0x8000] == 0 && signbit(out[0x8000]), "-0");
    CHECK(out[0x3c00] == 1.0f && out[0xc000] == -2.0f && out[0x3555] == 0.333251953125f, "normals");

    convert_all(VKB_DT_BF16, out);
    bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint32_t u;
        memcpy(&u, &out[i], 4);
        if (u != i << 16 && bad++ < 5) CHECK(0, "bf16 0x%04x -> bits 0x%08x", i, u);
    }
    CHECK(bad == 0, "%d bf16 patterns wrong", bad);
    CHECK(out[0x0001] == ldexpf(1, -133), "bf16 smallest subnormal");
    CHECK(out[0x3f80] == 1.0f && isinf(out[0x7f80]) && isnan(out[0x7fc0]) && isinf(out[0xff80]), "bf16 specials");

    /* F32 from an odd address, including inf and NaN. */
    float src[5] = {1.5f, -0.0f, INFINITY, NAN, ldexpf(1, -149)};
    unsigned char raw[1 + sizeof src];
    memcpy(raw + 1, src, sizeof src);
    vkb_tensor t = {.data = raw + 1, .dtype = VKB_DT_F32, .ndim = 1, .shape = {5}, .numel = 5};
    vkb_tensor_to_f32(&t, out, NULL);
    for (int i = 0; i < 5; i++) CHECK(same(out[i], src[i]), "f32 element %d", i);
    free(out);
    check_to_f16();
    return vkb_test_done("test_tensor_convert");
}
