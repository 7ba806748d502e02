/* test_validation_canary.c - proves the Khronos validation layer is really
 * active and reporting in this build (including the ASan/UBSan build of
 * tests/sanitize.sh, where LeakSanitizer suppresses allocations made inside
 * the Vulkan loader/Mesa and leaked Vulkan objects must be caught here).
 *
 * Makes two deliberate API mistakes on a context with validation on and
 * requires vkb_vk_ctx_check_validation to report each: a VkBuffer of size 0
 * (VUID-VkBufferCreateInfo-size-00912) and a VkBuffer never destroyed before
 * vkDestroyDevice (an object leak).  Then checks a clean context reports
 * nothing.  Skips (77) without a Vulkan device or the layer. */
#include "testutil.h"
#include "vk_internal.h"
#include <string.h>

/* The deliberately leaked buffer really leaks (lavapipe's allocation): hide
 * that one allocation from LeakSanitizer so the rest of the process is still
 * leak-checked. */
#if defined(__SANITIZE_ADDRESS__)
#define VKB_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VKB_HAVE_LSAN 1
#endif
#endif
#ifdef VKB_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#define LSAN_DISABLE() __lsan_disable()
#define LSAN_ENABLE() __lsan_enable()
#else
#define LSAN_DISABLE() ((void)0)
#define LSAN_ENABLE() ((void)0)
#endif

static vkb_vk_ctx *open_ctx(void) {
    vkb_error err = {0};
    vkb_vk_ctx *c = NULL;
    if (vkb_vk_ctx_create("gpu", 1, &c, &err)) {
        fprintf(stderr, "test_validation_canary: skipped: %s\n", err.msg);
        exit(VKB_SKIP);
    }
    return c;
}

static VkBuffer make_buffer(vkb_vk_ctx *c, VkDeviceSize size) {
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkBuffer b = VK_NULL_HANDLE;
    c->d.vkCreateBuffer(c->dev, &bi, NULL, &b);
    return b;
}

int main(void) {
    vkb_error err = {0};

    /* 1. A clean context: nothing reported. */
    vkb_vk_ctx *c = open_ctx();
    printf("device: %s\n", c->props.deviceName);
    VkBuffer ok = make_buffer(c, 256);
    c->d.vkDestroyBuffer(c->dev, ok, NULL);
    CHECK(vkb_vk_ctx_check_validation(c, &err) == 0, "clean use reported: %s", err.msg);

    /* 2. Invalid create info: size 0. */
    VkBuffer zero = make_buffer(c, 0);
    int rc = vkb_vk_ctx_check_validation(c, &err);
    CHECK(rc != 0, "size-0 buffer not reported");
    if (rc) printf("size 0 -> %.200s\n", err.msg);
    if (zero) c->d.vkDestroyBuffer(c->dev, zero, NULL);
    vkb_vk_ctx_check_validation(c, &err); /* clear */

    /* 3. A leaked object: reported when the device is destroyed. */
    LSAN_DISABLE();
    (void)make_buffer(c, 1024);
    LSAN_ENABLE();
    CHECK(vkb_vk_ctx_check_validation(c, &err) == 0, "valid buffer reported: %s", err.msg);
    vkb_vk_ctx_release_device(c);
    rc = vkb_vk_ctx_check_validation(c, &err);
    CHECK(rc != 0, "leaked VkBuffer not reported at vkDestroyDevice");
    if (rc) {
        printf("leak -> %.200s\n", err.msg);
        CHECK(strstr(err.msg, "VkBuffer") != NULL || strstr(err.msg, "Buffer") != NULL,
              "leak message does not name the buffer: %s", err.msg);
    }
    vkb_vk_ctx_destroy(c);
    return vkb_test_done("test_validation_canary");
}
