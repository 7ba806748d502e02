/* vk_profile.c - what `vkbert bench` reports beyond wall-clock time: per-kernel
 * GPU times from Vulkan timestamp queries, the device memory vkbert
 * allocated (peak and the weights/activations split), and the device's name,
 * vendor and driver.
 *
 * Timestamps: a recorded pass with profiling on starts with a reset of the
 * query pool and a timestamp, and every kernel (dispatch + its barrier) is
 * closed by another one, so interval i is the time of kernel i as the queue
 * saw it, including the barrier's drain.  Times are summed per category
 * over the profiled forwards and reported as the mean per forward. */
#include "backend.h"
#include "error.h"
#include "vk_internal.h"
#include <stdio.h>
#include <string.h>

static const char *const k_names[VKB_K_COUNT] = {
    "embedding", "gemm_qkv", "attention", "gemm_attn_out", "layernorm",
    "gemm_ffn1", "gemm_ffn2", "gemm_head", "other"};

const char *vkb_vk_prof_name(int cat) {
    return cat >= 0 && cat < VKB_K_COUNT ? k_names[cat] : "?";
}

static uint32_t queue_ts_bits(vkb_vk_ctx *c) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(c->pdev, &n, NULL);
    if (c->qfam >= n || n > 64) return 0;
    VkQueueFamilyProperties q[64];
    vkGetPhysicalDeviceQueueFamilyProperties(c->pdev, &n, q);
    return q[c->qfam].timestampValidBits;
}

int vkb_vk_prof_enable(vkb_vk_ctx *c, vkb_vk_prof *p, vkb_error *err) {
    memset(p->ms, 0, sizeof p->ms);
    memset(p->calls, 0, sizeof p->calls);
    p->forwards = 0;
    if (p->pool) { p->on = 1; return 0; }
    uint32_t bits = queue_ts_bits(c);
    if (bits == 0 || c->props.limits.timestampPeriod <= 0)
        return vkb_fail(err, "device %s: its compute queue has no timestamps "
                        "(timestampValidBits 0): no per-kernel times", c->props.deviceName);
    p->mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
    p->period_ns = c->props.limits.timestampPeriod;
    VkQueryPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                .queryCount = VKB_PROF_MAX + 1};
    VkResult r = c->d.vkCreateQueryPool(c->dev, &ci, NULL, &p->pool);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "creating a timestamp query pool", err);
    p->on = 1;
    return 0;
}

void vkb_vk_prof_destroy(vkb_vk_ctx *c, vkb_vk_prof *p) {
    if (p->pool && c && c->dev) c->d.vkDestroyQueryPool(c->dev, p->pool, NULL);
    memset(p, 0, sizeof *p);
}

void vkb_vk_prof_begin(vkb_vk_ctx *c, vkb_vk_prof *p, VkCommandBuffer cmd, vkb_vk_marks *m) {
    m->n = 0;
    c->d.vkCmdResetQueryPool(cmd, p->pool, 0, VKB_PROF_MAX + 1);
    c->d.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, p->pool, 0);
}

void vkb_vk_prof_mark(vkb_vk_ctx *c, vkb_vk_prof *p, VkCommandBuffer cmd, vkb_vk_marks *m,
                      int cat) {
    if (m->n >= VKB_PROF_MAX) return;
    m->cat[m->n++] = (uint8_t)cat;
    c->d.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->pool, m->n);
}

int vkb_vk_prof_collect(vkb_vk_ctx *c, vkb_vk_prof *p, const vkb_vk_marks *m, vkb_error *err) {
    if (!m->n) return 0;
    uint64_t t[VKB_PROF_MAX + 1];
    VkResult r = c->d.vkGetQueryPoolResults(c->dev, p->pool, 0, m->n + 1, sizeof t, t,
                                            sizeof t[0], VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "reading timestamps", err);
    for (uint32_t i = 0; i < m->n; i++) {
        uint64_t d = (t[i + 1] - t[i]) & p->mask;
        p->ms[m->cat[i]] += (double)d * p->period_ns * 1e-6;
        p->calls[m->cat[i]]++;
    }
    return 0;
}

