/* vk_devices.c - the device report behind `vkbert devices`: every Vulkan
 * device with what vkbert would use on it. */
#include "vk_internal.h"
#include "strbuf.h"
#include "error.h"
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

typedef struct dev_info {
    VkPhysicalDeviceProperties p;
    VkPhysicalDeviceDriverProperties drv; /* Vulkan 1.2 / VK_KHR_driver_properties */
    int has_drv;
    VkPhysicalDeviceMemoryProperties mem;
    vkb_vk_features f;
    vkb_vk_caps caps;
} dev_info;

static void query(VkInstance inst, VkPhysicalDevice pd, dev_info *d) {
    memset(d, 0, sizeof *d);
    uint32_t n_ext = 0;
    VkExtensionProperties *e = vkb_vk_query_features(pd, &d->f, &n_ext);
    vkGetPhysicalDeviceProperties(pd, &d->p);
    for (uint32_t i = 0; i < n_ext; i++)
        if (strcmp(e[i].extensionName, "VK_KHR_driver_properties") == 0) d->has_drv = 1;
    if (d->p.apiVersion >= VK_API_VERSION_1_2) d->has_drv = 1;
    free(e);
    if (d->has_drv) {
        d->drv.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = &d->drv};
        vkGetPhysicalDeviceProperties2(pd, &p2);
    }
    vkGetPhysicalDeviceMemoryProperties(pd, &d->mem);
    vkb_vk_caps_query(inst, pd, &d->f, &d->caps);
}

static void driver_version(const dev_info *d, char *out, size_t n) {
    if (d->has_drv && d->drv.driverInfo[0]) snprintf(out, n, "%s", d->drv.driverInfo);
    else snprintf(out, n, "0x%08x", d->p.driverVersion);
}

int vkb_devices_report(int json, char **out, vkb_error *err) {
    return vkb_devices_report_tuned(json, NULL, out, err);
}

