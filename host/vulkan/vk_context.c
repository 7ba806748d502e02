/* vk_context.c - Vulkan loader, instance, device selection, compute queue and
 * the validation-layer messenger.  Messages from the validation layer are
 * stored in the context (no global state) and turned into errors by the
 * next call that checks them. */
#include "vk_internal.h"
#include "error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

const char *vkb_vk_result_str(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

int vkb_vk_fail(vkb_vk_ctx *c, VkResult r, const char *what, vkb_error *err) {
    (void)c;
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        return vkb_failc(err, VKB_ERR_DEVICE_OOM, "Vulkan: out of device memory while %s "
                        "(try a smaller batch or --precision fp16)", what);
    if (r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return vkb_failc(err, VKB_ERR_HOST_OOM, "Vulkan: out of host memory while %s", what);
    if (r == VK_ERROR_DEVICE_LOST)
        return vkb_failc(err, VKB_ERR_DEVICE_LOST, "Vulkan: device lost while %s (driver reset or "
                        "crash; the backend must be recreated)", what);
    if (r == VK_TIMEOUT)
        return vkb_failc(err, VKB_ERR_DEVICE_LOST, "Vulkan: device timed out while %s", what);
    return vkb_failc(err, VKB_ERR_FAILED, "Vulkan: %s failed: %s (%d)", what, vkb_vk_result_str(r), (int)r);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT sev, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    vkb_vk_ctx *c = user;
    /* The loader's own GENERAL warnings (e.g. about other ICD manifests) are
     * not about vkbert's API use; everything else counts. */
    if (type == VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT &&
        sev < VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)
        return VK_FALSE;
    /* atomic: pipelines are created on several threads (vk_pipeline.c) */
    if (__atomic_fetch_add(&c->val_count, 1, __ATOMIC_SEQ_CST) == 0)
        snprintf(c->val_msg, sizeof c->val_msg, "%s",
                 data && data->pMessage ? data->pMessage : "(no text)");
    return VK_FALSE;
}

int vkb_vk_ctx_check_validation(vkb_vk_ctx *c, vkb_error *err) {
    if (!c || __atomic_load_n(&c->val_count, __ATOMIC_SEQ_CST) == 0) return 0;
    int n = __atomic_exchange_n(&c->val_count, 0, __ATOMIC_SEQ_CST);
    return vkb_fail(err, "Vulkan validation layer reported %d message(s); first: %s",
                    n, c->val_msg);
}

static int has_layer(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS) return 0;
    VkLayerProperties *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return 0;
    vkEnumerateInstanceLayerProperties(&n, p);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) if (strcmp(p[i].layerName, name) == 0) found = 1;
    free(p);
    return found;
}

static VkDebugUtilsMessengerCreateInfoEXT messenger_info(vkb_vk_ctx *c) {
    VkDebugUtilsMessengerCreateInfoEXT mi = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_message,
        .pUserData = c,
    };
    return mi;
}

int vkb_vk_instance_create(int validation, vkb_vk_ctx *c, vkb_error *err) {
    if (volkInitialize() != VK_SUCCESS)
        return vkb_fail(err, "no Vulkan loader (libvulkan.so.1) found: install a "
                        "Vulkan driver and loader (Debian: libvulkan1 and "
                        "mesa-vulkan-drivers), or use --device cpu");
    uint32_t iver = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion) vkEnumerateInstanceVersion(&iver);
    if (iver < VK_API_VERSION_1_1)
        return vkb_fail(err, "the Vulkan loader supports only %u.%u; vkbert needs 1.1",
                        VK_API_VERSION_MAJOR(iver), VK_API_VERSION_MINOR(iver));
    const char *layers[1] = {VALIDATION_LAYER};
    const char *exts[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    if (validation && !has_layer(VALIDATION_LAYER))
        return vkb_fail(err, "validation requested but %s is not installed "
                        "(Debian: apt-get install vulkan-validationlayers)",
                        VALIDATION_LAYER);
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkbert", .pEngineName = "vkbert",
        .apiVersion = iver >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : iver,
    };
    VkDebugUtilsMessengerCreateInfoEXT mi = messenger_info(c);
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &mi : NULL, /* also catches create/destroy */
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0, .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0, .ppEnabledExtensionNames = exts,
    };
    VkResult r = vkCreateInstance(&ci, NULL, &c->inst);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "creating the Vulkan instance", err);
    volkLoadInstanceOnly(c->inst);
    if (validation) {
        /* the messenger functions of this instance: volk's global pointers
         * are those of whichever instance was loaded last (another backend,
         * or the device report's instance, which has no debug-utils) */
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(c->inst, "vkCreateDebugUtilsMessengerEXT");
        c->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(c->inst, "vkDestroyDebugUtilsMessengerEXT");
        if (!create || !c->destroy_messenger)
            return vkb_fail(err, "Vulkan: the validation layer lacks VK_EXT_debug_utils");
        r = create(c->inst, &mi, NULL, &c->messenger);
        if (r != VK_SUCCESS)
            return vkb_vk_fail(c, r, "creating the validation messenger", err);
    }
    return 0;
}

