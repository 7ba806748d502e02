/* test_tensor_convert.c - vkb_tensor_to_f32 on every F16 and BF16 bit
 * pattern (subnormals, infinities, NaNs included), read from unaligned data,
 * against an independent ldexp-based decoding. */
#include "testutil.h"
#include "model.h"
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
    vkb_tensor_to_f32(&t, out);
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
    vkb_tensor_to_f32(&t, out);
    for (int i = 0; i < 5; i++) CHECK(same(out[i], src[i]), "f32 element %d", i);
    free(out);
    return vkb_test_done("test_tensor_convert");
}