int vkb_devices_report_tuned(int json, const char *tune_dir, char **out, vkb_error *err) {
    *out = NULL;
    vkb_vk_ctx c;
    memset(&c, 0, sizeof c);
    if (vkb_vk_instance_create(0, &c, err)) {
        if (c.inst) vkDestroyInstance(c.inst, NULL);
        return -1;
    }
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(c.inst, &n, NULL);
    VkPhysicalDevice *pd = calloc(n ? n : 1, sizeof *pd);
    if (r != VK_SUCCESS || !pd) {
        free(pd);
        vkDestroyInstance(c.inst, NULL);
        return r != VK_SUCCESS ? vkb_vk_fail(&c, r, "enumerating Vulkan devices", err)
                               : vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    }
    vkEnumeratePhysicalDevices(c.inst, &n, pd);
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *arr = json ? cJSON_AddArrayToObject(root, "devices") : NULL;
    vkb_strbuf sb = {0};
    if (!json && n == 0) vkb_sb_printf(&sb, "no Vulkan devices\n");
    for (uint32_t i = 0; i < n; i++) {
        dev_info d;
        query(c.inst, pd[i], &d);
        char drvver[300], api[32];
        driver_version(&d, drvver, sizeof drvver);
        snprintf(api, sizeof api, "%u.%u.%u", VK_API_VERSION_MAJOR(d.p.apiVersion),
                 VK_API_VERSION_MINOR(d.p.apiVersion), VK_API_VERSION_PATCH(d.p.apiVersion));
        const char *drvname = d.has_drv ? d.drv.driverName : "unknown";
        int usable = d.p.apiVersion >= VK_API_VERSION_1_1;
        /* the device policy's decision (vk_policy.c), as a backend opened
         * with default options makes it: auto precision, then fp16 */
        vkb_vk_policy pol[2];
        int pol_ok[2];
        char pol_s[2][200];
        vkb_error pe = {0};
        for (int k = 0; k < 2; k++) {
            pol_ok[k] = vkb_vk_policy_decide(&d.caps, d.p.deviceName, k ? VKB_PREC_FP16 : VKB_PREC_AUTO,
                                             NULL, &pol[k], &pe) == 0;
            if (pol_ok[k]) vkb_vk_policy_str(&pol[k], pol_s[k], sizeof pol_s[k]);
            else snprintf(pol_s[k], sizeof pol_s[k], "unavailable: %.180s", pe.msg);
        }
        /* the GEMM variants each precision can run (forced through the
         * policy: what VKB_GEMM, check --ops and tune may use) */
        char gemms[2][160];
        int can[2][VKB_GEMM_NVARIANTS] = {{0}};
        for (int k = 0; k < 2; k++) {
            gemms[k][0] = 0;
            for (int v = 1; v < VKB_GEMM_NVARIANTS; v++) {
                vkb_vulkan_opts fo = {.gemm = (vkb_gemm_variant)v};
                vkb_vk_policy fp;
                if (vkb_vk_policy_decide(&d.caps, d.p.deviceName, k ? VKB_PREC_FP16 : VKB_PREC_FP32, &fo,
                                         &fp, &pe) == 0) {
                    can[k][v] = 1;
                    size_t l = strlen(gemms[k]);
                    snprintf(gemms[k] + l, sizeof gemms[k] - l, "%s%s", l ? " " : "",
                             vkb_gemm_variant_name((vkb_gemm_variant)v));
                }
            }
        }
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "index", i);
            cJSON_AddStringToObject(o, "name", d.p.deviceName);
            char vend[16];
            snprintf(vend, sizeof vend, "0x%04x", d.p.vendorID);
            cJSON_AddStringToObject(o, "vendor_id", vend);
            cJSON_AddStringToObject(o, "driver", drvname);
            cJSON_AddStringToObject(o, "driver_version", drvver);
            cJSON_AddStringToObject(o, "api_version", api);
            cJSON_AddStringToObject(o, "type", type_name(d.p.deviceType));
            cJSON *heaps = cJSON_AddArrayToObject(o, "memory_heaps");
            for (uint32_t h = 0; h < d.mem.memoryHeapCount; h++) {
                cJSON *ho = cJSON_CreateObject();
                cJSON_AddNumberToObject(ho, "bytes", (double)d.mem.memoryHeaps[h].size);
                cJSON_AddBoolToObject(ho, "device_local",
                                      (d.mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0);
                cJSON_AddItemToArray(heaps, ho);
            }
            cJSON_AddNumberToObject(o, "subgroup_size", d.f.subgroup_size);
            cJSON_AddNumberToObject(o, "max_shared_memory", d.p.limits.maxComputeSharedMemorySize);
            cJSON_AddNumberToObject(o, "max_storage_buffer_range", d.p.limits.maxStorageBufferRange);
            cJSON *f = cJSON_AddObjectToObject(o, "features");
            cJSON_AddBoolToObject(f, "storage_16bit", d.f.f16_storage);
            cJSON_AddBoolToObject(f, "float16", d.f.f16_arith);
            cJSON_AddBoolToObject(f, "integer_dot_product", d.f.int_dot);
            cJSON_AddBoolToObject(f, "cooperative_matrix_nv", d.f.coop_nv);
            cJSON_AddBoolToObject(f, "cooperative_matrix_khr", d.f.coop_khr);
            cJSON_AddBoolToObject(f, "cooperative_matrix_gemm", d.caps.coop_ok);
            if (d.caps.coop_why[0]) cJSON_AddStringToObject(f, "cooperative_matrix_gemm_why", d.caps.coop_why);
            cJSON *forms = cJSON_AddArrayToObject(f, "cooperative_matrix_forms");
            if (d.caps.coop_forms & VKB_VK_COOP_NV) cJSON_AddItemToArray(forms, cJSON_CreateString("nv"));
            if (d.caps.coop_forms & VKB_VK_COOP_KHR) cJSON_AddItemToArray(forms, cJSON_CreateString("khr"));
            static const char *const keys[2] = {"kernels", "kernels_fp16"};
            for (int k = 0; k < 2; k++) {
                if (!pol_ok[k]) continue;
                cJSON *po = cJSON_AddObjectToObject(o, keys[k]);
                cJSON_AddStringToObject(po, "precision", pol[k].f16 ? "fp16" : "fp32");
                cJSON_AddStringToObject(po, "gemm", vkb_gemm_variant_name(pol[k].gemm));
                cJSON_AddStringToObject(po, "layernorm", vkb_ln_variant_name(pol[k].ln));
                cJSON_AddStringToObject(po, "attention", vkb_attn_variant_name(pol[k].attn));
                if (vkb_vk_gemm_is_coop(pol[k].gemm) || pol[k].attn_coop)
                    cJSON_AddStringToObject(po, "coopmat", pol[k].coop_khr ? "khr" : "nv");
            }
            cJSON *gv = cJSON_AddObjectToObject(o, "gemm_variants"); /* what each precision can run */
            for (int k = 0; k < 2; k++) {
                cJSON *a = cJSON_AddArrayToObject(gv, k ? "fp16" : "fp32");
                for (int v = 1; v < VKB_GEMM_NVARIANTS; v++)
                    if (can[k][v]) cJSON_AddItemToArray(a, cJSON_CreateString(vkb_gemm_variant_name((vkb_gemm_variant)v)));
            }
            if (tune_dir) /* what `vkbert tune` chose, per model shape and precision */
                vkb_vk_tune_describe(tune_dir, &d.p, NULL, cJSON_AddArrayToObject(o, "tuned"));
            cJSON_AddBoolToObject(o, "usable", usable);
            cJSON_AddItemToArray(arr, o);
        } else {
            vkb_sb_printf(&sb, "gpu:%u  %s\n", i, d.p.deviceName);
            vkb_sb_printf(&sb, "  type            %s%s\n", type_name(d.p.deviceType),
                      usable ? "" : " (unusable: needs Vulkan 1.1)");
            vkb_sb_printf(&sb, "  vendor id       0x%04x\n", d.p.vendorID);
            vkb_sb_printf(&sb, "  driver          %s %s\n", drvname, drvver);
            vkb_sb_printf(&sb, "  Vulkan API      %s\n", api);
            for (uint32_t h = 0; h < d.mem.memoryHeapCount; h++)
                vkb_sb_printf(&sb, "  memory heap %u   %.0f MiB%s\n", h,
                          (double)d.mem.memoryHeaps[h].size / 1048576.0,
                          d.mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT ? " device-local" : "");
            vkb_sb_printf(&sb, "  subgroup size   %d\n", d.f.subgroup_size);
            vkb_sb_printf(&sb, "  shared memory   %u bytes\n", d.p.limits.maxComputeSharedMemorySize);
            vkb_sb_printf(&sb, "  16-bit storage  %s\n", d.f.f16_storage ? "yes" : "no");
            vkb_sb_printf(&sb, "  float16 math    %s\n", d.f.f16_arith ? "yes" : "no");
            vkb_sb_printf(&sb, "  int dot product %s\n", d.f.int_dot ? "yes" : "no");
            vkb_sb_printf(&sb, "  coop. matrix    %s%s%s\n", d.f.coop_nv ? "VK_NV_cooperative_matrix " : "",
                      d.f.coop_khr ? "VK_KHR_cooperative_matrix" : "",
                      d.f.coop_nv || d.f.coop_khr ? "" : "no");
            if (!d.caps.coop_ok) vkb_sb_printf(&sb, "  coopmat GEMM    no: %s\n", d.caps.coop_why);
            else vkb_sb_printf(&sb, "  coopmat GEMM    yes: %s%s%s (fp16; after its start-up self-test)\n",
                               d.caps.coop_forms & VKB_VK_COOP_NV ? "NV" : "",
                               d.caps.coop_forms == (VKB_VK_COOP_NV | VKB_VK_COOP_KHR) ? " and " : "",
                               d.caps.coop_forms & VKB_VK_COOP_KHR ? "KHR (SPIR-V rewritten from NV)" : "");
            if (d.caps.coop_ok && d.caps.coop_why[0])
                vkb_sb_printf(&sb, "  coopmat other   no: %s\n", d.caps.coop_why);
            vkb_sb_printf(&sb, "  GEMM variants   fp32: %s; fp16: %s\n", gemms[0][0] ? gemms[0] : "none",
                          gemms[1][0] ? gemms[1] : "none");
            vkb_sb_printf(&sb, "  vkbert uses     %s\n", pol_s[0]);
            if (!pol_ok[0] || pol[0].f16 == 0) vkb_sb_printf(&sb, "  with fp16       %s\n", pol_s[1]);
            if (tune_dir && vkb_vk_tune_describe(tune_dir, &d.p, &sb, NULL) == 0)
                vkb_sb_printf(&sb, "  tuned           not tuned (vkbert tune)\n");
        }
    }
    free(pd);
    vkDestroyInstance(c.inst, NULL);
    char why[300];
    const char *dflt = vkb_auto_device(why, sizeof why);
    if (json) {
        cJSON *a = cJSON_AddObjectToObject(root, "auto");
        cJSON_AddStringToObject(a, "device", dflt);
        if (why[0]) cJSON_AddStringToObject(a, "why", why);
        *out = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (!*out) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
        return 0;
    }
    vkb_sb_printf(&sb, "default (--device auto): %s%s%s\n", strcmp(dflt, "gpu") ? "cpu (the CPU reference)" : "gpu",
              why[0] ? ": " : "", why);
    if (sb.oom || !sb.p) { free(sb.p); return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); }
    *out = sb.p;
    return 0;
}

