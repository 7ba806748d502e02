/* vk_memory.c - buffers, staging uploads/downloads and fp16 conversion. */
#include "vk_internal.h"
#include "error.h"
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

int vkb_vk_buffer_create(vkb_vk_ctx *c, VkDeviceSize size, vkb_vk_mem mode,
                         const char *what, vkb_vk_buffer *b, vkb_error *err) {
    memset(b, 0, sizeof *b);
    int host_visible = mode == VKB_MEM_HOST;
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
    /* Device-local memory the host can map, on devices that share the host's
     * memory (CPU implementations, integrated GPUs): weights are converted
     * straight into it, no staging copy.  Discrete GPUs keep plain
     * device-local memory (their host-visible window may be small and slow). */
    int uma = c->caps.uma;
    int t = -1;
    if (mode == VKB_MEM_DEVICE_MAPPED && uma)
        t = find_type(c, req.memoryTypeBits, want | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                      VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, want);
    int mapped = t >= 0;
    if (t < 0) t = find_type(c, req.memoryTypeBits, want, prefer);
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
    if (r == VK_SUCCESS && (host_visible || mapped)) r = c->d.vkMapMemory(c->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map);
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

int vkb_vk_stage_ready(vkb_vk_ctx *c, vkb_error *err) {
    if (c->stage) return 0;
    vkb_vk_buffer s;
    if (vkb_vk_buffer_create(c, STAGE_BYTES, VKB_MEM_HOST, "staging", &s, err)) return -1;
    c->stage = s.buf; c->stage_mem = s.mem; c->stage_map = s.map; c->stage_size = s.size;
    return 0;
}

int vkb_vk_copy_regions(vkb_vk_ctx *c, VkBuffer src, VkBuffer dst, const VkBufferCopy *regions,
                        uint32_t n, const char *what, vkb_error *err) {
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = c->d.vkBeginCommandBuffer(c->xfer, &bi);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, what, err);
    c->d.vkCmdCopyBuffer(c->xfer, src, dst, n, regions);
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

static int copy_chunk(vkb_vk_ctx *c, VkBuffer src, VkDeviceSize soff, VkBuffer dst,
                      VkDeviceSize doff, VkDeviceSize n, const char *what, vkb_error *err) {
    VkBufferCopy region = {.srcOffset = soff, .dstOffset = doff, .size = n};
    return vkb_vk_copy_regions(c, src, dst, &region, 1, what, err);
}

int vkb_vk_upload(vkb_vk_ctx *c, vkb_vk_buffer *dst, VkDeviceSize off,
                  const void *src, VkDeviceSize n, vkb_error *err) {
    if (off + n > dst->size) return vkb_fail(err, "upload past the end of a buffer");
    if (dst->map) { memcpy((char *)dst->map + off, src, n); return 0; }
    if (vkb_vk_stage_ready(c, err)) return -1;
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
    if (vkb_vk_stage_ready(c, err)) return -1;
    for (VkDeviceSize done = 0; done < n;) {
        VkDeviceSize k = n - done < c->stage_size ? n - done : c->stage_size;
        if (copy_chunk(c, src->buf, off + done, c->stage, 0, k, "downloading from the device", err))
            return -1;
        memcpy((char *)dst + done, c->stage_map, k);
        done += k;
    }
    return 0;
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
