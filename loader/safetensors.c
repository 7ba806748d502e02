/* safetensors.c - the safetensors header parser; see safetensors.h. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "safetensors.h"
#include "error.h"
#include "json_guard.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Every dtype the safetensors format defines, with its element size, so that
 * extra tensors we do not use (e.g. an I64 position_ids) can still be
 * bounds-checked.  A dtype outside this list makes the file invalid. */
static const struct { const char *name; int size; int vdt; } kDtypes[] = {
    {"F32", 4, VKB_DT_F32}, {"F16", 2, VKB_DT_F16}, {"BF16", 2, VKB_DT_BF16},
    {"F64", 8, -1}, {"I64", 8, -1}, {"U64", 8, -1}, {"I32", 4, -1}, {"U32", 4, -1},
    {"I16", 2, -1}, {"U16", 2, -1}, {"I8", 1, -1}, {"U8", 1, -1}, {"BOOL", 1, -1},
    {"F8_E4M3", 1, -1}, {"F8_E5M2", 1, -1},
};

/* JSON numbers are doubles: accept only non-negative numbers written as JSON
 * integers (serde refuses 2.0 for a usize) and exactly representable
 * (<= 2^53), then the caller applies its own bound. */
static int json_uint(const cJSON *v, uint64_t *out) {
    int64_t x;
    if (vkb_json_int(v, 0, (int64_t)1 << 53, &x)) return -1;
    *out = (uint64_t)x;
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const vkb_st_entry *)a)->name, ((const vkb_st_entry *)b)->name);
}

/* Sort key for the overlap check: begin, then end. */
typedef struct { uint64_t begin, end; const char *name; } span;
static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int parse_entry(const cJSON *item, const char *fname, uint64_t data_len,
                       vkb_st_entry *e, vkb_error *err) {
    const char *nm = item->string;
    if (!cJSON_IsObject(item))
        return vkb_fail(err, "%s: tensor '%s': entry is not a JSON object", fname, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt))
        return vkb_fail(err, "%s: tensor '%s': missing or non-string 'dtype'", fname, nm);
    int esize = 0;
    for (size_t i = 0; i < sizeof kDtypes / sizeof kDtypes[0]; i++)
        if (strcmp(dt->valuestring, kDtypes[i].name) == 0) {
            esize = kDtypes[i].size;
            snprintf(e->dtype, sizeof e->dtype, "%s", kDtypes[i].name);
            e->known = kDtypes[i].vdt >= 0;
            e->vdt = e->known ? (vkb_dtype)kDtypes[i].vdt : VKB_DT_F32;
        }
    if (!esize)
        return vkb_fail(err, "%s: tensor '%s': unknown dtype '%.32s'", fname, nm, dt->valuestring);

    if (!cJSON_IsArray(sh))
        return vkb_fail(err, "%s: tensor '%s': missing or non-array 'shape'", fname, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > VKB_MAX_NDIM)
        return vkb_fail(err, "%s: tensor '%s': %d dimensions (limit %d)", fname, nm, nd, VKB_MAX_NDIM);
    e->ndim = nd;
    e->numel = 1;
    int k = 0;
    for (const cJSON *d = sh->child; d; d = d->next, k++) {
        uint64_t v;
        if (json_uint(d, &v))
            return vkb_fail(err, "%s: tensor '%s': shape entry %d is not a non-negative integer", fname, nm, k);
        if (v > (uint64_t)VKB_MAX_DIM_VALUE)
            return vkb_fail(err, "%s: tensor '%s': shape entry %d = %llu is too large", fname, nm, k,
                            (unsigned long long)v);
        e->shape[k] = (int64_t)v;
        if (v && e->numel > INT64_MAX / (int64_t)v)
            return vkb_fail(err, "%s: tensor '%s': element count overflows", fname, nm);
        e->numel *= (int64_t)v;
    }

    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_uint(off->child, &b) ||
        json_uint(off->child->next, &en))
        return vkb_fail(err, "%s: tensor '%s': 'data_offsets' must be two non-negative integers", fname, nm);
    if (b > en)
        return vkb_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu] has begin > end", fname, nm,
                        (unsigned long long)b, (unsigned long long)en);
    if (en > data_len)
        return vkb_fail(err, "%s: tensor '%s': data_offsets end %llu is past the data section (%llu bytes; truncated file?)",
                        fname, nm, (unsigned long long)en, (unsigned long long)data_len);
    /* numel <= data_len here or the sizes cannot match; avoids overflow. */
    if ((uint64_t)e->numel > en - b || (uint64_t)e->numel * (uint64_t)esize != en - b)
        return vkb_fail(err, "%s: tensor '%s': %llu bytes at data_offsets but shape and dtype %s need %lld x %d",
                        fname, nm, (unsigned long long)(en - b), e->dtype, (long long)e->numel, esize);
    e->begin = b;
    e->end = en;
    return 0;
}

