/* tensor.c - converting checkpoint tensors to f32 or f16.  Data come straight
 * from the mmapped file at any byte offset, so every element is read bytewise
 * (little-endian, as safetensors stores it) rather than through a typed,
 * possibly misaligned pointer. */
#include "model.h"
#include "half.h"
#include <string.h>

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1 /* the file's byte order: plain copies are conversions */
#else
#define HOST_LE 0
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
#endif

static void to_f32(vkb_dtype dt, const unsigned char *p, float *dst, size_t n) {
    switch (dt) {
    case VKB_DT_F32:
#if HOST_LE
        memcpy(dst, p, n * 4);
#else
        for (size_t i = 0; i < n; i++, p += 4) dst[i] = bits_f32(le32(p));
#endif
        break;
    case VKB_DT_F16:
        for (size_t i = 0; i < n; i++, p += 2) dst[i] = vkb_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
        break;
    case VKB_DT_BF16: /* the top half of an f32 */
        for (size_t i = 0; i < n; i++, p += 2) dst[i] = bits_f32((uint32_t)p[0] << 16 | (uint32_t)p[1] << 24);
        break;
    }
}

static void to_f16(vkb_dtype dt, const unsigned char *p, uint16_t *dst, size_t n) {
    switch (dt) {
    case VKB_DT_F32:
        vkb_f32le_to_f16(p, dst, n);
        break;
    case VKB_DT_F16:
#if HOST_LE
        memcpy(dst, p, n * 2);
#else
        for (size_t i = 0; i < n; i++, p += 2) dst[i] = (uint16_t)(p[0] | p[1] << 8);
#endif
        break;
    case VKB_DT_BF16:
        for (size_t i = 0; i < n; i++, p += 2)
            dst[i] = vkb_f32_to_f16(bits_f32((uint32_t)p[0] << 16 | (uint32_t)p[1] << 24));
        break;
    }
}

static size_t dtype_bytes(vkb_dtype dt) { return dt == VKB_DT_F32 ? 4 : 2; }

void vkb_tensor_convert(const vkb_tensor *t, int64_t first, int64_t n, void *dst, int to_half) {
    const unsigned char *p = (const unsigned char *)t->data + (size_t)first * dtype_bytes(t->dtype);
    if (to_half) to_f16(t->dtype, p, dst, (size_t)n);
    else to_f32(t->dtype, p, dst, (size_t)n);
}

void vkb_tensor_to_f32(const vkb_tensor *t, float *dst) {
    vkb_tensor_convert(t, 0, t->numel, dst, 0);
}
