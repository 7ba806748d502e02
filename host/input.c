/* input.c - batch-scoring input readers (see input.h).
 *
 * Reading goes through read(2) into our own buffer rather than stdio so that
 * NUL bytes, 10 MB lines and EINTR (SIGINT while blocked on a pipe) are all
 * handled explicitly. */
#define _GNU_SOURCE
#include "input.h"
#include "error.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small growable byte buffer ------------------------------------------ */
typedef struct { char *p; size_t n, cap; } sbuf;

static int sb_reserve(sbuf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}
static int sb_put(sbuf *b, const char *s, size_t n) {
    if (sb_reserve(b, n)) return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}
static int sb_putc(sbuf *b, char c) { return sb_put(b, &c, 1); }

/* ---- UTF-8 and JSON helpers ------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid;
 * *bad gets the length of the maximal invalid subpart (>= 1). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad) {
    unsigned c = s[0];
    *bad = 1;
    if (c < 0x80) return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) need = 2;
    else if (c == 0xF0) { need = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }
    else return 0;
    for (size_t i = 1; i <= need; i++) {
        if (i >= n) return 0;
        unsigned d = s[i];
        if (d < lo || d > hi) return 0;
        lo = 0x80; hi = 0xBF;
        *bad = i + 1;
    }
    return need + 1;
}

char *vkb_utf8_sanitize(const char *s, size_t n, size_t *out_len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, extra = 0;
    while (i < n) { /* count first: most inputs are valid and copied as is */
        size_t bad, k = utf8_seq(u + i, n - i, &bad);
        if (k) i += k; else { extra += 3; i += bad; }
    }
    char *o = malloc(n + extra + 1);
    if (!o) return NULL;
    size_t j = 0;
    i = 0;
    while (i < n) {
        size_t bad, k = utf8_seq(u + i, n - i, &bad);
        if (k) { memcpy(o + j, s + i, k); j += k; i += k; }
        else { memcpy(o + j, "\xEF\xBF\xBD", 3); j += 3; i += bad; }
    }
    o[j] = 0;
    *out_len = j;
    return o;
}

int vkb_json_quote(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    sbuf b = {*buf, *len, *cap};
    int rc = sb_putc(&b, '"');
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': rc = sb_put(&b, "\\\"", 2); break;
        case '\\': rc = sb_put(&b, "\\\\", 2); break;
        case '\n': rc = sb_put(&b, "\\n", 2); break;
        case '\r': rc = sb_put(&b, "\\r", 2); break;
        case '\t': rc = sb_put(&b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                rc = sb_put(&b, esc, 6);
            } else {
                rc = sb_putc(&b, (char)c);
            }
        }
    }
    if (rc == 0) rc = sb_putc(&b, '"');
    *buf = b.p; *len = b.n; *cap = b.cap;
    return rc;
}

static const char *const reserved[] = {"label", "score", "scores", "logits", "top_k", "error", NULL};

static int is_reserved(const char *k) {
    for (int i = 0; reserved[i]; i++) if (strcmp(k, reserved[i]) == 0) return 1;
    return 0;
}

/* Appends ,"name":value (JSON) to extra, renaming reserved names. */
static int extra_add(sbuf *x, const char *name, const char *json_value) {
    if (x->n && sb_putc(x, ',')) return -1;
    char *q = NULL;
    size_t ql = 0, qc = 0;
    char *nm = NULL;
    if (is_reserved(name)) {
        nm = malloc(strlen(name) + 7);
        if (!nm) return -1;
        strcpy(nm, "input_");
        strcat(nm, name);
    }
    const char *use = nm ? nm : name;
    int rc = vkb_json_quote(&q, &ql, &qc, use, strlen(use));
    if (rc == 0) rc = sb_put(x, q, ql);
    if (rc == 0) rc = sb_putc(x, ':');
    if (rc == 0) rc = sb_put(x, json_value, strlen(json_value));
    free(q);
    free(nm);
    return rc;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static char *xprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    if (vasprintf(&p, fmt, ap) < 0) p = NULL;
    va_end(ap);
    return p;
}

