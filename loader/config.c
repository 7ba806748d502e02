#define _POSIX_C_SOURCE 200809L /* strdup */
/* config.c - config.json reader; see config.h.  Field names are those of HF's
 * DistilBertConfig as written by save_pretrained. */
#include "config.h"
#include "ckpt_limits.h"
#include "error.h"
#include "json_guard.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Integer field: required ones fail when missing, optional ones (and JSON
 * null) keep *out.  Rejects strings, booleans and numbers not written as
 * JSON integers (2.0, 2e0: Python's json reads those as floats). */
static int get_int(const cJSON *root, const char *key, int required, const char *fname,
                   int *out, vkb_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || (cJSON_IsNull(v) && !required)) {
        if (required) return vkb_fail(err, "%s: field '%s' is missing", fname, key);
        return 0;
    }
    int64_t x;
    if (vkb_json_int(v, INT32_MIN, INT32_MAX, &x))
        return vkb_fail(err, "%s: field '%s' must be an integer (digits only, no fraction or exponent)",
                        fname, key);
    *out = (int)x;
    return 0;
}

static int range(const char *fname, const char *key, long long v, long long lo, long long hi,
                 vkb_error *err) {
    if (v < lo || v > hi)
        return vkb_fail(err, "%s: field '%s' = %lld is outside [%lld, %lld]", fname, key, v, lo, hi);
    return 0;
}

int vkb_config_check(const vkb_config *c, const char *what, vkb_error *err) {
    if (range(what, "dim", c->dim, 1, VKB_MAX_MODEL_DIM, err) ||
        range(what, "n_layers", c->n_layers, 1, VKB_MAX_LAYERS, err) ||
        range(what, "n_heads", c->n_heads, 1, c->dim, err) ||
        range(what, "hidden_dim", c->hidden_dim, 1, VKB_MAX_HIDDEN_DIM, err) ||
        range(what, "vocab_size", c->vocab_size, 1, VKB_MAX_VOCAB, err) ||
        range(what, "max_position_embeddings", c->max_pos, 1, VKB_MAX_POSITIONS, err) ||
        range(what, "pad_token_id", c->pad_token_id, 0, c->vocab_size - 1, err) ||
        range(what, "n_labels", c->n_labels, 0, VKB_MAX_LABELS, err))
        return -1;
    if (c->dim % c->n_heads)
        return vkb_fail(err, "%s: field 'n_heads' = %d does not divide 'dim' = %d", what, c->n_heads, c->dim);
    return 0;
}

void vkb_config_free_labels(vkb_config *c) {
    if (c->labels)
        for (int i = 0; i < c->n_labels; i++) free(c->labels[i]);
    free(c->labels);
    c->labels = NULL;
    c->n_labels = 0;
}

int vkb_config_named(const char *name, vkb_config *out, vkb_error *err) {
    static const struct { const char *name; vkb_config c; } known[] = {
        {"distilbert-base", {.dim = 768, .n_layers = 6, .n_heads = 12, .hidden_dim = 3072,
                             .vocab_size = 30522, .max_pos = 512, .pad_token_id = 0, .n_labels = 2}},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (name && !strcmp(name, known[i].name)) {
            *out = known[i].c;
            return 0;
        }
    return vkb_fail(err, "unknown shape '%s' (known: distilbert-base)", name ? name : "(null)");
}

int vkb_config_default_labels(vkb_config *c, int n, vkb_error *err) {
    vkb_config_free_labels(c);
    if (n <= 0) return 0;
    if (!(c->labels = calloc((size_t)n, sizeof *c->labels))) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory for labels");
    for (; c->n_labels < n; c->n_labels++) {
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%d", c->n_labels);
        if (!(c->labels[c->n_labels] = strdup(buf))) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory for labels");
    }
    return 0;
}

/* Strict decimal id ("0", "17"; no sign, spaces or leading zeros) below n. */
static int parse_id(const char *s, int n) {
    if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 9) return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    return v < n ? v : -1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Labels are written into every output line and shown on terminals: C0
 * controls, DEL and C1 controls (U+0080..U+009F) are refused.  The text is
 * valid UTF-8 here (vkb_json_check_text). */
static int has_control(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)) return 1;
    return 0;
}

