#include "testutil.h"
#include "vk_internal.h"
#include <string.h>
#include <unistd.h>

int vkb_test_failures = 0;

int vkb_test_done(const char *name) {
    if (vkb_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, vkb_test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

const char *vkb_test_shared(const char *rel, char *buf, size_t n) {
    const char *root = getenv("VKB_SHARED");
    if (!root) root = "../../shared";
    snprintf(buf, n, "%s/%s", root, rel);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

char *vkb_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[sz] = 0; if (len) *len = (size_t)sz; }
    return buf;
}

void vkb_test_rand(float *x, size_t n, float scale, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t)(*s >> 40); /* 24 bits */
        x[i] = scale * (2.0f * (float)r / 16777216.0f - 1.0f);
    }
}

int vkb_test_have_vulkan(const char *test) {
    vkb_error err = {0};
    vkb_vk_ctx *probe = NULL;
    if (vkb_vk_ctx_create("gpu", 0, &probe, &err)) {
        fprintf(stderr, "%s: skipped: %s\n", test, err.msg);
        return 0;
    }
    vkb_vk_ctx_destroy(probe);
    return 1;
}
