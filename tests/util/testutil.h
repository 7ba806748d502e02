/* testutil.h - tiny assertion helpers shared by the C tests. */
#ifndef VKB_TESTUTIL_H
#define VKB_TESTUTIL_H
#include <stdio.h>
#include <stdlib.h>
#include "vkbert.h"

#define VKB_SKIP 77
extern int vkb_test_failures;

#define CHECK(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); vkb_test_failures++; } } while (0)
#define REQUIRE(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: REQUIRE(%s) failed: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } } while (0)

/* Returns 0 if no CHECK failed, else 1, after printing a summary. */
int vkb_test_done(const char *name);
/* Path under ../shared (from $VKB_SHARED), or NULL when absent. */
const char *vkb_test_shared(const char *rel, char *buf, size_t n);
/* Reads a whole file; NULL on failure. */
char *vkb_test_read_file(const char *path, size_t *len);
/* 1 when a Vulkan device can be opened; else prints "TEST: skipped: why"
 * and returns 0 (the test then returns VKB_SKIP). */
int vkb_test_have_vulkan(const char *test);
/* Deterministic uniform floats in [-scale, scale]. */
void vkb_test_rand(float *x, size_t n, float scale, uint64_t *state);
#endif