static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static VkDeviceSize device_local_bytes(VkPhysicalDevice pd) {
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    VkDeviceSize s = 0;
    for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
        if (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) s += mp.memoryHeaps[i].size;
    return s;
}

int vkb_vk_pick_device(vkb_vk_ctx *c, const char *spec, vkb_error *err) {
    uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(c->inst, &n, NULL);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "enumerating Vulkan devices", err);
    if (n == 0)
        return vkb_fail(err, "no Vulkan device found (install a driver, e.g. "
                        "mesa-vulkan-drivers for lavapipe, or use --device cpu)");
    VkPhysicalDevice *pd = calloc(n, sizeof *pd);
    if (!pd) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    vkEnumeratePhysicalDevices(c->inst, &n, pd);
    int chosen = -1;
    if (strcmp(spec, "gpu") == 0) {
        int best_rank = -1;
        VkDeviceSize best_mem = 0;
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(pd[i], &p);
            if (p.apiVersion < VK_API_VERSION_1_1) continue;
            int rank = type_rank(p.deviceType);
            VkDeviceSize mem = device_local_bytes(pd[i]);
            if (rank > best_rank || (rank == best_rank && mem > best_mem)) {
                best_rank = rank; best_mem = mem; chosen = (int)i;
            }
        }
        if (chosen < 0) {
            free(pd);
            return vkb_fail(err, "no Vulkan 1.1 device found among %u device(s)", n);
        }
    } else if (strncmp(spec, "gpu:", 4) == 0) {
        char *end;
        long idx = strtol(spec + 4, &end, 10);
        if (end == spec + 4 || *end || idx < 0 || idx >= (long)n) {
            free(pd);
            return vkb_fail(err, "device '%s': index out of range (there are %u Vulkan "
                            "device(s), gpu:0..gpu:%u; see `vkbert devices`)", spec, n, n - 1);
        }
        chosen = (int)idx;
    } else {
        free(pd);
        return vkb_fail(err, "unknown device '%s' (expected gpu or gpu:N)", spec);
    }
    c->pdev = pd[chosen];
    free(pd);
    vkGetPhysicalDeviceProperties(c->pdev, &c->props);
    vkGetPhysicalDeviceMemoryProperties(c->pdev, &c->mem);
    if (c->props.apiVersion < VK_API_VERSION_1_1)
        return vkb_fail(err, "device '%s' (%s) supports only Vulkan %u.%u; vkbert needs 1.1",
                        spec, c->props.deviceName, VK_API_VERSION_MAJOR(c->props.apiVersion),
                        VK_API_VERSION_MINOR(c->props.apiVersion));
    return 0;
}

static int has_dev_ext(const VkExtensionProperties *e, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++) if (strcmp(e[i].extensionName, name) == 0) return 1;
    return 0;
}

/* Queries the optional features vkbert can use (also used by the device
 * report); fills *f and returns the device extension list (caller frees). */