/* ---- buffered reader on a file descriptor --------------------------------- */
typedef struct {
    int fd;
    char *buf;
    size_t pos, end, cap;
    int eof;
    long line;        /* lines fully consumed so far */
    double consumed;  /* bytes consumed */
} rd;

/* Fills the buffer; 1 data, 0 EOF, -1 error, -2 interrupted. */
static int rd_fill(rd *r, const volatile int *intr, vkb_error *err, const char *name) {
    if (r->pos < r->end) return 1;
    if (r->eof) return 0;
    for (;;) {
        if (intr && *intr) return -2;
        ssize_t k = read(r->fd, r->buf, r->cap);
        if (k > 0) { r->pos = 0; r->end = (size_t)k; return 1; }
        if (k == 0) { r->eof = 1; return 0; }
        if (errno == EINTR) continue; /* the loop re-checks *intr */
        vkb_fail(err, "%s: read error: %s", name, strerror(errno));
        return -1;
    }
}

/* ---- the reader ----------------------------------------------------------- */
typedef struct {
    char *path;      /* "-" for stdin */
    int is_dir;
} src;

struct vkb_input {
    vkb_input_opts o;
    const char *text_col, *label_col;
    src *srcs;
    int n_srcs, cur;
    int open;            /* srcs[cur] is open */
    vkb_in_format fmt;   /* of the open source */
    rd r;
    double total, done_before; /* progress units */
    /* CSV state */
    char **hdr;
    int n_hdr, text_idx, label_idx;
    /* directory state */
    char **files;        /* "neg/1_2.txt" ... */
    int n_files, file_i;
};

static void free_hdr(vkb_input *in) {
    for (int i = 0; i < in->n_hdr; i++) free(in->hdr[i]);
    free(in->hdr);
    in->hdr = NULL;
    in->n_hdr = 0;
}
static void free_files(vkb_input *in) {
    for (int i = 0; i < in->n_files; i++) free(in->files[i]);
    free(in->files);
    in->files = NULL;
    in->n_files = in->file_i = 0;
}

static int cmp_ver(const void *a, const void *b) {
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Lists DIR/neg and DIR/pos (IMDB layout), each in natural order. */
static int list_dir(vkb_input *in, const char *dir, vkb_error *err) {
    static const char *const sub[] = {"neg", "pos"};
    int found = 0;
    for (int s = 0; s < 2; s++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, sub[s]);
        DIR *d = opendir(p);
        if (!d) continue;
        found++;
        int first = in->n_files;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char fp[8192];
            snprintf(fp, sizeof fp, "%s/%s", p, e->d_name);
            struct stat st;
            if (stat(fp, &st) || !S_ISREG(st.st_mode)) continue;
            char **f = realloc(in->files, sizeof(char *) * (size_t)(in->n_files + 1));
            if (!f) { closedir(d); return vkb_fail(err, "out of memory listing %s", p); }
            in->files = f;
            in->files[in->n_files] = xprintf("%s/%s", sub[s], e->d_name);
            if (!in->files[in->n_files]) { closedir(d); return vkb_fail(err, "out of memory"); }
            in->n_files++;
        }
        closedir(d);
        qsort(in->files + first, (size_t)(in->n_files - first), sizeof(char *), cmp_ver);
    }
    if (!found)
        return vkb_fail(err, "%s: a directory input needs pos/ and/or neg/ subdirectories "
                        "of text files (IMDB layout)", dir);
    return 0;
}

