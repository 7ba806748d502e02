/* vk_memory.c - buffers, staging uploads/downloads and fp16 conversion. */
#include "vk_internal.h"
#include "error.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define STAGE_BYTES ((VkDeviceSize)16 << 20)
#define XFER_TIMEOUT_NS (60ull * 1000000000ull)

static int find_type(vkb_vk_ctx *c, uint32_t bits, VkMemoryPropertyFlags want,
                     VkMemoryPropertyFlags prefer) {
    int fallback = -1;
    for (uint32_t i = 0; i < c->mem.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = c->mem.memoryTypes[i].propertyFlags;
        if (!(bits & (1u << i)) || (f & want) != want) continue;
        if ((f & prefer) == prefer) return (int)i;
        if (fallback < 0) fallback = (int)i;
    }
    return fallback;
}

int vkb_vk_buffer_create(vkb_vk_ctx *c, VkDeviceSize size, int host_visible,
                         const char *what, vkb_vk_buffer *b, vkb_error *err) {
    memset(b, 0, sizeof *b);
    if (size == 0) size = 16;
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    char msg[160];
    snprintf(msg, sizeof msg, "creating buffer '%s' (%.1f MiB)", what, (double)size / 1048576.0);
    VkResult r = c->d.vkCreateBuffer(c->dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, msg, err);
    VkMemoryRequirements req;
    c->d.vkGetBufferMemoryRequirements(c->dev, b->buf, &req);
    VkMemoryPropertyFlags want = host_visible
        ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
        : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    /* Readback buffers want cached memory; device buffers any device-local. */
    VkMemoryPropertyFlags prefer = host_visible ? want | VK_MEMORY_PROPERTY_HOST_CACHED_BIT : want;
    int t = find_type(c, req.memoryTypeBits, want, prefer);
    if (t < 0 && !host_visible) t = find_type(c, req.memoryTypeBits, 0, 0);
    if (t < 0) {
        vkb_vk_buffer_destroy(c, b);
        return vkb_fail(err, "Vulkan: no suitable memory type while %s", msg);
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size, .memoryTypeIndex = (uint32_t)t};
    /* the cap on device-local memory (--max-device-mem) refuses like a full
     * device; host-visible staging/readback buffers are not counted */
    if (!host_visible && c->mem_cap && c->mem_used + req.size > c->mem_cap)
        r = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    else r = c->d.vkAllocateMemory(c->dev, &ai, NULL, &b->mem);
    if (r == VK_SUCCESS) r = c->d.vkBindBufferMemory(c->dev, b->buf, b->mem, 0);
    if (r == VK_SUCCESS && host_visible) r = c->d.vkMapMemory(c->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map);
    if (r != VK_SUCCESS) {
        vkb_vk_buffer_destroy(c, b);
        return vkb_vk_fail(c, r, msg, err);
    }
    b->size = size;
    b->mem_bytes = host_visible ? 0 : req.size;
    c->mem_used += b->mem_bytes;
    if (c->mem_used > c->mem_peak) c->mem_peak = c->mem_used;
    return 0;
}

void vkb_vk_buffer_destroy(vkb_vk_ctx *c, vkb_vk_buffer *b) {
    if (b->buf) c->d.vkDestroyBuffer(c->dev, b->buf, NULL);
    if (b->mem) c->d.vkFreeMemory(c->dev, b->mem, NULL);
    c->mem_used -= b->mem_bytes < c->mem_used ? b->mem_bytes : c->mem_used;
    memset(b, 0, sizeof *b);
}

static int stage_ready(vkb_vk_ctx *c, vkb_error *err) {
    if (c->stage) return 0;
    vkb_vk_buffer s;
    if (vkb_vk_buffer_create(c, STAGE_BYTES, 1, "staging", &s, err)) return -1;
    c->stage = s.buf; c->stage_mem = s.mem; c->stage_map = s.map; c->stage_size = s.size;
    return 0;
}

static int copy_chunk(vkb_vk_ctx *c, VkBuffer src, VkDeviceSize soff, VkBuffer dst,
                      VkDeviceSize doff, VkDeviceSize n, const char *what, vkb_error *err) {
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = c->d.vkBeginCommandBuffer(c->xfer, &bi);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, what, err);
    VkBufferCopy region = {.srcOffset = soff, .dstOffset = doff, .size = n};
    c->d.vkCmdCopyBuffer(c->xfer, src, dst, 1, &region);
    /* Make the copy visible to later shaders and to the host. */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT};
    c->d.vkCmdPipelineBarrier(c->xfer, VK_PIPELINE_STAGE_TRANSFER_BIT,
                              VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                              0, 1, &mb, 0, NULL, 0, NULL);
    r = c->d.vkEndCommandBuffer(c->xfer);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, what, err);
    return vkb_vk_submit_wait(c, c->xfer, XFER_TIMEOUT_NS, what, err);
}

int vkb_vk_upload(vkb_vk_ctx *c, vkb_vk_buffer *dst, VkDeviceSize off,
                  const void *src, VkDeviceSize n, vkb_error *err) {
    if (off + n > dst->size) return vkb_fail(err, "upload past the end of a buffer");
    if (dst->map) { memcpy((char *)dst->map + off, src, n); return 0; }
    if (stage_ready(c, err)) return -1;
    for (VkDeviceSize done = 0; done < n;) {
        VkDeviceSize k = n - done < c->stage_size ? n - done : c->stage_size;
        memcpy(c->stage_map, (const char *)src + done, k);
        if (copy_chunk(c, c->stage, 0, dst->buf, off + done, k, "uploading to the device", err))
            return -1;
        done += k;
    }
    return 0;
}

int vkb_vk_download(vkb_vk_ctx *c, vkb_vk_buffer *src, VkDeviceSize off,
                    void *dst, VkDeviceSize n, vkb_error *err) {
    if (off + n > src->size) return vkb_fail(err, "download past the end of a buffer");
    if (src->map) { memcpy(dst, (const char *)src->map + off, n); return 0; }
    if (stage_ready(c, err)) return -1;
    for (VkDeviceSize done = 0; done < n;) {
        VkDeviceSize k = n - done < c->stage_size ? n - done : c->stage_size;
        if (copy_chunk(c, src->buf, off + done, c->stage, 0, k, "downloading from the device", err))
            return -1;
        memcpy((char *)dst + done, c->stage_map, k);
        done += k;
    }
    return 0;
}

/* IEEE binary16 conversions, round to nearest even (host side, so the
 * results do not depend on F16C being available). */
uint16_t vkb_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 0xff) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0)); /* inf/nan */
    int ee = (int)e - 127 + 15;
    if (ee >= 31) return (uint16_t)(sign | 0x7c00u);                    /* overflow */
    if (ee <= 0) {                                                      /* subnormal */
        if (ee < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - ee);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)ee << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; /* may carry into exponent: fine */
    return (uint16_t)(sign | h);
}

float vkb_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 0x400u), (int)e - 25);
    uint32_t x;
    memcpy(&x, &v, 4);
    x |= sign;
    memcpy(&v, &x, 4);
    return v;
}

void vkb_vk_pack(const float *src, void *dst, size_t n, int f16) {
    if (!f16) { memcpy(dst, src, n * sizeof(float)); return; }
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = vkb_f32_to_f16(src[i]);
}

void vkb_vk_unpack(const void *src, float *dst, size_t n, int f16) {
    if (!f16) { memcpy(dst, src, n * sizeof(float)); return; }
    const uint16_t *s = src;
    for (size_t i = 0; i < n; i++) dst[i] = vkb_f16_to_f32(s[i]);
}
