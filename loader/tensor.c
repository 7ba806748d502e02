/* tensor.c - converting checkpoint tensors to f32.  Data come straight from
 * the mmapped file at any byte offset, so every element is read bytewise
 * (little-endian, as safetensors stores it) rather than through a typed,
 * possibly misaligned pointer. */
#include "model.h"
#include <string.h>

/* IEEE half -> single, exact for every input: subnormals are renormalised,
 * inf stays inf and NaN keeps its payload (so stays NaN). */
static uint32_t f16_bits_to_f32_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return sign | 0x7f800000u | man << 13;
    if (exp) return sign | (exp + 112) << 23 | man << 13;
    if (!man) return sign;
    uint32_t e = 113; /* value = man * 2^-24: shift the leading 1 into bit 10 */
    while (!(man & 0x400u)) { man <<= 1; e--; }
    return sign | e << 23 | (man & 0x3ffu) << 13;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void vkb_tensor_to_f32(const vkb_tensor *t, float *dst) {
    const unsigned char *p = t->data;
    int64_t n = t->numel;
    switch (t->dtype) {
    case VKB_DT_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, p, (size_t)n * 4);
#else
        for (int64_t i = 0; i < n; i++, p += 4)
            dst[i] = from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
#endif
        break;
    case VKB_DT_F16:
        for (int64_t i = 0; i < n; i++, p += 2)
            dst[i] = from_bits(f16_bits_to_f32_bits((uint16_t)(p[0] | p[1] << 8)));
        break;
    case VKB_DT_BF16: /* the top half of an f32 */
        for (int64_t i = 0; i < n; i++, p += 2)
            dst[i] = from_bits((uint32_t)p[0] << 16 | (uint32_t)p[1] << 24);
        break;
    }
}