static vkb_in_format by_extension(const char *p) {
    const char *dot = strrchr(p, '.');
    if (!dot || strchr(dot, '/')) return VKB_FMT_AUTO;
    if (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson") || !strcasecmp(dot, ".json"))
        return VKB_FMT_JSONL;
    if (!strcasecmp(dot, ".csv")) return VKB_FMT_CSV;
    if (!strcasecmp(dot, ".tsv") || !strcasecmp(dot, ".tab")) return VKB_FMT_TSV;
    if (!strcasecmp(dot, ".txt") || !strcasecmp(dot, ".text")) return VKB_FMT_TEXT;
    return VKB_FMT_AUTO;
}

int vkb_input_open(const char *const *paths, int n, const vkb_input_opts *opts,
                   vkb_input **out, vkb_error *err) {
    *out = NULL;
    vkb_input *in = calloc(1, sizeof *in);
    if (!in) return vkb_fail(err, "out of memory");
    if (opts) in->o = *opts;
    if (!in->o.max_record) in->o.max_record = (size_t)64 << 20;
    in->text_col = in->o.text_column ? in->o.text_column : "text";
    in->label_col = in->o.label_column ? in->o.label_column : "label";
    in->r.fd = -1;
    int ns = n > 0 ? n : 1;
    in->srcs = calloc((size_t)ns, sizeof(src));
    in->r.cap = 1 << 16;
    in->r.buf = malloc(in->r.cap);
    if (!in->srcs || !in->r.buf) { vkb_input_close(in); return vkb_fail(err, "out of memory"); }
    for (int i = 0; i < ns; i++) {
        const char *p = n > 0 ? paths[i] : "-";
        in->srcs[i].path = xstrdup(p);
        in->n_srcs++;
        if (!in->srcs[i].path) { vkb_input_close(in); return vkb_fail(err, "out of memory"); }
        struct stat st;
        if (strcmp(p, "-") == 0) {
            if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)) in->total += (double)st.st_size;
            continue;
        }
        if (stat(p, &st)) {
            vkb_fail(err, "%s: %s", p, strerror(errno));
            vkb_input_close(in);
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            in->srcs[i].is_dir = 1;
            /* count the files now so that progress has a total */
            int before = in->n_files;
            if (list_dir(in, p, err)) { vkb_input_close(in); return -1; }
            in->total += in->n_files - before;
        } else {
            in->total += (double)st.st_size;
        }
    }
    free_files(in); /* listed again when the directory is reached */
    *out = in;
    return 0;
}

double vkb_input_total(const vkb_input *in) { return in->total; }

static void close_src(vkb_input *in) {
    if (in->r.fd > 0) close(in->r.fd);
    in->r.fd = -1;
    in->open = 0;
    free_hdr(in);
    free_files(in);
}

void vkb_input_close(vkb_input *in) {
    if (!in) return;
    close_src(in);
    for (int i = 0; i < in->n_srcs; i++) free(in->srcs[i].path);
    free(in->srcs);
    free(in->r.buf);
    free(in);
}

void vkb_record_clear(vkb_record *r) {
    free(r->text);
    free(r->extra);
    free(r->label);
    free(r->error);
    free(r->id_json);
    memset(r, 0, sizeof *r);
}

/* Reads one line (without \n, and without a final \r) into b.  Lines longer
 * than max are consumed but only their first max bytes kept (*too_long set).
 * 1: a line; 0: EOF; -1 error; -2 interrupted. */