VkExtensionProperties *vkb_vk_query_features(VkPhysicalDevice pd, vkb_vk_features *f,
                                             uint32_t *n_ext) {
    memset(f, 0, sizeof *f);
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL);
    VkExtensionProperties *e = calloc(n ? n : 1, sizeof *e);
    if (e) vkEnumerateDeviceExtensionProperties(pd, NULL, &n, e);
    else n = 0;
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);

    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceShaderIntegerDotProductFeatures idp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cnv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    void *chain = &s16;
    s16.pNext = NULL;
    /* Only chain structures the device knows (core version or extension). */
    if (p.apiVersion >= VK_API_VERSION_1_2 || has_dev_ext(e, n, "VK_KHR_shader_float16_int8")) {
        f16.pNext = chain; chain = &f16;
    }
    if (p.apiVersion >= VK_API_VERSION_1_3 || has_dev_ext(e, n, "VK_KHR_shader_integer_dot_product")) {
        idp.pNext = chain; chain = &idp;
    }
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR ckhr = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR};
    if (has_dev_ext(e, n, "VK_NV_cooperative_matrix")) { cnv.pNext = chain; chain = &cnv; }
    if (has_dev_ext(e, n, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME)) { ckhr.pNext = chain; chain = &ckhr; }
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = chain};
    vkGetPhysicalDeviceFeatures2(pd, &f2);
    f->f16_storage = s16.storageBuffer16BitAccess;
    f->f16_arith = f16.shaderFloat16;
    f->int_dot = idp.shaderIntegerDotProduct;
    f->coop_nv = cnv.cooperativeMatrix;
    f->coop_khr = ckhr.cooperativeMatrix;

    VkPhysicalDeviceSubgroupProperties sg = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &sg};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    f->subgroup_size = (int)sg.subgroupSize;
    *n_ext = n;
    return e;
}

int vkb_vk_ctx_create(const char *device, int validation, vkb_vk_ctx **out,
                      vkb_error *err) {
    *out = NULL;
    vkb_vk_ctx *c = calloc(1, sizeof *c);
    if (!c) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    if (vkb_vk_instance_create(validation, c, err) ||
        vkb_vk_pick_device(c, device ? device : "gpu", err)) {
        vkb_vk_ctx_destroy(c);
        return -1;
    }
    uint32_t n_ext = 0;
    VkExtensionProperties *ext = vkb_vk_query_features(c->pdev, &c->feat, &n_ext);
    free(ext);
    /* what the device policy decides from (vk_policy.c), coopmat included:
     * it changes what the device is created with */
    vkb_vk_caps_query(c->inst, c->pdev, &c->feat, &c->caps);

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(c->pdev, &nq, NULL);
    VkQueueFamilyProperties qp[16];
    if (nq > 16) nq = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(c->pdev, &nq, qp);
    int fam = -1;
    /* Prefer a compute-only family (async compute), else any with compute. */
    for (uint32_t i = 0; i < nq && fam < 0; i++)
        if ((qp[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(qp[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            fam = (int)i;
    for (uint32_t i = 0; i < nq && fam < 0; i++)
        if (qp[i].queueFlags & VK_QUEUE_COMPUTE_BIT) fam = (int)i;
    if (fam < 0) {
        vkb_fail(err, "device %s has no compute queue", c->props.deviceName);
        vkb_vk_ctx_destroy(c);
        return -1;
    }
    c->qfam = (uint32_t)fam;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = c->qfam, .queueCount = 1,
                                   .pQueuePriorities = &prio};
    /* Enable only what the shaders use: 16-bit storage for the fp16 path. */
    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .storageBuffer16BitAccess = c->feat.f16_storage ? VK_TRUE : VK_FALSE};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = &s16};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &f2,
                              .queueCreateInfoCount = 1, .pQueueCreateInfos = &qci};
    /* coopmat kernels (vk_coopmat.c): each extension whose form passed
     * vkb_vk_coopmat_probe (NV and KHR both on NVIDIA, so the policy can pick
     * either per backend), and what their SPIR-V declares (Float16,
     * VulkanMemoryModel), which the probe checked is supported. */
    VkPhysicalDeviceCooperativeMatrixFeaturesNV coop_f = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
        .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR coop_k = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR,
        .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceShaderFloat16Int8Features coop_h = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .shaderFloat16 = VK_TRUE};
    VkPhysicalDeviceVulkanMemoryModelFeatures coop_m = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES,
        .pNext = &coop_h, .vulkanMemoryModel = VK_TRUE};
    const char *coop_ext[2];
    uint32_t n_coop_ext = 0;
    if (c->caps.coop_ok) {
        void *chain = NULL;
        if (c->caps.coop_forms & VKB_VK_COOP_NV) {
            coop_f.pNext = chain; chain = &coop_f;
            coop_ext[n_coop_ext++] = "VK_NV_cooperative_matrix";
        }
        if (c->caps.coop_forms & VKB_VK_COOP_KHR) {
            coop_k.pNext = chain; chain = &coop_k;
            coop_ext[n_coop_ext++] = VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME;
        }
        coop_h.pNext = chain;
        s16.pNext = &coop_m;
        dci.enabledExtensionCount = n_coop_ext;
        dci.ppEnabledExtensionNames = coop_ext;
    } else if (c->feat.f16_arith) {
        s16.pNext = &coop_h; /* shaderFloat16 alone: the GEMM twins' fp16 shared memory */
    }
    VkResult r = vkCreateDevice(c->pdev, &dci, NULL, &c->dev);
    if (r != VK_SUCCESS && c->caps.coop_ok) { /* coopmat: never the reason a device fails */
        c->caps.coop_ok = 0;
        c->caps.coop_forms = 0;
        snprintf(c->caps.coop_why, sizeof c->caps.coop_why, "device creation with it failed: %s",
                 vkb_vk_result_str(r));
        coop_h.pNext = NULL;
        s16.pNext = c->feat.f16_arith ? &coop_h : NULL;
        dci.enabledExtensionCount = 0;
        dci.ppEnabledExtensionNames = NULL;
        r = vkCreateDevice(c->pdev, &dci, NULL, &c->dev);
    }
    if (r != VK_SUCCESS) {
        vkb_vk_fail(c, r, "creating the Vulkan device", err);
        vkb_vk_ctx_destroy(c);
        return -1;
    }
    volkLoadDeviceTable(&c->d, c->dev);
    c->d.vkGetDeviceQueue(c->dev, c->qfam, 0, &c->queue);
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = c->qfam};
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = c->d.vkCreateCommandPool(c->dev, &pci, NULL, &c->pool)) != VK_SUCCESS ||
        (r = c->d.vkCreateFence(c->dev, &fci, NULL, &c->fence)) != VK_SUCCESS) {
        vkb_vk_fail(c, r, "creating the command pool", err);
        vkb_vk_ctx_destroy(c);
        return -1;
    }
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = c->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    if ((r = c->d.vkAllocateCommandBuffers(c->dev, &ai, &c->xfer)) != VK_SUCCESS) {
        vkb_vk_fail(c, r, "allocating a command buffer", err);
        vkb_vk_ctx_destroy(c);
        return -1;
    }
    if (vkb_vk_ctx_check_validation(c, err)) { vkb_vk_ctx_destroy(c); return -1; }
    *out = c;
    return 0;
}