static int read_labels(const cJSON *root, const char *fname, vkb_config *c, vkb_error *err) {
    const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    const cJSON *l2i = cJSON_GetObjectItemCaseSensitive(root, "label2id");
    if (l2i && !cJSON_IsObject(l2i)) return vkb_fail(err, "%s: field 'label2id' must be an object", fname);
    if (!id2 || cJSON_IsNull(id2)) return 0;
    if (!cJSON_IsObject(id2)) return vkb_fail(err, "%s: field 'id2label' must be an object", fname);
    int n = cJSON_GetArraySize(id2); /* counts object members too */
    if (n > VKB_MAX_LABELS)
        return vkb_fail(err, "%s: field 'id2label' has %d entries (limit %d)", fname, n, VKB_MAX_LABELS);
    if (n == 0) return 0;
    if (!(c->labels = calloc((size_t)n, sizeof *c->labels))) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", fname);
    c->n_labels = n;
    for (const cJSON *it = id2->child; it; it = it->next) {
        int id = parse_id(it->string, n);
        if (id < 0)
            return vkb_fail(err, "%s: field 'id2label': key '%.40s' is not an id in [0, %d)", fname, it->string, n);
        if (c->labels[id]) return vkb_fail(err, "%s: field 'id2label': id %d appears twice", fname, id);
        if (!cJSON_IsString(it) || strlen(it->valuestring) > VKB_MAX_LABEL_BYTES)
            return vkb_fail(err, "%s: field 'id2label': label of id %d must be a string of at most %d bytes",
                            fname, id, VKB_MAX_LABEL_BYTES);
        if (has_control(it->valuestring))
            return vkb_fail(err, "%s: field 'id2label': label of id %d contains a control character", fname, id);
        if (!(c->labels[id] = strdup(it->valuestring))) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", fname);
    }
    /* Labels become the keys of each output line's "scores": two with one
     * name would give duplicate keys. */
    const char **sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", fname);
    memcpy(sorted, c->labels, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    for (int i = 1; i < n; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            int rc = vkb_fail(err, "%s: field 'id2label': label '%.60s' is given to two ids", fname, sorted[i]);
            free(sorted);
            return rc;
        }
    free(sorted);
    /* label2id is informational for us, but a contradicting one means a
     * broken config: each entry must map a label to its id. */
    for (const cJSON *it = l2i ? l2i->child : NULL; it; it = it->next) {
        int64_t id = -1;
        if (vkb_json_int(it, 0, n - 1, &id)) id = -1;
        if (id < 0 || strcmp(c->labels[id], it->string) != 0)
            return vkb_fail(err, "%s: field 'label2id': entry '%.40s' does not match id2label", fname, it->string);
    }
    return 0;
}

static int parse_root(const cJSON *root, const char *fname, vkb_config *c, vkb_error *err) {
    if (!cJSON_IsObject(root)) return vkb_fail(err, "%s: not a JSON object", fname);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (mt && !(cJSON_IsString(mt) && strcmp(mt->valuestring, "distilbert") == 0))
        return vkb_fail(err, "%s: field 'model_type' is %.40s, only 'distilbert' is supported", fname,
                        cJSON_IsString(mt) ? mt->valuestring : "not a string");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "activation");
    if (act && !(cJSON_IsString(act) && strcmp(act->valuestring, "gelu") == 0))
        return vkb_fail(err, "%s: field 'activation' is '%.40s', only 'gelu' is supported", fname,
                        cJSON_IsString(act) ? act->valuestring : "not a string");
    c->pad_token_id = 0;
    if (get_int(root, "dim", 1, fname, &c->dim, err) ||
        get_int(root, "n_layers", 1, fname, &c->n_layers, err) ||
        get_int(root, "n_heads", 1, fname, &c->n_heads, err) ||
        get_int(root, "hidden_dim", 1, fname, &c->hidden_dim, err) ||
        get_int(root, "vocab_size", 1, fname, &c->vocab_size, err) ||
        get_int(root, "max_position_embeddings", 1, fname, &c->max_pos, err) ||
        get_int(root, "pad_token_id", 0, fname, &c->pad_token_id, err))
        return -1;
    if (vkb_config_check(c, fname, err)) return -1;
    return read_labels(root, fname, c, err);
}

int vkb_config_parse(const char *text, size_t len, const char *fname, vkb_config *cfg,
                     vkb_error *err) {
    memset(cfg, 0, sizeof *cfg);
    if (len > VKB_MAX_CONFIG_BYTES)
        return vkb_fail(err, "%s: %zu bytes, more than the limit of %u", fname, len, VKB_MAX_CONFIG_BYTES);
    if (memchr(text, 0, len)) return vkb_fail(err, "%s: contains a NUL byte", fname);
    if (vkb_json_check_text(text, len, fname, err)) return -1;
    if (vkb_json_values_bound(text, len) > VKB_MAX_CONFIG_VALUES)
        return vkb_fail(err, "%s: more than %d JSON values (limit)", fname, VKB_MAX_CONFIG_VALUES);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t pos = end && end >= text ? (size_t)(end - text) : 0;
        return vkb_fail(err, "%s: invalid JSON (error near byte %zu)", fname, pos);
    }
    for (const char *q = end; q < text + len; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            return vkb_fail(err, "%s: trailing bytes after the JSON object at byte %zu", fname, (size_t)(q - text));
        }
    /* Python's json (hence HF) keeps the last of duplicate keys, cJSON the
     * first: rather than silently disagree, check_tree refuses them. */
    int rc = vkb_json_check_tree(root, text, len, "field", fname, err);
    if (!rc) rc = parse_root(root, fname, cfg, err);
    cJSON_Delete(root);
    if (rc) vkb_config_free_labels(cfg);
    return rc;
}
