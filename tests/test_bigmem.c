/* test_bigmem.c - large buffers on transparent huge pages (host/base/bigmem.c):
 * every size usable to its last byte; from 2 MB up aligned to 2 MB, and on
 * Linux with THP the buffer's whole 2 MB pages advised MADV_HUGEPAGE (the
 * mapping's VmFlags carry "hg") and nothing past its end. */
#include "testutil.h"
#include "bigmem.h"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* The VmFlags of the mapping holding address a ("" if none), from smaps. */
static int vm_flags(const void *a, char *out, size_t n) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int in = 0, found = -1;
    uintptr_t x = (uintptr_t)a;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = x >= lo && x < hi;
            continue;
        }
        if (in && !strncmp(line, "VmFlags:", 8)) {
            snprintf(out, n, "%s", line + 8);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

static int has_flag(const char *flags, const char *want) {
    char buf[512];
    snprintf(buf, sizeof buf, " %s ", want);
    char padded[600];
    snprintf(padded, sizeof padded, " %s", flags);
    for (char *p = padded; *p; p++)
        if (*p == '\n') *p = ' ';
    return strstr(padded, buf) != NULL;
}

int main(void) {
    const size_t MB2 = (size_t)2 << 20;
    size_t sizes[] = {0, 1, 4095, MB2 - 1, MB2, MB2 + 1, 3 * MB2 + 12345, 40 * MB2};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *p = vkb_big_alloc(n);
        REQUIRE(p, "allocation of %zu bytes", n);
        if (n) {
            memset(p, 0xA5, n);
            CHECK(p[0] == 0xA5 && p[n - 1] == 0xA5, "%zu bytes written to the last", n);
        }
#if defined(__linux__)
        if (n >= MB2) CHECK((uintptr_t)p % MB2 == 0, "%zu bytes: aligned to 2 MB (%p)", n, (void *)p);
        char flags[512];
        int thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
        if (thp && n >= MB2 && vm_flags(p, flags, sizeof flags) == 0)
            CHECK(has_flag(flags, "hg"), "%zu bytes: advised MADV_HUGEPAGE (VmFlags:%s)", n, flags);
        if (thp && n >= MB2 && n % MB2 && vm_flags(p + n - 1, flags, sizeof flags) == 0)
            CHECK(!has_flag(flags, "hg"), "%zu bytes: the advice stops at the last whole 2 MB page (VmFlags:%s)",
                  n, flags);
        if (thp && n && n < MB2 && vm_flags(p, flags, sizeof flags) == 0)
            CHECK(!has_flag(flags, "hg"), "%zu bytes: small buffers are not advised (VmFlags:%s)", n, flags);
#endif
        vkb_big_free(p);
    }
    vkb_big_free(NULL);
    return vkb_test_done("test_bigmem");
}
