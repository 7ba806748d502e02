/* vocab.c - reading vocab.txt, the WordPiece vocab of tokenizer.json and
 * tokenizer_config.json into a vkb_tokenizer.
 *
 * Mirrors what transformers does for BertTokenizerFast/DistilBertTokenizerFast:
 * vocab.txt gives id = line number; tokenizer.json (used only when vocab.txt
 * is absent) gives model.vocab, the normalizer flags and the added tokens;
 * tokenizer_config.json overrides do_lower_case / strip_accents and gives
 * model_max_length.  Every malformed input is an error naming the file and the
 * line or field. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getrandom */
#endif
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ckpt_limits.h"
#include "error.h"
#include "json_guard.h"
#include "tokenizer.h"
#include "vocab.h"

/* transformers writes int(1e30) for "no limit"; anything this large means the
 * same, and BERT's position table has 512 entries. */
#define VKB_MAX_LEN_FALLBACK 512
#define VKB_MAX_LEN_SANE 1000000
#define VKB_STR_(x) #x
#define VKB_STR(x) VKB_STR_(x)

typedef struct tok_settings {
    int lowercase;     /* -1 = not given */
    int strip_accents; /* -1 = follow lowercase (HF's strip_accents=None) */
    int max_len;       /* 0 = not given */
    char *names[5];    /* unk, cls, sep, pad, mask token strings */
} tok_settings;

enum { NAME_UNK, NAME_CLS, NAME_SEP, NAME_PAD, NAME_MASK };
static const char *const default_names[5] = {"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"};
static const char *const name_fields[5] = {"unk_token", "cls_token", "sep_token", "pad_token", "mask_token"};

static char *xstrndup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static void tok_alloc_free(vkb_tokenizer *t) {
    if (!t) return;
    if (t->tok)
        for (int32_t i = 0; i < t->n; i++) free(t->tok[i]);
    free(t->tok);
    free(t->len);
    free(t->hash);
    free(t->slot);
    free(t->added);
    free(t);
}

void vkb_tokenizer_free(vkb_tokenizer *t) { tok_alloc_free(t); }

static vkb_tokenizer *tok_new(int32_t n) {
    vkb_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->n = n;
    t->tok = calloc((size_t)n ? (size_t)n : 1, sizeof *t->tok);
    t->len = calloc((size_t)n ? (size_t)n : 1, sizeof *t->len);
    t->hash = calloc((size_t)n ? (size_t)n : 1, sizeof *t->hash);
    if (!t->tok || !t->len || !t->hash) { tok_alloc_free(t); return NULL; }
    t->unk = t->cls = t->sep = t->pad = -1;
    t->max_chars_per_word = 100;
    t->max_len = VKB_MAX_LEN_FALLBACK;
    t->lowercase = 1;
    t->strip_accents = 1;
    return t;
}

/* splitmix64: spreads a 64-bit value over all bits. */
static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fresh secrets for t's table (vocab.h): getrandom() when it answers at
 * once, else the table's address, the attempt and the clocks, all mixed. */
static void draw_secrets(vkb_tokenizer *t, int attempt) {
    uint64_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec a = {0, 0}, b = {0, 0};
        clock_gettime(CLOCK_REALTIME, &a);
        clock_gettime(CLOCK_MONOTONIC, &b);
        r[0] = mix64((uint64_t)(uintptr_t)t ^ (uint64_t)a.tv_nsec << 20 ^ (uint64_t)a.tv_sec);
        r[1] = mix64(r[0] ^ (uint64_t)b.tv_nsec ^ (uint64_t)b.tv_sec << 32 ^ (uint64_t)attempt);
    }
    t->seed = mix64(r[0] ^ (uint64_t)attempt);
    t->key = mix64(r[1] + (uint64_t)attempt);
}

/* One build of the table with the current secrets: 0 done, 1 an insert
 * probed more than VKB_VOCAB_MAX_PROBE slots (rebuild), -1 error set. */
