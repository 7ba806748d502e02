/* strbuf.c - see strbuf.h. */
#include "strbuf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vkb_sb_reserve(vkb_strbuf *b, size_t extra) {
    if (extra > (size_t)-1 - 1 - b->n) { /* n + extra + 1 would overflow */
        b->oom = 1;
        return -1;
    }
    if (b->n + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) cap = cap > (size_t)-1 / 2 ? b->n + extra + 1 : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int vkb_sb_put(vkb_strbuf *b, const char *s, size_t n) {
    if (vkb_sb_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int vkb_sb_putc(vkb_strbuf *b, char c) { return vkb_sb_put(b, &c, 1); }

int vkb_sb_puts(vkb_strbuf *b, const char *s) { return vkb_sb_put(b, s, strlen(s)); }

int vkb_sb_vprintf(vkb_strbuf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int k = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (k < 0 || vkb_sb_reserve(b, (size_t)k)) return -1;
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    b->n += (size_t)k;
    return 0;
}

int vkb_sb_printf(vkb_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vkb_sb_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}
