/* error.h - filling a vkb_error (internal). */
#ifndef VKB_ERROR_H
#define VKB_ERROR_H
#include <stddef.h>
#include "vkbert_loader.h"

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
/* Formats a message into err (when err is non-NULL) and returns -1, so that
 * callers can write `return vkb_fail(err, "...", ...);`.  Messages quote
 * untrusted input, so the result is escaped by vkb_escape_msg: it never holds
 * a control character a terminal would act on. */
int vkb_fail(vkb_error *err, const char *fmt, ...);
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
/* The same with the kind of failure (vkb_fail gives VKB_ERR_FAILED). */
int vkb_failc(vkb_error *err, vkb_errcode code, const char *fmt, ...);

/* Copies the NUL-terminated src into dst[0..cap) (always terminated, cut at a
 * whole character), writing C0 controls, DEL and bytes that are not valid
 * UTF-8 as \xNN, and C1 controls (U+0080..U+009F), bidi controls (U+061C,
 * U+200E/F, U+202A..U+202E, U+2066..U+2069) and U+2028/U+2029 as \uNNNN. */
void vkb_escape_msg(char *dst, size_t cap, const char *src);
#endif
