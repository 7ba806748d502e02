#include "error.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (NUL-terminated), 0 if invalid;
 * *cp gets its code point. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp) {
    unsigned c = s[0];
    size_t k;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) { k = 1; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 2; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 3; v = c & 0x07; min = 0x10000; }
    else return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
        v = v << 6 | (s[j] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return k + 1;
}

/* Code points a terminal acts on or that reorder what is shown: C1 controls,
 * the bidi embeddings/overrides/isolates and marks, line/paragraph
 * separators. */
static int is_hidden_cp(uint32_t cp) {
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F || cp == 0x061C ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x2028 || cp == 0x2029;
}

void vkb_escape_msg(char *dst, size_t cap, const char *src) {
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    if (cap == 0) return;
    while (*s) {
        char piece[16];
        size_t plen, adv;
        uint32_t cp = 0;
        if (*s < 0x20 || *s == 0x7F) {
            plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *s);
            adv = 1;
        } else if (*s < 0x80) {
            piece[0] = (char)*s;
            plen = adv = 1;
        } else if ((adv = utf8_seq(s, &cp)) == 0) {
            plen = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *s); /* raw C1 byte, stray byte */
            adv = 1;
        } else if (is_hidden_cp(cp)) {
            plen = (size_t)snprintf(piece, sizeof piece, "\\u%04x", (unsigned)cp);
        } else {
            memcpy(piece, s, adv);
            plen = adv;
        }
        if (o + plen >= cap) break;
        memcpy(dst + o, piece, plen);
        o += plen;
        s += adv;
    }
    dst[o] = 0;
}

static void set_msg(vkb_error *err, const char *fmt, va_list ap) {
    /* Format into a scratch buffer first: callers often wrap the previous
     * message ("uploading %s: %s", ..., err->msg), which must not alias the
     * destination of vsnprintf.  Then escape what a terminal would act on:
     * messages quote names, tokens and strings from untrusted files
     * (escaping is idempotent, so wrapped messages stay as they are). */
    char tmp[VKB_ERR_MAX];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    vkb_escape_msg(err->msg, sizeof err->msg, tmp);
}

/* A code already set is kept: wrapping an error in more context
 * (vkb_fail(err, "uploading %s: %s", name, err->msg)) keeps its kind. */
int vkb_fail(vkb_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        set_msg(err, fmt, ap);
        va_end(ap);
        if (err->code == VKB_ERR_NONE) err->code = VKB_ERR_FAILED;
    }
    return -1;
}

int vkb_failc(vkb_error *err, vkb_errcode code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        set_msg(err, fmt, ap);
        va_end(ap);
        err->code = code == VKB_ERR_NONE ? VKB_ERR_FAILED : code;
    }
    return -1;
}

const char *vkb_errcode_name(vkb_errcode code) {
    switch (code) {
    case VKB_ERR_NONE: return "none";
    case VKB_ERR_FAILED: return "failed";
    case VKB_ERR_INPUT: return "input";
    case VKB_ERR_IO: return "io";
    case VKB_ERR_HOST_OOM: return "host_oom";
    case VKB_ERR_DEVICE_OOM: return "device_oom";
    case VKB_ERR_WEIGHTS_OOM: return "weights_oom";
    case VKB_ERR_DEVICE_LOST: return "device_lost";
    case VKB_ERR_UNSUPPORTED: return "unsupported";
    case VKB_ERR_INTERRUPTED: return "interrupted";
    }
    return "failed";
}
