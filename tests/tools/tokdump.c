/* tokdump - prints the token ids of each stdin line as one JSON array.
 *
 *   tokdump (--vocab FILE [--cased] | --model DIR) [--max-len N] < lines
 *
 * A line whose first non-blank byte is '{' is a JSON object whose "text"
 * string is encoded; any other line is encoded as plain text.  The "text"
 * string is decoded here with its length, because cJSON's NUL-terminated
 * strings would cut a text at an escaped \u0000.  Used by the comparison with
 * HF's tokenizers in tests/tokenizer/compare.mjs; `vkbert tokenize` does the
 * same job for users. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "vkbert.h"

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static int put(buf *b, const char *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static int put_cp(buf *b, uint32_t c) {
    char u[4];
    size_t n;
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD; /* lone surrogate */
    if (c < 0x80) { u[0] = (char)c; n = 1; }
    else if (c < 0x800) { u[0] = (char)(0xC0 | c >> 6); u[1] = (char)(0x80 | (c & 63)); n = 2; }
    else if (c < 0x10000) {
        u[0] = (char)(0xE0 | c >> 12); u[1] = (char)(0x80 | ((c >> 6) & 63));
        u[2] = (char)(0x80 | (c & 63)); n = 3;
    } else {
        u[0] = (char)(0xF0 | c >> 18); u[1] = (char)(0x80 | ((c >> 12) & 63));
        u[2] = (char)(0x80 | ((c >> 6) & 63)); u[3] = (char)(0x80 | (c & 63)); n = 4;
    }
    return put(b, u, n);
}

static const char *ws(const char *s, const char *e) {
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++;
    return s;
}