static int read_line(vkb_input *in, sbuf *b, int *too_long, vkb_error *err) {
    rd *r = &in->r;
    b->n = 0;
    *too_long = 0;
    int any = 0;
    for (;;) {
        int f = rd_fill(r, in->o.interrupt, err, in->srcs[in->cur].path);
        if (f < 0) return f;
        if (f == 0) break;
        char *s = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        any = 1;
        size_t keep = take;
        if (b->n + keep > in->o.max_record) {
            keep = b->n < in->o.max_record ? in->o.max_record - b->n : 0;
            *too_long = 1;
        }
        if (keep && sb_put(b, s, keep)) return vkb_fail(err, "out of memory reading a line");
        r->pos += take + (nl ? 1 : 0);
        r->consumed += (double)(take + (nl ? 1 : 0));
        if (nl) break;
    }
    if (!any) return 0;
    r->line++;
    if (b->n && b->p[b->n - 1] == '\r') b->p[--b->n] = 0;
    if (!b->p) sb_reserve(b, 0), b->p[0] = 0;
    return 1;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

static void set_text(vkb_record *rec, const char *s, size_t n) {
    rec->text = vkb_utf8_sanitize(s, n, &rec->text_len);
}

/* One JSON line -> record. */
static void parse_json_line(vkb_input *in, const char *s, size_t n, vkb_record *rec) {
    if (memchr(s, 0, n)) { rec->error = xstrdup("NUL byte in a JSON line"); return; }
    size_t cl;
    char *clean = vkb_utf8_sanitize(s, n, &cl);
    if (!clean) { rec->error = xstrdup("out of memory"); return; }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(clean, cl + 1, &end, 0);
    if (!j) {
        long off = end ? (long)(end - clean) : -1;
        rec->error = off >= 0 ? xprintf("invalid JSON at byte %ld", off + 1)
                              : xstrdup("invalid JSON");
        free(clean);
        return;
    }
    while (end && *end && strchr(" \t\r\f\v", *end)) end++;
    if (end && *end) {
        rec->error = xprintf("invalid JSON: trailing characters at byte %ld", (long)(end - clean) + 1);
        cJSON_Delete(j);
        free(clean);
        return;
    }
    free(clean);
    if (!cJSON_IsObject(j)) {
        rec->error = xstrdup("not a JSON object");
        cJSON_Delete(j);
        return;
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (id) rec->id_json = cJSON_PrintUnformatted(id);
    cJSON *lab = cJSON_GetObjectItemCaseSensitive(j, in->label_col);
    if (cJSON_IsString(lab)) rec->label = xstrdup(lab->valuestring);
    else if (cJSON_IsNumber(lab) && lab->valuedouble == (double)(long)lab->valuedouble)
        rec->label = xprintf("%ld", (long)lab->valuedouble);
    else if (cJSON_IsBool(lab)) rec->label = xstrdup(cJSON_IsTrue(lab) ? "1" : "0");
    cJSON *t = cJSON_GetObjectItemCaseSensitive(j, in->text_col);
    if (!t) rec->error = xprintf("missing \"%s\" field", in->text_col);
    else if (!cJSON_IsString(t)) rec->error = xprintf("\"%s\" is not a string", in->text_col);
    else set_text(rec, t->valuestring, strlen(t->valuestring));
    sbuf x = {0};
    for (cJSON *c = j->child; c; c = c->next) {
        if (c == t || !c->string) continue;
        char *v = cJSON_PrintUnformatted(c);
        int rc = v ? extra_add(&x, c->string, v) : -1;
        free(v);
        if (rc) break;
    }
    rec->extra = x.p;
    cJSON_Delete(j);
}

/* ---- CSV / TSV -------------------------------------------------------------- */
typedef struct { sbuf *f; int n, cap; } fields;

static void fields_free(fields *fs) {
    for (int i = 0; i < fs->cap; i++) free(fs->f[i].p);
    free(fs->f);
}

/* Reads one record (RFC 4180; a quote opens a quoted field only at the start
 * of a field, as Python's csv does, so stray quotes inside TSV text are
 * literal).  1: record; 0: EOF; -1 error; -2 interrupted; *unterminated set
 * when EOF came inside quotes. */
static int read_csv_record(vkb_input *in, char delim, fields *fs, int *unterminated,
                           int *too_long, long *start_line, vkb_error *err) {
    rd *r = &in->r;
    fs->n = 0;
    *unterminated = 0;
    *too_long = 0;
    int inq = 0, at_start = 1, any = 0, was_quoted = 0;
    size_t total = 0;
    *start_line = r->line + 1;
#define CUR (&fs->f[fs->n - 1])
    for (;;) {
        int f = rd_fill(r, in->o.interrupt, err, in->srcs[in->cur].path);
        if (f < 0) return f;
        if (f == 0) {
            if (!any) return 0;
            if (inq) *unterminated = 1;
            r->line++;
            break;
        }
        char c = r->buf[r->pos++];
        r->consumed += 1;
        if (!any) {
            any = 1;
            if (fs->cap < 1) {
                fs->f = calloc(8, sizeof(sbuf));
                if (!fs->f) return vkb_fail(err, "out of memory");
                fs->cap = 8;
            }
            fs->n = 1;
            CUR->n = 0;
            if (CUR->p) CUR->p[0] = 0;
        }
        if (inq) {
            if (c == '"') {
                /* "" is an escaped quote; a single quote closes the field */
                int g = rd_fill(r, in->o.interrupt, err, in->srcs[in->cur].path);
                if (g < 0) return g;
                if (g > 0 && r->buf[r->pos] == '"') {
                    r->pos++;
                    r->consumed += 1;
                } else {
                    inq = 0;
                    continue;
                }
            } else if (c == '\n') {
                r->line++;
            }
        } else {
            if (c == '\n') { r->line++; break; }
            if (c == '\r') {
                int g = rd_fill(r, in->o.interrupt, err, in->srcs[in->cur].path);
                if (g < 0) return g;
                if (g == 0 || r->buf[r->pos] == '\n') continue; /* CRLF */
            }
            if (c == '"' && at_start) { inq = 1; at_start = 0; was_quoted = 1; continue; }
            if (c == delim) {
                if (fs->n == fs->cap) {
                    sbuf *nf = realloc(fs->f, sizeof(sbuf) * (size_t)fs->cap * 2);
                    if (!nf) return vkb_fail(err, "out of memory");
                    memset(nf + fs->cap, 0, sizeof(sbuf) * (size_t)fs->cap);
                    fs->f = nf;
                    fs->cap *= 2;
                }
                fs->n++;
                CUR->n = 0;
                if (CUR->p) CUR->p[0] = 0;
                at_start = 1;
                continue;
            }
        }
        at_start = 0;
        if (++total > in->o.max_record) { *too_long = 1; continue; }
        if (sb_putc(CUR, c)) return vkb_fail(err, "out of memory");
    }
    (void)was_quoted;
    for (int i = 0; i < fs->n; i++)
        if (!fs->f[i].p) { sb_reserve(&fs->f[i], 0); fs->f[i].p[0] = 0; }
#undef CUR
    return 1;
}

static int csv_blank(const fields *fs) {
    return fs->n == 1 && blank(fs->f[0].p, fs->f[0].n);
}

/* ---- sources ---------------------------------------------------------------- */

static int open_src(vkb_input *in, vkb_error *err) {
    src *s = &in->srcs[in->cur];
    in->r.pos = in->r.end = 0;
    in->r.eof = 0;
    in->r.line = 0;
    in->r.consumed = 0;
    in->fmt = in->o.format;
    if (s->is_dir) {
        if (in->fmt != VKB_FMT_AUTO && in->fmt != VKB_FMT_DIR)
            return vkb_fail(err, "%s is a directory (only the IMDB layout is read from directories)",
                            s->path);
        in->fmt = VKB_FMT_DIR;
        if (list_dir(in, s->path, err)) return -1;
        in->open = 1;
        return 0;
    }
    if (strcmp(s->path, "-") == 0) {
        in->r.fd = dup(0);
    } else {
        in->r.fd = open(s->path, O_RDONLY | O_CLOEXEC);
    }
    if (in->r.fd < 0) return vkb_fail(err, "%s: %s", s->path, strerror(errno));
    in->open = 1;
    if (in->fmt == VKB_FMT_AUTO) in->fmt = by_extension(s->path);
    if (in->fmt == VKB_FMT_AUTO) {
        /* sniff the first non-blank byte: '{' means JSON lines */
        int f = rd_fill(&in->r, in->o.interrupt, err, s->path);
        if (f < 0) return f;
        in->fmt = VKB_FMT_TEXT;
        for (size_t i = in->r.pos; i < in->r.end; i++) {
            char c = in->r.buf[i];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
            if (c == '{') in->fmt = VKB_FMT_JSONL;
            break;
        }
    }
    if (in->fmt == VKB_FMT_CSV || in->fmt == VKB_FMT_TSV) {
        char delim = in->fmt == VKB_FMT_CSV ? ',' : '\t';
        fields fs = {0};
        int unterm, tl;
        long sl;
        int rc;
        do rc = read_csv_record(in, delim, &fs, &unterm, &tl, &sl, err);
        while (rc == 1 && csv_blank(&fs));
        if (rc < 0) { fields_free(&fs); return rc; }
        if (rc == 0) { fields_free(&fs); in->n_hdr = 0; in->text_idx = -1; return 0; }
        in->hdr = calloc((size_t)fs.n, sizeof(char *));
        if (!in->hdr) { fields_free(&fs); return vkb_fail(err, "out of memory"); }
        in->n_hdr = fs.n;
        in->text_idx = in->label_idx = -1;
        for (int i = 0; i < fs.n; i++) {
            size_t l;
            in->hdr[i] = vkb_utf8_sanitize(fs.f[i].p, fs.f[i].n, &l);
            if (!in->hdr[i]) { fields_free(&fs); return vkb_fail(err, "out of memory"); }
            /* a UTF-8 byte order mark in front of the first column name */
            if (i == 0 && l >= 3 && memcmp(in->hdr[0], "\xEF\xBB\xBF", 3) == 0)
                memmove(in->hdr[0], in->hdr[0] + 3, l - 2);
            if (in->text_idx < 0 && strcmp(in->hdr[i], in->text_col) == 0) in->text_idx = i;
            if (in->label_idx < 0 && strcmp(in->hdr[i], in->label_col) == 0) in->label_idx = i;
        }
        fields_free(&fs);
        if (in->text_idx < 0) {
            sbuf cols = {0};
            for (int i = 0; i < in->n_hdr; i++) {
                if (i) sb_put(&cols, ", ", 2);
                sb_put(&cols, in->hdr[i], strlen(in->hdr[i]));
            }
            vkb_fail(err, "%s: no column named '%s' in the header (columns: %s); "
                     "use --text-column", s->path, in->text_col, cols.p ? cols.p : "");
            free(cols.p);
            return -1;
        }
    }
    return 0;
}

static int next_dir(vkb_input *in, vkb_record *rec, vkb_error *err) {
    src *s = &in->srcs[in->cur];
    if (in->file_i >= in->n_files) return 0;
    const char *rel = in->files[in->file_i++];
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", s->path, rel);
    rec->line = in->file_i;
    rec->source = s->path;
    in->r.consumed += 1;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    sbuf b = {0};
    if (fd < 0) {
        rec->error = xprintf("%s: %s", rel, strerror(errno));
    } else {
        char tmp[65536];
        ssize_t k;
        int too_long = 0;
        while ((k = read(fd, tmp, sizeof tmp)) != 0) {
            if (k < 0) {
                if (errno == EINTR) {
                    if (in->o.interrupt && *in->o.interrupt) { close(fd); free(b.p); return -2; }
                    continue;
                }
                rec->error = xprintf("%s: %s", rel, strerror(errno));
                break;
            }
            if (b.n + (size_t)k > in->o.max_record) { too_long = 1; break; }
            if (sb_put(&b, tmp, (size_t)k)) { close(fd); free(b.p); return vkb_fail(err, "out of memory"); }
        }
        close(fd);
        if (too_long && !rec->error)
            rec->error = xprintf("%s: longer than %zu bytes", rel, in->o.max_record);
        if (!rec->error) {
            /* one review per file: trailing newlines are not part of it */
            while (b.n && (b.p[b.n - 1] == '\n' || b.p[b.n - 1] == '\r')) b.n--;
            set_text(rec, b.p ? b.p : "", b.n);
        }
    }
    free(b.p);
    sbuf x = {0};
    char *q = NULL;
    size_t ql = 0, qc = 0;
    vkb_json_quote(&q, &ql, &qc, rel, strlen(rel));
    extra_add(&x, "file", q ? q : "\"\"");
    const char *slash = strchr(rel, '/');
    size_t ll = slash ? (size_t)(slash - rel) : strlen(rel);
    rec->label = malloc(ll + 1);
    if (rec->label) { memcpy(rec->label, rel, ll); rec->label[ll] = 0; }
    char lq[64];
    snprintf(lq, sizeof lq, "\"%s\"", rec->label ? rec->label : "");
    extra_add(&x, "label", lq);
    rec->extra = x.p;
    rec->id_json = q;
    return 1;
}

static int next_in_src(vkb_input *in, vkb_record *rec, vkb_error *err) {
    src *s = &in->srcs[in->cur];
    if (in->fmt == VKB_FMT_DIR) return next_dir(in, rec, err);
    if (in->fmt == VKB_FMT_CSV || in->fmt == VKB_FMT_TSV) {
        if (in->n_hdr == 0) return 0; /* empty file */
        char delim = in->fmt == VKB_FMT_CSV ? ',' : '\t';
        fields fs = {0};
        int unterm, tl, rc;
        long sl;
        do rc = read_csv_record(in, delim, &fs, &unterm, &tl, &sl, err);
        while (rc == 1 && csv_blank(&fs));
        if (rc != 1) { fields_free(&fs); return rc; }
        rec->line = sl;
        rec->source = s->path;
        if (unterm) rec->error = xprintf("unterminated quoted field (record starts at line %ld)", sl);
        else if (tl) rec->error = xprintf("record longer than %zu bytes", in->o.max_record);
        else if (fs.n != in->n_hdr)
            rec->error = xprintf("row has %d fields, the header has %d", fs.n, in->n_hdr);
        sbuf x = {0};
        for (int i = 0; i < fs.n && i < in->n_hdr; i++) {
            size_t l;
            char *v = vkb_utf8_sanitize(fs.f[i].p, fs.f[i].n, &l);
            if (!v) continue;
            if (i == in->text_idx) {
                if (!rec->error) { rec->text = v; rec->text_len = l; v = NULL; }
            } else {
                if (i == in->label_idx) rec->label = xstrdup(v);
                char *q = NULL;
                size_t ql = 0, qc = 0;
                if (vkb_json_quote(&q, &ql, &qc, v, l) == 0) {
                    extra_add(&x, in->hdr[i], q);
                    if (strcmp(in->hdr[i], "id") == 0 && !rec->id_json) rec->id_json = xstrdup(q);
                }
                free(q);
            }
            free(v);
        }
        rec->extra = x.p;
        fields_free(&fs);
        return 1;
    }
    sbuf b = {0};
    for (;;) {
        int tl;
        int rc = read_line(in, &b, &tl, err);
        if (rc != 1) { free(b.p); return rc; }
        if (blank(b.p, b.n)) continue; /* empty lines are skipped */
        rec->line = in->r.line;
        rec->source = s->path;
        if (tl) rec->error = xprintf("line longer than %zu bytes", in->o.max_record);
        else if (in->fmt == VKB_FMT_JSONL) parse_json_line(in, b.p, b.n, rec);
        else set_text(rec, b.p, b.n);
        free(b.p);
        if (!rec->error && !rec->text) rec->error = xstrdup("out of memory");
        return 1;
    }
}

int vkb_input_next(vkb_input *in, vkb_record *rec, vkb_error *err) {
    memset(rec, 0, sizeof *rec);
    while (in->cur < in->n_srcs) {
        if (!in->open) {
            int rc = open_src(in, err);
            if (rc) return rc;
        }
        int rc = next_in_src(in, rec, err);
        if (rc == 1) {
            rec->progress = in->done_before + in->r.consumed;
            return 1;
        }
        if (rc < 0) { vkb_record_clear(rec); return rc; }
        in->done_before += in->r.consumed;
        close_src(in);
        in->cur++;
    }
    return 0;
}

/* ---- one JSON line for front ends that read lines themselves ------------- */
/* (vkbert.h: the Python binding's Dask recipe parses records with this, so
 * that its output lines are the same bytes as `vkbert score`'s) */
int vkb_record_parse_json(const char *line, size_t n, const char *text_column, char **text,
                          size_t *text_len, char **extra, char **id_json, char **error) {
    *text = *extra = *id_json = *error = NULL;
    *text_len = 0;
    if (n && line[n - 1] == '\n') n--;
    if (n && line[n - 1] == '\r') n--;
    if (blank(line, n)) return 1; /* not a record: skipped, as by the reader */
    vkb_input in;
    memset(&in, 0, sizeof in);
    in.text_col = text_column ? text_column : "text";
    in.label_col = "label";
    vkb_record r;
    memset(&r, 0, sizeof r);
    size_t max = (size_t)64 << 20;
    if (n > max) r.error = xprintf("line longer than %zu bytes", max);
    else parse_json_line(&in, line, n, &r);
    if (!r.error && !r.text) r.error = xstrdup("out of memory");
    *text = r.text; *text_len = r.text_len;
    *extra = r.extra; *id_json = r.id_json; *error = r.error;
    free(r.label);
    return *error || *text ? 0 : -1;
}