static int tok_build(vkb_tokenizer *t, const char *file, int ids_are_lines, vkb_error *err) {
    memset(t->slot, 0xff, (t->mask + 1) * sizeof *t->slot);
    t->max_probe = 0;
    t->build_probes = 0;
    t->max_tok_bytes = 0;
    for (int32_t id = 0; id < t->n; id++) {
        uint32_t n = t->len[id];
        t->hash[id] = vkb_fnv(t->seed, t->tok[id], n);
        if (n == 0) continue;
        /* Find-or-insert in one probe sequence: a repeated token is an error
         * (HF would silently give it the later id). */
        uint64_t h = t->hash[id], i = vkb_vocab_home(t, h);
        uint32_t k = 0;
        for (;; k++, i = (i + 1) & t->mask) {
            if (k > VKB_VOCAB_MAX_PROBE) return 1;
            int32_t o = t->slot[i];
            if (o < 0) break;
            if (t->hash[o] == h && t->len[o] == n && memcmp(t->tok[o], t->tok[id], n) == 0) {
                if (ids_are_lines)
                    return vkb_fail(err, "%s: line %d: duplicate token \"%s\" (first on line %d)",
                                    file, id + 1, t->tok[id], o + 1);
                return vkb_fail(err, "%s: duplicate token \"%s\" (ids %d and %d)", file,
                                t->tok[id], o, id);
            }
        }
        t->build_probes += k + 1;
        if (k > t->max_probe) t->max_probe = k;
        t->slot[i] = id;
        if (n > t->max_tok_bytes) t->max_tok_bytes = n;
    }
    t->cont_seed = vkb_fnv(t->seed, "##", 2);
    return 0;
}

/* Fills len/hash and the hash table once every tok[i] is set.  Empty tokens
 * (blank vocab.txt lines) keep their id but are never looked up.  Time is
 * linear in the tokens' bytes: at most VKB_VOCAB_MAX_BUILDS builds of at most
 * VKB_VOCAB_MAX_PROBE probes per token (vocab.h). */
static int tok_index(vkb_tokenizer *t, const char *file, int ids_are_lines, vkb_error *err) {
    uint64_t cap = 16;
    while (cap < (uint64_t)t->n * 2 + 16) cap <<= 1;
    t->slot = malloc(cap * sizeof *t->slot);
    if (!t->slot) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", file);
    t->mask = cap - 1;
    for (int32_t id = 0; id < t->n; id++) t->len[id] = (uint32_t)strlen(t->tok[id]);
    for (t->builds = 1; t->builds <= VKB_VOCAB_MAX_BUILDS; t->builds++) {
        draw_secrets(t, t->builds);
        int r = tok_build(t, file, ids_are_lines, err);
        if (r <= 0) return r;
    }
    return vkb_fail(err, "%s: too many hash collisions among the tokens (%d tables tried)", file,
                    VKB_VOCAB_MAX_BUILDS);
}

/* vocab.txt: one token per line, id = 0-based line number, like
 * transformers' load_vocab (a final newline does not start another line, a
 * trailing \r of CRLF files is dropped). */
static int parse_vocab_txt(const char *file, const char *buf, size_t len, vkb_tokenizer **out,
                           vkb_error *err) {
    if (len == 0) return vkb_fail(err, "%s: empty vocabulary", file);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    if (buf[len - 1] != '\n') lines++;
    if (lines > (size_t)VKB_MAX_VOCAB)
        return vkb_fail(err, "%s: %zu lines, more than the limit of %d tokens", file, lines, VKB_MAX_VOCAB);
    vkb_tokenizer *t = tok_new((int32_t)lines);
    if (!t) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", file);
    size_t pos = 0;
    for (int32_t id = 0; id < t->n; id++) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - pos;
        if (n > 0 && buf[pos + n - 1] == '\r') n--;
        if (memchr(buf + pos, 0, n)) {
            tok_alloc_free(t);
            return vkb_fail(err, "%s: line %d: NUL byte in token", file, id + 1);
        }
        if (!vkb_utf8_valid((const unsigned char *)buf + pos, n)) {
            tok_alloc_free(t);
            return vkb_fail(err, "%s: line %d: token is not valid UTF-8", file, id + 1);
        }
        t->tok[id] = xstrndup(buf + pos, n);
        if (!t->tok[id]) { tok_alloc_free(t); return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", file); }
        pos = end + 1;
    }
    if (tok_index(t, file, 1, err)) { tok_alloc_free(t); return -1; }
    *out = t;
    return 0;
}

