/* tensor.c - converting checkpoint tensors to f32 or f16.  Data come from
 * model.safetensors by pread() (see model.h) or from memory at any byte
 * offset, so every element is read bytewise (little-endian, as safetensors
 * stores it) rather than through a typed, possibly misaligned pointer. */
#define _XOPEN_SOURCE 700 /* pread */
#include "model.h"
#include "half.h"
#include "error.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

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

static void convert_mem(vkb_dtype dt, const unsigned char *p, size_t n, void *dst, int to_half) {
    if (to_half) to_f16(dt, p, dst, n);
    else to_f32(dt, p, dst, n);
}

/* Reads exactly n bytes at off; -1 on an error or end of file. */
static int read_at(int fd, void *dst, size_t n, uint64_t off) {
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)dst + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

int vkb_tensor_convert(const vkb_tensor *t, int64_t first, int64_t n, void *dst, int to_half,
                       vkb_error *err) {
    const size_t es = dtype_bytes(t->dtype), os = to_half ? 2 : 4;
    if (!t->file) {
        convert_mem(t->dtype, (const unsigned char *)t->data + (size_t)first * es, (size_t)n, dst, to_half);
        return 0;
    }
    uint64_t off = t->off + (uint64_t)first * es;
    if (es == os && HOST_LE && t->dtype != VKB_DT_BF16) { /* F32 -> f32, F16 -> f16: read in place */
        if (read_at(t->file->fd, dst, (size_t)n * es, off) == 0) return 0;
    } else {
        unsigned char buf[16384];
        const size_t per = sizeof buf / es;
        size_t done = 0;
        for (; done < (size_t)n; done += per) {
            size_t k = (size_t)n - done < per ? (size_t)n - done : per;
            if (read_at(t->file->fd, buf, k * es, off + done * es)) break;
            convert_mem(t->dtype, buf, k, (char *)dst + done * os, to_half);
        }
        if (done >= (size_t)n) return 0;
    }
    return vkb_fail(err, "%s: cannot read %lld bytes of tensor data at byte %llu (file truncated or "
                         "changed while loading?)", t->file->path, (long long)((int64_t)n * (int64_t)es),
                    (unsigned long long)off);
}

int vkb_tensor_to_f32(const vkb_tensor *t, float *dst, vkb_error *err) {
    return vkb_tensor_convert(t, 0, t->numel, dst, 0, err);
}
