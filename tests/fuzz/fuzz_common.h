/* fuzz_common.h - shared helpers of the fuzz targets in tests/fuzz/.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput.  It is linked either
 * with libFuzzer (clang, -DVKB_FUZZ=ON: tests/fuzz/run.sh) or with
 * replay_main.c (any compiler, every build: the fuzz_replay_<target> ctest
 * tests run the committed corpus once).  Targets check invariants of what the
 * parsers accept and abort() on a violation, so a logic bug is a "crash" too:
 * a failure must come with a message, a success must be self-consistent. */
#ifndef VKB_FUZZ_COMMON_H
#define VKB_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vkbert.h"

#define FUZZ_ASSERT(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

/* A failing parser must say why: a non-empty, NUL-terminated message. */
static inline void fuzz_check_error(const vkb_error *err) {
    FUZZ_ASSERT(memchr(err->msg, 0, sizeof err->msg) != NULL, "unterminated message");
    FUZZ_ASSERT(err->msg[0] != 0, "failure without a message");
}

/* With VKB_FUZZ_VERBOSE set, says what became of an input (replay runs:
 * shows which seeds load and why the others fail). */
static inline void fuzz_note(const char *what, const char *msg) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("VKB_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "  %s: %s\n", what, msg);
}

/* Splits data at the first `sep` (returned parts do not include it); when
 * absent the whole input is part 0 and part 1 is empty. */
static inline void fuzz_split(const uint8_t *data, size_t size, const char *sep,
                              const uint8_t **p0, size_t *n0, const uint8_t **p1, size_t *n1) {
    size_t k = strlen(sep);
    *p0 = data; *n0 = size; *p1 = data + size; *n1 = 0;
    for (size_t i = 0; i + k <= size; i++)
        if (memcmp(data + i, sep, k) == 0) {
            *n0 = i;
            *p1 = data + i + k;
            *n1 = size - i - k;
            return;
        }
}

/* Separator between the files of a multi-file input (see each target). */
#define FUZZ_SEP "\n#--8<--\n"

int fuzz_write_file(const char *dir, const char *name, const void *buf, size_t len);
void fuzz_remove_file(const char *dir, const char *name);
/* A private directory under $TMPDIR (or /tmp), created once per process and
 * removed at exit with the files named in `names` (NULL-terminated). */
const char *fuzz_tmpdir(const char *const *names);
#endif
