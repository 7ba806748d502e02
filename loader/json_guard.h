/* json_guard.h - bounding what cJSON will allocate for a file (internal).
 *
 * cJSON allocates one ~64-byte node per JSON value (plus a malloc header), so
 * "[0,0,0,...]" turns N bytes into about 40 N bytes of memory: a 100 MB
 * safetensors header could ask for 4 GB.  Before parsing, the loaders bound
 * the number of values and refuse files that would need more than their
 * format can sanely hold (limits in ckpt_limits.h). */
#ifndef VKB_JSON_GUARD_H
#define VKB_JSON_GUARD_H
#include <stddef.h>
#include <stdint.h>

/* An upper bound of the JSON values in s[0..n): each value but the first
 * follows a '[', ',' or ':' (characters inside strings only raise it). */
static inline uint64_t vkb_json_values_bound(const char *s, size_t n) {
    uint64_t k = 1;
    for (size_t i = 0; i < n; i++) k += s[i] == '[' || s[i] == ',' || s[i] == ':';
    return k;
}
#endif
