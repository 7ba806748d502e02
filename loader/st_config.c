/* st_config.c - sentence-transformers' modules.json and Pooling config
 * (st_config.h), read with the same guard as config.json (json_guard.h). */
#include "st_config.h"
#include "ckpt_limits.h"
#include "error.h"
#include "json_guard.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* Parses small JSON text with the checks every checkpoint JSON file gets. */
static cJSON *parse_guarded(const char *text, size_t len, const char *fname, vkb_error *err) {
    if (len > VKB_MAX_CONFIG_BYTES) {
        vkb_fail(err, "%s: %zu bytes, more than the limit of %u", fname, len, VKB_MAX_CONFIG_BYTES);
        return NULL;
    }
    if (memchr(text, 0, len)) { vkb_fail(err, "%s: contains a NUL byte", fname); return NULL; }
    if (vkb_json_check_text(text, len, fname, err)) return NULL;
    if (vkb_json_values_bound(text, len) > VKB_MAX_CONFIG_VALUES) {
        vkb_fail(err, "%s: more than %d JSON values (limit)", fname, VKB_MAX_CONFIG_VALUES);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t pos = end && end >= text ? (size_t)(end - text) : 0;
        vkb_fail(err, "%s: invalid JSON (error near byte %zu)", fname, pos);
        return NULL;
    }
    for (const char *q = end; q < text + len; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            vkb_fail(err, "%s: trailing bytes after the JSON value at byte %zu", fname, (size_t)(q - text));
            return NULL;
        }
    if (vkb_json_check_tree(root, text, len, "key", fname, err)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static const char *str_field(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

#define ST "sentence_transformers.models."

int vkb_st_parse_modules(const char *text, size_t len, const char *fname, char *pool_dir,
                         size_t pool_dir_n, int *normalize, vkb_error *err) {
    *normalize = 0;
    pool_dir[0] = 0;
    cJSON *root = parse_guarded(text, len, fname, err);
    if (!root) return -1;
    int rc = 0, n = 0, have_pool = 0;
    if (!cJSON_IsArray(root)) {
        rc = vkb_fail(err, "%s: not a JSON array of modules", fname);
        goto out;
    }
    const cJSON *mod;
    cJSON_ArrayForEach(mod, root) {
        const char *type = str_field(mod, "type"), *path = str_field(mod, "path");
        if (!cJSON_IsObject(mod) || !type || !path) {
            rc = vkb_fail(err, "%s: module %d: not an object with string fields 'type' and 'path'", fname, n);
            goto out;
        }
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(mod, "idx");
        int64_t iv;
        if (idx && (vkb_json_int(idx, 0, 1000, &iv) || iv != n)) {
            rc = vkb_fail(err, "%s: module %d: field 'idx' must be the integer %d", fname, n, n);
            goto out;
        }
        if (n == 0) {
            if (strcmp(type, ST "Transformer")) {
                rc = vkb_fail(err, "%s: module 0: field 'type' is '%s', expected '" ST "Transformer'",
                              fname, type);
                goto out;
            }
        } else if (!strcmp(type, ST "Pooling") && !have_pool && n == 1) {
            /* the folder is a fixed family of plain names, never a path */
            size_t k = 0, pl = strlen(path);
            while (k < pl && path[k] >= '0' && path[k] <= '9') k++;
            if (k < 1 || k > 3 || strcmp(path + k, "_Pooling") || pl + 1 > pool_dir_n) {
                rc = vkb_fail(err, "%s: module %d: field 'path' is '%s', expected a folder named "
                                   "like '1_Pooling'", fname, n, path);
                goto out;
            }
            memcpy(pool_dir, path, pl + 1);
            have_pool = 1;
        } else if (!strcmp(type, ST "Normalize") && have_pool && !*normalize) {
            *normalize = 1;
        } else {
            rc = vkb_fail(err, "%s: module %d: type '%s' is not supported here (vkbert runs "
                               "Transformer, then Pooling, then optionally Normalize)", fname, n, type);
            goto out;
        }
        n++;
    }
    if (!have_pool) rc = vkb_fail(err, "%s: no '" ST "Pooling' module after the Transformer", fname);
out:
    cJSON_Delete(root);
    return rc;
}

int vkb_st_parse_pooling(const char *text, size_t len, const char *fname, int dim, int *pooling,
                         vkb_error *err) {
    *pooling = 0;
    cJSON *root = parse_guarded(text, len, fname, err);
    if (!root) return -1;
    static const struct { const char *key; int mode; } modes[] = {
        {"pooling_mode_mean_tokens", 1}, {"pooling_mode_cls_token", 2}, {"pooling_mode_max_tokens", 3},
        {"pooling_mode_mean_sqrt_len_tokens", 0}, {"pooling_mode_weightedmean_tokens", 0},
        {"pooling_mode_lasttoken", 0}};
    int rc = 0, on = 0;
    if (!cJSON_IsObject(root)) {
        rc = vkb_fail(err, "%s: not a JSON object", fname);
        goto out;
    }
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(root, "word_embedding_dimension");
    int64_t d;
    if (!wd || vkb_json_int(wd, 1, 1 << 30, &d)) {
        rc = vkb_fail(err, "%s: field 'word_embedding_dimension' must be a positive integer", fname);
        goto out;
    }
    if (d != dim) {
        rc = vkb_fail(err, "%s: field 'word_embedding_dimension' = %lld but config.json dim is %d", fname,
                      (long long)d, dim);
        goto out;
    }
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, modes[i].key);
        if (!v) continue;
        if (!cJSON_IsBool(v)) {
            rc = vkb_fail(err, "%s: field '%s' must be true or false", fname, modes[i].key);
            goto out;
        }
        if (!cJSON_IsTrue(v)) continue;
        if (!modes[i].mode) {
            rc = vkb_fail(err, "%s: field '%s' is true: that pooling is not supported (mean, cls, max are)",
                          fname, modes[i].key);
            goto out;
        }
        on++;
        *pooling = modes[i].mode;
    }
    if (on != 1)
        rc = vkb_fail(err, "%s: %s of pooling_mode_mean_tokens, pooling_mode_cls_token, "
                           "pooling_mode_max_tokens is true (exactly one must be)", fname, on ? "more than one" : "none");
out:
    cJSON_Delete(root);
    if (rc) *pooling = 0;
    return rc;
}
