/* json_guard.h - what every JSON file a checkpoint holds must pass (internal).
 *
 * Bounding memory: cJSON allocates one ~64-byte node per JSON value (plus a
 * malloc header), so "[0,0,0,...]" turns N bytes into about 40 N bytes of
 * memory: a 100 MB safetensors header could ask for 4 GB.  Before parsing,
 * the loaders bound the number of values and refuse files that would need
 * more than their format can sanely hold (limits in ckpt_limits.h).
 *
 * What cJSON hides: its strings are C strings, so "a\u0000b" would read as
 * "a"; it copies invalid UTF-8 through; it keeps every duplicate key (and
 * lookups see the first, Python and serde the last); and its numbers are
 * doubles, so 2.0 and 2e0 look like the integer 2.  vkb_json_check_text runs
 * on the raw text before parsing, vkb_json_check_tree on the parsed tree; the
 * loaders of config.json, tokenizer.json, tokenizer_config.json and the
 * safetensors header all call both, and read integers with vkb_json_int. */
#ifndef VKB_JSON_GUARD_H
#define VKB_JSON_GUARD_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "vkbert_loader.h"

/* An upper bound of the JSON values in s[0..n): each value but the first
 * follows a '[', ',' or ':' (characters inside strings only raise it). */
static inline uint64_t vkb_json_values_bound(const char *s, size_t n) {
    uint64_t k = 1;
    for (size_t i = 0; i < n; i++) k += s[i] == '[' || s[i] == ',' || s[i] == ':';
    return k;
}

/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF). */
int vkb_utf8_valid(const unsigned char *s, size_t n);

/* Refuses raw text that is not valid UTF-8, holds a NUL byte, or holds a
 * \u0000 escape inside a string (the only way, raw NULs aside, for a decoded
 * string to contain U+0000: cJSON refuses lone surrogates).  Messages name
 * fname and the byte offset. */
int vkb_json_check_text(const char *s, size_t n, const char *fname, vkb_error *err);

/* Flag set in cJSON's type (above the bits cJSON uses) on numbers written
 * with a fraction or an exponent: "2.0", "2e0", "1E3". */
#define VKB_JSON_NOT_INT (1 << 14)

/* After cJSON parsed root from s[0..n): marks numbers written with a fraction
 * or exponent (VKB_JSON_NOT_INT; cJSON visits values in text order, so a
 * scan of the text finds each number's spelling) and refuses any object with
 * a duplicate key, at every depth ("duplicate <top_noun>: 'k' appears twice"
 * for the top-level object, "duplicate key: ..." below). */
int vkb_json_check_tree(cJSON *root, const char *s, size_t n, const char *top_noun, const char *fname,
                        vkb_error *err);

/* 0 when v is a number written as a JSON integer (digits, optional '-', no
 * fraction or exponent) with value in [lo, hi]; then *out is set. */
int vkb_json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out);
#endif
