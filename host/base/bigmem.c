/* bigmem.c - see bigmem.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bigmem.h"
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define HUGE_PAGE ((size_t)2 << 20)

void *vkb_big_alloc(size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (n >= HUGE_PAGE) {
        void *p = NULL;
        /* posix_memalign: the same free() as any other buffer */
        if (posix_memalign(&p, HUGE_PAGE, n) == 0) {
            /* only whole huge pages inside the buffer: the advice never
             * reaches past it (the last partial page stays 4 KB) */
            size_t whole = n / HUGE_PAGE * HUGE_PAGE;
            (void)madvise(p, whole, MADV_HUGEPAGE); /* advice: refused is fine */
            return p;
        }
    }
#endif
    return malloc(n ? n : 1);
}

void vkb_big_free(void *p) { free(p); }
