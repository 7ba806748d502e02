/* json_guard.c - see json_guard.h. */
#include "json_guard.h"
#include "error.h"
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..n) (first byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t k;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (k >= n) return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k + 1;
}

int vkb_utf8_valid(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) { i++; continue; }
        size_t k = utf8_len(s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

int vkb_json_check_text(const char *text, size_t n, const char *fname, vkb_error *err) {
    const unsigned char *s = (const unsigned char *)text;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c == 0) return vkb_fail(err, "%s: NUL byte at byte %zu", fname, i);
        if (c >= 0x80) {
            size_t k = utf8_len(s + i, n - i);
            if (!k) return vkb_fail(err, "%s: invalid UTF-8 at byte %zu", fname, i);
            i += k - 1;
        } else if (in_str && c == '\\') {
            if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
                return vkb_fail(err, "%s: string with an escaped NUL (\\u0000) at byte %zu", fname, i);
            i++; /* the escaped character */
        } else if (c == '"') {
            in_str = !in_str;
        }
    }
    return 0;
}

/* A cursor over the raw text that yields its number tokens in order. */
typedef struct { const char *s; size_t n, i; } num_cursor;

/* Finds the next number token; returns 1 if it has a fraction or exponent,
 * 0 if it is an integer, -1 if there is none (cannot happen for text cJSON
 * parsed). */
static int next_number(num_cursor *c) {
    while (c->i < c->n) {
        char ch = c->s[c->i];
        if (ch == '"') { /* skip the string */
            for (c->i++; c->i < c->n && c->s[c->i] != '"'; c->i++)
                if (c->s[c->i] == '\\') c->i++;
            c->i++;
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            int frac = 0;
            for (; c->i < c->n; c->i++) {
                ch = c->s[c->i];
                if (ch == '.' || ch == 'e' || ch == 'E') frac = 1;
                else if (!(ch == '-' || ch == '+' || (ch >= '0' && ch <= '9'))) break;
            }
            return frac;
        } else {
            c->i++; /* punctuation, spaces, true/false/null */
        }
    }
    return -1;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int walk(cJSON *v, num_cursor *cur, const char *noun, const char *fname, vkb_error *err) {
    if (cJSON_IsNumber(v)) {
        int f = next_number(cur);
        if (f < 0) return vkb_fail(err, "%s: internal error matching JSON numbers", fname);
        if (f) v->type |= VKB_JSON_NOT_INT;
        return 0;
    }
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return 0;
    if (cJSON_IsObject(v) && v->child && v->child->next) {
        size_t k = 0, cnt = 0;
        for (const cJSON *it = v->child; it; it = it->next) cnt++;
        const char **keys = malloc(cnt * sizeof *keys);
        if (!keys) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", fname);
        for (const cJSON *it = v->child; it; it = it->next) keys[k++] = it->string;
        qsort(keys, cnt, sizeof *keys, cmp_key);
        int rc = 0;
        for (size_t i = 1; i < cnt && !rc; i++)
            if (!strcmp(keys[i - 1], keys[i]))
                rc = vkb_fail(err, "%s: duplicate %s: '%.60s' appears twice", fname, noun, keys[i]);
        free(keys);
        if (rc) return rc;
    }
    /* cJSON limits nesting to CJSON_NESTING_LIMIT (1000): bounded recursion. */
    for (cJSON *it = v->child; it; it = it->next)
        if (walk(it, cur, "key", fname, err)) return -1;
    return 0;
}

int vkb_json_check_tree(cJSON *root, const char *s, size_t n, const char *top_noun, const char *fname,
                        vkb_error *err) {
    num_cursor c = {s, n, 0};
    return walk(root, &c, top_noun, fname, err);
}

int vkb_json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
    if (!cJSON_IsNumber(v) || (v->type & VKB_JSON_NOT_INT)) return -1;
    const int64_t exact = (int64_t)1 << 53; /* doubles hold every integer up to here */
    if (hi > exact) hi = exact;
    if (lo < -exact) lo = -exact;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi)) return -1;
    *out = (int64_t)d;
    return 0;
}
