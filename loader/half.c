/* half.c - IEEE binary16 conversions.
 *
 * f32 -> f16 works on the bit pattern a = |x| (sign handled apart) in three
 * ranges, written as selects rather than branches so the compiler can keep
 * the whole-array loop free of mispredictions:
 *   a >= 65536 (2^16): inf, or a quiet NaN (no f16 is that big; values in
 *                      [65520, 65536) round up to inf in the normal case);
 *   a <  2^-14:        f16 subnormal or zero.  Adding 0.5f puts the value in
 *                      a float whose last mantissa bit is worth 2^-24, the f16
 *                      subnormal step, so the FPU's own round-to-nearest-even
 *                      does the rounding; the mantissa bits are the result;
 *   otherwise:         rebias the exponent (127 -> 15, i.e. add -112 << 23)
 *                      and drop 13 mantissa bits, adding 0xfff plus the lowest
 *                      kept bit first, which is round-to-nearest-even; a carry
 *                      out of the mantissa correctly bumps the exponent. */
#include "half.h"
#include <string.h>

static inline uint16_t from_bits(uint32_t x) {
    uint32_t a = x & 0x7fffffffu;
    float fa;
    memcpy(&fa, &a, 4);
    fa += 0.5f;
    uint32_t sub;
    memcpy(&sub, &fa, 4);
    sub -= 0x3f000000u;                                    /* bits of 0.5f */
    uint32_t norm = (a + 0xc8000fffu + ((a >> 13) & 1u)) >> 13;
    uint32_t big = a > 0x7f800000u ? 0x7e00u : 0x7c00u;
    uint32_t h = a < 0x38800000u ? sub : norm;
    h = a >= 0x47800000u ? big : h;
    return (uint16_t)(((x >> 16) & 0x8000u) | h);
}

uint16_t vkb_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    return from_bits(x);
}

void vkb_f32le_to_f16(const unsigned char *p, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++, p += 4)
        dst[i] = from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
}

float vkb_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0x1f) x = sign | 0x7f800000u | man << 13;
    else if (exp) x = sign | (exp + 112) << 23 | man << 13;
    else if (!man) x = sign;
    else { /* subnormal: value = man * 2^-24; shift the leading 1 into bit 10 */
        uint32_t e = 113;
        while (!(man & 0x400u)) { man <<= 1; e--; }
        x = sign | e << 23 | (man & 0x3ffu) << 13;
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}