static int add_added(vkb_tokenizer *t, const char *file, int32_t id, vkb_error *err) {
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id == id) return 0;
    vkb_added_token *a = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *a);
    if (!a) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", file);
    t->added = a;
    a[t->n_added].content = t->tok[id];
    a[t->n_added].len = t->len[id];
    a[t->n_added].id = id;
    t->n_added++;
    unsigned char c = (unsigned char)t->tok[id][0];
    t->added_first[c >> 3] |= (uint8_t)(1u << (c & 7));
    return 0;
}

/* Resolves the special tokens and applies the settings; `file` names the
 * vocabulary for errors. */
static int tok_finish(vkb_tokenizer *t, const char *file, const tok_settings *s, int from_json,
                      vkb_error *err) {
    int32_t ids[5];
    for (int k = 0; k < 5; k++) {
        const char *name = s->names[k] ? s->names[k] : default_names[k];
        size_t n = strlen(name);
        ids[k] = n ? vkb_vocab_find(t, vkb_fnv(t->seed, name, n), name, (uint32_t)n) : -1;
        if (ids[k] < 0 && k != NAME_MASK)
            return vkb_fail(err, "%s: special token %s \"%s\" is not in the vocabulary", file,
                            name_fields[k], name);
    }
    t->unk = ids[NAME_UNK];
    t->cls = ids[NAME_CLS];
    t->sep = ids[NAME_SEP];
    t->pad = ids[NAME_PAD];
    /* transformers registers the special tokens as added tokens
     * (normalized=false), so they match in raw text: "[CLS]" typed by a user
     * becomes id 101.  tokenizer.json lists its added tokens itself. */
    if (!from_json)
        for (int k = 0; k < 5; k++)
            if (ids[k] >= 0 && add_added(t, file, ids[k], err)) return -1;
    if (s->lowercase >= 0) t->lowercase = s->lowercase;
    t->strip_accents = s->strip_accents >= 0 ? s->strip_accents : t->lowercase;
    if (s->max_len > 0) t->max_len = s->max_len;
    return 0;
}

/* Reads a whole tokenizer file.  Only regular files of at most
 * VKB_MAX_TOKENIZER_BYTES are read: a FIFO would block the open or the read
 * forever and /dev/zero would grow the buffer until memory runs out (both
 * reachable by a symlink in a downloaded model directory).  On failure
 * *missing tells ENOENT apart and *why says what went wrong. */
