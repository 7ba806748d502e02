/* strbuf.h - a growable, always NUL-terminated byte buffer (internal; base
 * layer).  Zero-initialize it ({0}); free p when done.  A failed allocation
 * leaves the contents as they were, returns -1 and sets `oom`, which stays
 * set: code that builds a whole line can append without checking each step
 * and look at `oom` once at the end. */
#ifndef VKB_STRBUF_H
#define VKB_STRBUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct vkb_strbuf {
    char *p;      /* NUL-terminated when non-NULL */
    size_t n;     /* bytes used, without the NUL */
    size_t cap;   /* bytes allocated */
    int oom;      /* an allocation failed */
} vkb_strbuf;

/* Room for `extra` more bytes (and the NUL).  0, or -1 (oom set). */
int vkb_sb_reserve(vkb_strbuf *b, size_t extra);
/* Appends n bytes / one byte / a C string.  0, or -1 (oom set). */
int vkb_sb_put(vkb_strbuf *b, const char *s, size_t n);
int vkb_sb_putc(vkb_strbuf *b, char c);
int vkb_sb_puts(vkb_strbuf *b, const char *s);
/* Appends printf output.  0, or -1 (oom set, or a format error). */
int vkb_sb_printf(vkb_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int vkb_sb_vprintf(vkb_strbuf *b, const char *fmt, va_list ap);
#endif