static int hex4(const char *s, const char *e, uint32_t *v) {
    if (e - s < 4) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* Parses a JSON string at *sp (at the opening quote) into out (when non-NULL). */
static int jstring(const char **sp, const char *e, buf *out) {
    const char *s = *sp;
    if (s >= e || *s != '"') return -1;
    s++;
    while (s < e && *s != '"') {
        if ((unsigned char)*s < 0x20) return -1;
        if (*s != '\\') {
            const char *r = s;
            while (s < e && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20) s++;
            if (out && put(out, r, (size_t)(s - r))) return -1;
            continue;
        }
        if (++s >= e) return -1;
        char c = *s++, m = 0;
        uint32_t v;
        switch (c) {
        case '"': m = '"'; break;
        case '\\': m = '\\'; break;
        case '/': m = '/'; break;
        case 'b': m = '\b'; break;
        case 'f': m = '\f'; break;
        case 'n': m = '\n'; break;
        case 'r': m = '\r'; break;
        case 't': m = '\t'; break;
        case 'u':
            if (hex4(s, e, &v)) return -1;
            s += 4;
            if (v >= 0xD800 && v <= 0xDBFF && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                uint32_t lo;
                if (!hex4(s + 2, e, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
            }
            if (out && put_cp(out, v)) return -1;
            continue;
        default: return -1;
        }
        if (out && put(out, &m, 1)) return -1;
    }
    if (s >= e) return -1;
    *sp = s + 1;
    return 0;
}

/* Skips any JSON value. */
static int jskip(const char **sp, const char *e, int depth) {
    const char *s = ws(*sp, e);
    if (s >= e || depth > 64) return -1;
    if (*s == '"') { if (jstring(&s, e, NULL)) return -1; }
    else if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        s = ws(s + 1, e);
        if (s < e && *s == close) { *sp = s + 1; return 0; }
        for (;;) {
            if (close == '}') {
                s = ws(s, e);
                if (jstring(&s, e, NULL)) return -1;
                s = ws(s, e);
                if (s >= e || *s++ != ':') return -1;
            }
            if (jskip(&s, e, depth + 1)) return -1;
            s = ws(s, e);
            if (s < e && *s == ',') { s++; continue; }
            if (s < e && *s == close) { s++; break; }
            return -1;
        }
    } else {
        const char *r = s;
        while (s < e && (*s == '-' || *s == '+' || *s == '.' || (*s >= '0' && *s <= '9') ||
                         (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            s++;
        if (s == r) return -1;
    }
    *sp = s;
    return 0;
}

/* Extracts the "text" string of a JSON object line.  1 = found, 0 = no text
 * field, -1 = malformed. */
static int json_text(const char *s, const char *e, buf *out) {
    s = ws(s, e);
    if (s >= e || *s++ != '{') return -1;
    s = ws(s, e);
    int found = 0;
    if (s < e && *s == '}') return ws(s + 1, e) == e ? 0 : -1;
    for (;;) {
        buf key = {0};
        s = ws(s, e);
        if (jstring(&s, e, &key)) { free(key.p); return -1; }
        int is_text = key.n == 4 && memcmp(key.p, "text", 4) == 0;
        free(key.p);
        s = ws(s, e);
        if (s >= e || *s++ != ':') return -1;
        s = ws(s, e);
        if (is_text && s < e && *s == '"') {
            out->n = 0;
            if (jstring(&s, e, out)) return -1;
            found = 1;
        } else if (jskip(&s, e, 0)) {
            return -1;
        }
        s = ws(s, e);
        if (s < e && *s == ',') { s++; continue; }
        if (s < e && *s == '}') { s++; break; }
        return -1;
    }
    return ws(s, e) == e ? found : -1;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf b = {0};
    char tmp[65536];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (put(&b, tmp, r)) { fclose(f); free(b.p); return NULL; }
    fclose(f);
    *len = b.n;
    return b.p ? b.p : calloc(1, 1);
}

int main(int argc, char **argv) {
    const char *vocab = NULL, *model = NULL;
    int max_len = 0, cased = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--max-len") && i + 1 < argc) max_len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cased")) cased = 1;
        else {
            fprintf(stderr, "usage: tokdump (--vocab FILE [--cased] | --model DIR) [--max-len N]\n");
            return 2;
        }
    }
    if (!vocab == !model) {
        fprintf(stderr, "tokdump: give exactly one of --vocab FILE or --model DIR\n");
        return 2;
    }
    vkb_error err = {0};
    vkb_tokenizer *tok = NULL;
    if (vocab) {
        size_t n;
        char *v = slurp(vocab, &n);
        if (!v) { fprintf(stderr, "tokdump: cannot read %s\n", vocab); return 1; }
        int rc = vkb_tokenizer_from_vocab(v, n, !cased, 512, &tok, &err);
        free(v);
        if (rc) { fprintf(stderr, "tokdump: %s: %s\n", vocab, err.msg); return 1; }
    } else if (vkb_tokenizer_load(model, &tok, &err)) {
        fprintf(stderr, "tokdump: %s\n", err.msg);
        return 1;
    }
    if (max_len <= 0) max_len = vkb_tokenizer_max_len(tok);
    if (max_len < 2) { fprintf(stderr, "tokdump: --max-len must be at least 2\n"); return 2; }
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    buf text = {0}, out = {0};
    int bad = 0;
    long lineno = 0;
    while (ids && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        const char *s = line, *e = line + len;
        const char *p = ws(s, e);
        const char *t = line;
        size_t tl = len;
        if (p < e && *p == '{') {
            int r = json_text(p, e, &text);
            if (r <= 0) {
                fprintf(stderr, "tokdump: line %ld: %s\n", lineno,
                        r < 0 ? "invalid JSON" : "no \"text\" string field");
                printf("null\n");
                bad = 1;
                continue;
            }
            t = text.p ? text.p : "";
            tl = text.n;
        }
        int k = vkb_tokenize(tok, t, tl, max_len, ids);
        out.n = 0;
        put(&out, "[", 1);
        for (int i = 0; i < k; i++) {
            char num[16];
            int m = snprintf(num, sizeof num, i ? ",%d" : "%d", (int)ids[i]);
            put(&out, num, (size_t)m);
        }
        put(&out, "]\n", 2);
        fwrite(out.p, 1, out.n, stdout);
    }
    free(line);
    free(text.p);
    free(out.p);
    free(ids);
    vkb_tokenizer_free(tok);
    return bad;
}