static int parse_root(const cJSON *root, const char *fname, vkb_st_file *f, vkb_error *err) {
    int n = 0;
    for (const cJSON *it = root->child; it; it = it->next)
        if (strcmp(it->string, "__metadata__") != 0 && ++n > VKB_MAX_TENSORS)
            return vkb_fail(err, "%s: more than %d tensors in the header", fname, VKB_MAX_TENSORS);
    f->e = calloc(n ? (size_t)n : 1, sizeof *f->e);
    if (!f->e) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory for %d tensor entries", fname, n);
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) return vkb_fail(err, "%s: '__metadata__' is not a JSON object", fname);
            /* HF reads it as a map of strings to strings. */
            for (const cJSON *m = it->child; m; m = m->next)
                if (!cJSON_IsString(m))
                    return vkb_fail(err, "%s: '__metadata__' entry '%.60s' is not a string", fname, m->string);
            continue;
        }
        size_t nl = strlen(it->string);
        if (nl == 0 || nl > VKB_MAX_TENSOR_NAME)
            return vkb_fail(err, "%s: tensor name of %zu bytes (allowed 1..%d)", fname, nl, VKB_MAX_TENSOR_NAME);
        vkb_st_entry *e = &f->e[f->n];
        if (!(e->name = strdup(it->string))) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", fname);
        f->n++;
        if (parse_entry(it, fname, f->data_len, e, err)) return -1;
    }
    qsort(f->e, (size_t)f->n, sizeof *f->e, cmp_name);
    for (int i = 1; i < f->n; i++)
        if (strcmp(f->e[i - 1].name, f->e[i].name) == 0)
            return vkb_fail(err, "%s: duplicate tensor name '%s'", fname, f->e[i].name);

    span *s = malloc((f->n ? (size_t)f->n : 1) * sizeof *s);
    if (!s) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", fname);
    int ns = 0;
    for (int i = 0; i < f->n; i++)
        if (f->e[i].end > f->e[i].begin) s[ns++] = (span){f->e[i].begin, f->e[i].end, f->e[i].name};
    qsort(s, (size_t)ns, sizeof *s, cmp_span);
    for (int i = 1; i < ns; i++)
        if (s[i].begin < s[i - 1].end) {
            int rc = vkb_fail(err, "%s: tensors '%s' and '%s' overlap in the data section", fname,
                              s[i - 1].name, s[i].name);
            free(s);
            return rc;
        }
    free(s);
    return 0;
}

int vkb_st_parse(const void *buf, size_t len, const char *fname, vkb_st_file *out,
                 vkb_error *err) {
    return vkb_st_parse_header(buf, len, len, fname, out, err);
}

int vkb_st_parse_header(const void *buf, size_t avail, uint64_t file_len, const char *fname,
                        vkb_st_file *out, vkb_error *err) {
    memset(out, 0, sizeof *out);
    const unsigned char *p = buf;
    if (file_len > SIZE_MAX) file_len = SIZE_MAX; /* 32-bit hosts: only bounds checks see it */
    size_t len = (size_t)file_len;
    if (avail > len) avail = len;
    if (len < 8 || avail < 8)
        return vkb_fail(err, "%s: file is %zu bytes, too short for a safetensors header (truncated?)", fname, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > VKB_MAX_HEADER_BYTES)
        return vkb_fail(err, "%s: header length %llu exceeds the limit of %u bytes", fname,
                        (unsigned long long)hlen, VKB_MAX_HEADER_BYTES);
    if (hlen > len - 8)
        return vkb_fail(err, "%s: header length %llu but only %zu bytes follow (truncated file?)", fname,
                        (unsigned long long)hlen, len - 8);
    if (hlen > avail - 8)
        return vkb_fail(err, "%s: header of %llu bytes not read (only %zu bytes given)", fname,
                        (unsigned long long)hlen, avail - 8);
    const char *h = (const char *)p + 8;
    if (hlen < 2 || h[0] != '{')
        return vkb_fail(err, "%s: header is not a JSON object (must start with '{')", fname);
    if (memchr(h, 0, hlen)) return vkb_fail(err, "%s: header contains a NUL byte", fname);
    if (vkb_json_check_text(h, hlen, fname, err)) return -1;
    if (vkb_json_values_bound(h, hlen) > VKB_MAX_HEADER_VALUES)
        return vkb_fail(err, "%s: header has more than %d JSON values (limit)", fname, VKB_MAX_HEADER_VALUES);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, hlen, &end, 0);
    if (!root) {
        size_t pos = end && end >= h ? (size_t)(end - h) : 0;
        return vkb_fail(err, "%s: header is not valid JSON (error near byte %zu of the header)", fname, pos);
    }
    /* The format allows trailing spaces (padding) after the object, nothing else. */
    for (const char *q = end; q < h + hlen; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            return vkb_fail(err, "%s: trailing bytes after the JSON header at byte %zu", fname, (size_t)(q - h));
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return vkb_fail(err, "%s: header is not a JSON object", fname);
    }
    out->data = avail == len ? p + 8 + hlen : NULL;
    out->data_off = 8 + hlen;
    out->data_len = len - 8 - hlen;
    int rc = vkb_json_check_tree(root, h, hlen, "tensor name", fname, err);
    if (!rc) rc = parse_root(root, fname, out, err);
    cJSON_Delete(root);
    if (rc) vkb_st_free(out);
    return rc;
}

const vkb_st_entry *vkb_st_find(const vkb_st_file *f, const char *name) {
    vkb_st_entry key = {.name = (char *)name};
    return f->n ? bsearch(&key, f->e, (size_t)f->n, sizeof *f->e, cmp_name) : NULL;
}

void vkb_st_free(vkb_st_file *f) {
    for (int i = 0; i < f->n; i++) free(f->e[i].name);
    free(f->e);
    memset(f, 0, sizeof *f);
}
