/* fuzz_common.c - temp-directory helpers for the fuzz targets that exercise
 * file-reading entry points (vkb_tokenizer_load, vkb_model_load). */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_common.h"
#include <fcntl.h>
#include <unistd.h>

/* Process-wide state of the test harness (not of the library). */
static char g_dir[512];
static const char *const *g_names;

int fuzz_write_file(const char *dir, const char *name, const void *buf, size_t len) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) { close(fd); return -1; }
        p += w;
        len -= (size_t)w;
    }
    return close(fd);
}

void fuzz_remove_file(const char *dir, const char *name) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static void cleanup(void) {
    for (const char *const *n = g_names; n && *n; n++) fuzz_remove_file(g_dir, *n);
    rmdir(g_dir);
}

const char *fuzz_tmpdir(const char *const *names) {
    if (g_dir[0]) return g_dir;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/vkb-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    g_names = names;
    atexit(cleanup);
    return g_dir;
}
