/* error.h - filling a vkb_error (internal). */
#ifndef VKB_ERROR_H
#define VKB_ERROR_H
#include "vkbert.h"

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
/* Formats a message into err (when err is non-NULL) and returns -1, so that
 * callers can write `return vkb_fail(err, "...", ...);`. */
int vkb_fail(vkb_error *err, const char *fmt, ...);
#endif
