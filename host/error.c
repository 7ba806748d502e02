#include "error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int vkb_fail(vkb_error *err, const char *fmt, ...) {
    if (err) {
        /* Format into a scratch buffer first: callers often wrap the previous
         * message ("uploading %s: %s", ..., err->msg), which must not alias
         * the destination of vsnprintf. */
        char tmp[VKB_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        memcpy(err->msg, tmp, sizeof tmp);
    }
    return -1;
}