int vkb_vk_submit_wait(vkb_vk_ctx *c, VkCommandBuffer cmd, uint64_t timeout_ns,
                       const char *what, vkb_error *err) {
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = 1, .pCommandBuffers = &cmd};
    VkResult r = c->d.vkResetFences(c->dev, 1, &c->fence);
    if (r == VK_SUCCESS) r = c->d.vkQueueSubmit(c->queue, 1, &si, c->fence);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, what, err);
    r = c->d.vkWaitForFences(c->dev, 1, &c->fence, VK_TRUE, timeout_ns);
    if (r == VK_TIMEOUT)
        return vkb_fail(err, "Vulkan: device timed out after %.0f s while %s",
                        (double)timeout_ns * 1e-9, what);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, what, err);
    return 0;
}

void vkb_vk_ctx_release_device(vkb_vk_ctx *c) {
    if (c->dev) {
        c->d.vkDeviceWaitIdle(c->dev);
        if (c->stage) c->d.vkDestroyBuffer(c->dev, c->stage, NULL);
        if (c->stage_mem) c->d.vkFreeMemory(c->dev, c->stage_mem, NULL);
        if (c->fence) c->d.vkDestroyFence(c->dev, c->fence, NULL);
        if (c->pool) c->d.vkDestroyCommandPool(c->dev, c->pool, NULL);
        c->d.vkDestroyDevice(c->dev, NULL);
        c->dev = VK_NULL_HANDLE;
        c->stage = VK_NULL_HANDLE; c->stage_mem = VK_NULL_HANDLE;
        c->fence = VK_NULL_HANDLE; c->pool = VK_NULL_HANDLE;
    }
}

void vkb_vk_ctx_destroy(vkb_vk_ctx *c) {
    if (!c) return;
    vkb_vk_ctx_release_device(c);
    if (c->messenger) c->destroy_messenger(c->inst, c->messenger, NULL);
    if (c->inst) vkDestroyInstance(c->inst, NULL);
    free(c);
}