/* --device auto: a Vulkan device when there is a hardware one, else the CPU
 * reference.  A CPU implementation of Vulkan (lavapipe/llvmpipe, SwiftShader)
 * runs the same shaders on the same cores the CPU reference uses, and is
 * several times slower there (README: 30.5 vs 106.7 reviews/s scoring the
 * IMDB reviews on 2 cores), so it is used only when asked for by name. */
const char *vkb_auto_device(char *why, size_t n) {
    if (why && n) why[0] = 0;
    vkb_vk_ctx c;
    memset(&c, 0, sizeof c);
    vkb_error e = {0};
    const char *pick = "cpu";
    if (vkb_vk_instance_create(0, &c, &e)) {
        if (why && n) snprintf(why, n, "%s", e.msg);
        if (c.inst) vkDestroyInstance(c.inst, NULL);
        return pick;
    }
    uint32_t cnt = 0;
    VkPhysicalDevice pd[16];
    VkResult r = vkEnumeratePhysicalDevices(c.inst, &cnt, NULL);
    if (cnt > 16) cnt = 16;
    if (r == VK_SUCCESS && cnt) r = vkEnumeratePhysicalDevices(c.inst, &cnt, pd);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) cnt = 0;
    char soft[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE] = "";
    for (uint32_t i = 0; i < cnt; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pd[i], &p);
        if (p.apiVersion < VK_API_VERSION_1_1) continue;
        if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
            if (!soft[0]) snprintf(soft, sizeof soft, "%s", p.deviceName);
        } else {
            pick = "gpu";
        }
    }
    vkDestroyInstance(c.inst, NULL);
    if (why && n && pick[0] == 'c')
        snprintf(why, n, soft[0] ? "the only Vulkan device, %s, runs on the CPU and is slower "
                                   "there than the CPU reference (--device gpu uses it anyway)"
                                 : "no Vulkan device found", soft);
    return pick;
}