static char *read_file(const char *path, size_t *len, int *missing, const char **why) {
    *missing = 0;
    *why = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *missing = errno == ENOENT;
        *why = strerror(errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        *why = "not a regular file";
        return NULL;
    }
    if (st.st_size > (off_t)VKB_MAX_TOKENIZER_BYTES) {
        close(fd);
        *why = "larger than the limit of " VKB_STR(VKB_MAX_TOKENIZER_BYTES) " bytes";
        return NULL;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    char *buf = malloc(cap + 1);
    while (buf && n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    if (!buf || n != cap) {
        *why = !buf ? "out of memory" : "short read";
        free(buf);
        close(fd);
        return NULL;
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

static cJSON *parse_json_file(const char *path, int *missing, vkb_error *err) {
    size_t len;
    const char *why;
    char *buf = read_file(path, &len, missing, &why);
    if (!buf) {
        if (!*missing) vkb_fail(err, "%s: cannot read: %s", path, why);
        return NULL;
    }
    if (vkb_json_values_bound(buf, len) > VKB_MAX_TOKENIZER_VALUES) {
        free(buf);
        vkb_fail(err, "%s: more than %d JSON values (limit)", path, VKB_MAX_TOKENIZER_VALUES);
        return NULL;
    }
    if (vkb_json_check_text(buf, len, path, err)) {
        free(buf);
        return NULL;
    }
    const char *end = NULL;
    /* len + 1: the NUL read_file appends; cJSON wants it when
     * require_null_terminated is set. */
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!j) {
        size_t off = end ? (size_t)(end - buf) : 0, line = 1;
        for (size_t i = 0; i < off && i < len; i++) line += buf[i] == '\n';
        vkb_fail(err, "%s: invalid JSON near line %zu (byte %zu)", path, line, off);
    } else if (vkb_json_check_tree(j, buf, len, "field", path, err)) {
        cJSON_Delete(j);
        j = NULL;
    }
    free(buf);
    return j;
}

/* A bool field, or -1 when absent/null.  -2 (error set) when of another type. */
static int json_bool(const cJSON *o, const char *field, const char *file, vkb_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!v || cJSON_IsNull(v)) return -1;
    if (!cJSON_IsBool(v)) {
        vkb_fail(err, "%s: field \"%s\" must be true or false", file, field);
        return -2;
    }
    return cJSON_IsTrue(v) ? 1 : 0;
}

static int read_config(const char *path, tok_settings *s, vkb_error *err) {
    int missing;
    cJSON *j = parse_json_file(path, &missing, err);
    if (!j) return missing ? 0 : -1;
    int rc = -1;
    if (!cJSON_IsObject(j)) { vkb_fail(err, "%s: expected a JSON object", path); goto done; }
    if ((s->lowercase = json_bool(j, "do_lower_case", path, err)) == -2) goto done;
    if ((s->strip_accents = json_bool(j, "strip_accents", path, err)) == -2) goto done;
    /* Always on here (HF's handle_chinese_chars): refuse what we would ignore. */
    int tcc = json_bool(j, "tokenize_chinese_chars", path, err);
    if (tcc == -2) goto done;
    if (tcc == 0) {
        vkb_fail(err, "%s: field \"tokenize_chinese_chars\" = false is not supported", path);
        goto done;
    }
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(j, "model_max_length");
    if (ml && !cJSON_IsNull(ml)) {
        /* An integer; a float is allowed only as "no limit" (1e30 and
         * the like, which some tools write), never to be truncated. */
        if (!cJSON_IsNumber(ml) || ml->valuedouble != floor(ml->valuedouble) ||
            ((ml->type & VKB_JSON_NOT_INT) && ml->valuedouble <= VKB_MAX_LEN_SANE)) {
            vkb_fail(err, "%s: field \"model_max_length\" must be an integer", path);
            goto done;
        }
        if (ml->valuedouble < 2) {
            vkb_fail(err, "%s: field \"model_max_length\" is %g, need at least 2 ([CLS] and [SEP])",
                     path, ml->valuedouble);
            goto done;
        }
        s->max_len = ml->valuedouble > VKB_MAX_LEN_SANE ? VKB_MAX_LEN_FALLBACK : (int)ml->valuedouble;
    }
    for (int k = 0; k < 5; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name_fields[k]);
        if (!v || cJSON_IsNull(v)) continue;
        /* transformers writes either "[CLS]" or an AddedToken object. */
        if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (!cJSON_IsString(v)) {
            vkb_fail(err, "%s: field \"%s\" must be a string", path, name_fields[k]);
            goto done;
        }
        s->names[k] = xstrndup(v->valuestring, strlen(v->valuestring));
        if (!s->names[k]) { vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", path); goto done; }
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

static void settings_free(tok_settings *s) {
    for (int k = 0; k < 5; k++) free(s->names[k]);
}

/* tokenizer.json: model.vocab (token -> id, ids dense 0..n-1), model.unk_token,
 * model.max_input_chars_per_word, normalizer flags, added_tokens. */
static int parse_tokenizer_json(const char *path, tok_settings *s, vkb_tokenizer **out,
                                vkb_error *err) {
    int missing;
    cJSON *j = parse_json_file(path, &missing, err);
    if (!j) return -1;
    vkb_tokenizer *t = NULL;
    int rc = -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!cJSON_IsObject(model)) { vkb_fail(err, "%s: missing object \"model\"", path); goto done; }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && !cJSON_IsNull(type) && !cJSON_IsString(type)) {
        vkb_fail(err, "%s: model.type must be a string", path);
        goto done;
    }
    if (cJSON_IsString(type) && strcmp(type->valuestring, "WordPiece") != 0) {
        vkb_fail(err, "%s: model.type is \"%s\"; only WordPiece (BERT) is supported", path,
                 type->valuestring);
        goto done;
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
    if (pre && !(cJSON_IsString(pre) && strcmp(pre->valuestring, "##") == 0)) {
        vkb_fail(err, "%s: model.continuing_subword_prefix must be \"##\"", path);
        goto done;
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab)) { vkb_fail(err, "%s: missing object \"model.vocab\"", path); goto done; }
    int n = cJSON_GetArraySize(vocab);
    if (n <= 0) { vkb_fail(err, "%s: model.vocab is empty", path); goto done; }
    if (n > VKB_MAX_VOCAB) {
        vkb_fail(err, "%s: model.vocab has %d tokens, more than the limit of %d", path, n, VKB_MAX_VOCAB);
        goto done;
    }
    t = tok_new(n);
    if (!t) { vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", path); goto done; }
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int64_t id;
        if (vkb_json_int(e, 0, n - 1, &id)) {
            vkb_fail(err, "%s: model.vocab[\"%s\"]: id must be an integer in [0, %d)", path, e->string, n);
            goto done;
        }
        if (t->tok[id]) {
            vkb_fail(err, "%s: model.vocab: id %d given to both \"%s\" and \"%s\"", path, (int)id,
                     t->tok[id], e->string);
            goto done;
        }
        if (!(t->tok[id] = xstrndup(e->string, strlen(e->string)))) {
            vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", path);
            goto done;
        }
    }
    if (tok_index(t, path, 0, err)) goto done;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (unk && !cJSON_IsString(unk)) { vkb_fail(err, "%s: model.unk_token must be a string", path); goto done; }
    if (unk && !s->names[NAME_UNK] && !(s->names[NAME_UNK] = xstrndup(unk->valuestring, strlen(unk->valuestring)))) {
        vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", path);
        goto done;
    }
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if (mc && !cJSON_IsNull(mc)) {
        int64_t v;
        if (vkb_json_int(mc, 1, VKB_MAX_WORD_CHARS, &v)) {
            vkb_fail(err, "%s: model.max_input_chars_per_word must be an integer in [1, %d]", path,
                     VKB_MAX_WORD_CHARS);
            goto done;
        }
        t->max_chars_per_word = (int)v;
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(j, "normalizer");
    if (norm && !cJSON_IsNull(norm) && !cJSON_IsObject(norm)) {
        vkb_fail(err, "%s: \"normalizer\" must be an object", path);
        goto done;
    }
    if (cJSON_IsObject(norm)) {
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (!cJSON_IsString(nt) || strcmp(nt->valuestring, "BertNormalizer") != 0) {
            vkb_fail(err, "%s: normalizer.type must be \"BertNormalizer\"", path);
            goto done;
        }
        int lc = json_bool(norm, "lowercase", path, err), sa = json_bool(norm, "strip_accents", path, err);
        if (lc == -2 || sa == -2) goto done;
        /* Always on here: a file turning them off would be tokenized
         * differently, without a word. */
        static const char *const fixed[2] = {"clean_text", "handle_chinese_chars"};
        for (int f = 0; f < 2; f++) {
            int b = json_bool(norm, fixed[f], path, err);
            if (b == -2) goto done;
            if (b == 0) {
                vkb_fail(err, "%s: normalizer.%s=false is not supported", path, fixed[f]);
                goto done;
            }
        }
        /* tokenizer_config.json's do_lower_case wins, as in transformers. */
        if (s->lowercase < 0 && lc >= 0) s->lowercase = lc;
        if (s->strip_accents < 0 && sa >= 0) s->strip_accents = sa;
    }
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer");
    if (pt && !cJSON_IsNull(pt)) {
        const cJSON *pty = cJSON_GetObjectItemCaseSensitive(pt, "type");
        if (!cJSON_IsString(pty) || strcmp(pty->valuestring, "BertPreTokenizer") != 0) {
            vkb_fail(err, "%s: pre_tokenizer.type must be \"BertPreTokenizer\"", path);
            goto done;
        }
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) {
        vkb_fail(err, "%s: \"added_tokens\" must be an array", path);
        goto done;
    }
    int ai = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, ai++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(content)) {
            vkb_fail(err, "%s: added_tokens[%d]: needs a numeric \"id\" and a string \"content\"", path, ai);
            goto done;
        }
        /* Range and integrality first: converting an out-of-range double
         * (1e300) to int is undefined behaviour (found by fuzz_vocab). */
        int64_t v;
        if (vkb_json_int(id, 0, n - 1, &v)) v = -1;
        if (v < 0 || strcmp(t->tok[v], content->valuestring) != 0) {
            vkb_fail(err, "%s: added_tokens[%d] (\"%s\", id %g) does not match model.vocab", path, ai,
                     content->valuestring, id->valuedouble);
            goto done;
        }
        /* Only BERT's kind is supported: matched verbatim in the raw text. */
        static const char *const flags[4] = {"normalized", "lstrip", "rstrip", "single_word"};
        for (int f = 0; f < 4; f++) {
            int b = json_bool(a, flags[f], path, err);
            if (b == -2) goto done;
            if (b == 1) {
                vkb_fail(err, "%s: added_tokens[%d] (\"%s\"): %s=true is not supported", path, ai,
                         content->valuestring, flags[f]);
                goto done;
            }
        }
        if (t->len[v] == 0) {
            vkb_fail(err, "%s: added_tokens[%d]: empty content", path, ai);
            goto done;
        }
        if (add_added(t, path, v, err)) goto done;
    }
    if (tok_finish(t, path, s, 1, err)) goto done;
    *out = t;
    t = NULL;
    rc = 0;
done:
    tok_alloc_free(t);
    cJSON_Delete(j);
    return rc;
}

int vkb_tokenizer_from_vocab(const char *vocab, size_t len, int do_lower_case,
                             int model_max_length, vkb_tokenizer **out, vkb_error *err) {
    *out = NULL;
    vkb_tokenizer *t;
    if (parse_vocab_txt("vocab (memory)", vocab, len, &t, err)) return -1;
    tok_settings s = {do_lower_case ? 1 : 0, -1, model_max_length >= 2 ? model_max_length : 0, {0}};
    if (tok_finish(t, "vocab (memory)", &s, 0, err)) { tok_alloc_free(t); return -1; }
    *out = t;
    return 0;
}

int vkb_tokenizer_load(const char *dir, vkb_tokenizer **out, vkb_error *err) {
    *out = NULL;
    size_t dl = strlen(dir);
    char *path = malloc(dl + 32);
    if (!path) return vkb_failc(err, VKB_ERR_HOST_OOM, "%s: out of memory", dir);
    tok_settings s = {-1, -1, 0, {0}};
    vkb_tokenizer *t = NULL;
    int rc = -1, missing;

    snprintf(path, dl + 32, "%s/tokenizer_config.json", dir);
    if (read_config(path, &s, err)) goto done;

    snprintf(path, dl + 32, "%s/vocab.txt", dir);
    size_t len;
    const char *why;
    char *buf = read_file(path, &len, &missing, &why);
    if (buf) {
        int r = parse_vocab_txt(path, buf, len, &t, err);
        free(buf);
        if (r) goto done;
        if (tok_finish(t, path, &s, 0, err)) goto done;
    } else if (!missing) {
        vkb_fail(err, "%s: cannot read: %s", path, why);
        goto done;
    } else {
        snprintf(path, dl + 32, "%s/tokenizer.json", dir);
        struct stat st;
        if (stat(path, &st) != 0) {
            vkb_fail(err, "%s: no vocab.txt or tokenizer.json", dir);
            goto done;
        }
        if (parse_tokenizer_json(path, &s, &t, err)) goto done;
    }
    *out = t;
    t = NULL;
    rc = 0;
done:
    tok_alloc_free(t);
    settings_free(&s);
    free(path);
    return rc;
}

int32_t vkb_token_id(const vkb_tokenizer *t, const char *token) {
    size_t n = strlen(token);
    if (n == 0) return -1;
    return vkb_vocab_find(t, vkb_fnv(t->seed, token, n), token, (uint32_t)n);
}