/* ---- public: vkbert.h "benchmarking" section ---- */

int vkb_backend_profile(vkb_backend *be, int on, vkb_error *err) {
    vkb_vk_prof *p = vkb_vk_backend_prof(be);
    if (!p) return vkb_fail(err, "per-kernel times need the Vulkan backend (device %s)", be->device);
    vkb_vk_ctx *c = vkb_vk_backend_ctx(be);
    if (on) {
        if (vkb_vk_prof_enable(c, p, err)) return -1;
    } else {
        p->on = 0;
    }
    vkb_vk_backend_rerecord(be);
    return 0;
}

static const char *vendor_name(uint32_t id) {
    switch (id) {
    case 0x10DE: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1010: return "Imagination";
    case 0x106B: return "Apple";
    case 0x10005: return "Mesa";
    default: return NULL;
    }
}

int vkb_backend_bench_info(vkb_backend *be, vkb_bench_info *o, vkb_error *err) {
    (void)err;
    memset(o, 0, sizeof *o);
    vkb_vk_ctx *c = vkb_vk_backend_ctx(be);
    if (!c) { /* the CPU reference: no device memory, no kernel timestamps */
        snprintf(o->device, sizeof o->device, "%s", be->device);
        snprintf(o->vendor, sizeof o->vendor, "cpu");
        snprintf(o->driver, sizeof o->driver, "vkbert CPU reference");
        o->precision_bits = be->prec == VKB_PREC_BF16 ? 16 : be->prec == VKB_PREC_INT8 ? 8 : 32;
        snprintf(o->precision, sizeof o->precision, "%s",
                 be->prec == VKB_PREC_BF16 || be->prec == VKB_PREC_INT8 ? vkb_precision_name(be->prec) : "fp32");
        return 0;
    }
    o->gpu = 1;
    snprintf(o->device, sizeof o->device, "%s", c->props.deviceName);
    const char *vn = vendor_name(c->props.vendorID);
    if (vn) snprintf(o->vendor, sizeof o->vendor, "%s", vn);
    else snprintf(o->vendor, sizeof o->vendor, "0x%04x", c->props.vendorID);
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    if (c->props.apiVersion >= VK_API_VERSION_1_2) {
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = &drv};
        vkGetPhysicalDeviceProperties2(c->pdev, &p2);
    }
    if (drv.driverName[0])
        snprintf(o->driver, sizeof o->driver, "%.100s %.140s", drv.driverName, drv.driverInfo);
    else
        snprintf(o->driver, sizeof o->driver, "driver version 0x%08x", c->props.driverVersion);
    o->precision_bits = vkb_vk_backend_f16(be) ? 16 : 32;
    snprintf(o->precision, sizeof o->precision, "fp%d", o->precision_bits);
    o->peak_mem_bytes = c->mem_peak;
    o->mem_bytes = c->mem_used;
    vkb_vk_backend_bytes(be, &o->weight_bytes, &o->activation_bytes);
    vkb_vk_backend_passes(be, &o->token_budget, &o->last_passes);
    vkb_vk_prof *p = vkb_vk_backend_prof(be);
    if (p && p->forwards > 0) {
        o->timestamps = 1;
        o->forwards = p->forwards;
        for (int k = 0; k < VKB_K_COUNT && o->n_kernels < VKB_BENCH_MAX_KERNELS; k++) {
            if (!p->calls[k]) continue;
            o->kernel[o->n_kernels] = k_names[k];
            o->kernel_ms[o->n_kernels] = p->ms[k] / p->forwards;
            o->kernel_calls[o->n_kernels] = (int)(p->calls[k] / (uint32_t)p->forwards);
            o->n_kernels++;
        }
    }
    return 0;
}
