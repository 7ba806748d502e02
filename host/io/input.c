/* input.c - batch-scoring input readers (see input.h).
 *
 * Reading goes through read(2) into our own buffer rather than stdio so that
 * NUL bytes, 10 MB lines and EINTR (SIGINT while blocked on a pipe) are all
 * handled explicitly. */
#define _GNU_SOURCE
#include "vkbert_io.h"
#include "strbuf.h"
#include "error.h"
#include <cjson/cJSON.h>
#include <zlib.h>
#include <zstd.h>
#include <math.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small growable byte buffer: strbuf.h ---------------------------------- */
typedef vkb_strbuf sbuf;

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
    sbuf b = {*buf, *len, *cap, 0};
    int rc = vkb_sb_putc(&b, '"');
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': rc = vkb_sb_put(&b, "\\\"", 2); break;
        case '\\': rc = vkb_sb_put(&b, "\\\\", 2); break;
        case '\n': rc = vkb_sb_put(&b, "\\n", 2); break;
        case '\r': rc = vkb_sb_put(&b, "\\r", 2); break;
        case '\t': rc = vkb_sb_put(&b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                rc = vkb_sb_put(&b, esc, 6);
            } else {
                rc = vkb_sb_putc(&b, (char)c);
            }
        }
    }
    if (rc == 0) rc = vkb_sb_putc(&b, '"');
    *buf = b.p; *len = b.n; *cap = b.cap;
    return rc;
}

static const char *const reserved[] = {"label", "score", "scores", "logits", "top_k", "error", "embedding", NULL};

static int is_reserved(const char *k) {
    for (int i = 0; reserved[i]; i++) if (strcmp(k, reserved[i]) == 0) return 1;
    return 0;
}

/* Appends ,"name":value (JSON) to extra, renaming reserved names. */
static int extra_add(sbuf *x, const char *name, const char *json_value) {
    if (x->n && vkb_sb_putc(x, ',')) return -1;
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
    if (rc == 0) rc = vkb_sb_put(x, q, ql);
    if (rc == 0) rc = vkb_sb_putc(x, ':');
    if (rc == 0) rc = vkb_sb_put(x, json_value, strlen(json_value));
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

/* Appends s[0..n) for an error message: control characters (C0, DEL, C1)
 * become \xNN so that input quoted in a message cannot drive a terminal;
 * at most max bytes of s, then "...". */
static void sb_put_printable(sbuf *b, const char *s, size_t n, size_t max) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        /* cut only between characters: never inside a UTF-8 sequence */
        if (i >= max && (u[i] & 0xC0) != 0x80) { vkb_sb_put(b, "...", 3); return; }
        char esc[8];
        if (u[i] < 0x20 || u[i] == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", u[i]);
            vkb_sb_put(b, esc, 4);
        } else if (u[i] == 0xC2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F) {
            snprintf(esc, sizeof esc, "\\x%02x", u[i + 1]);
            vkb_sb_put(b, esc, 4);
            i++;
        } else {
            vkb_sb_putc(b, s[i]);
        }
    }
}

/* A malloc'ed printable copy of s (see sb_put_printable); "" when out of memory. */
static char *printable(const char *s, size_t max) {
    sbuf b = {0};
    sb_put_printable(&b, s, strlen(s), max);
    if (!b.p) b.p = xstrdup("");
    return b.p;
}

/* ---- buffered reader on a file descriptor, optionally decompressing ------ */
enum { COMP_NONE, COMP_GZIP, COMP_ZSTD };

typedef struct {
    int fd;
    char *buf;        /* decoded bytes buf[pos..end) */
    size_t pos, end, cap;
    int eof;          /* no more decoded bytes */
    long line;        /* lines fully consumed so far */
    double consumed;  /* decoded bytes consumed */
    int skip_lf;      /* the last line ended at a lone \r: a \n next belongs to it */
    int comp;         /* COMP_* */
    unsigned char *raw;  /* compressed bytes raw[raw_pos..raw_end) */
    size_t raw_pos, raw_end, raw_cap;
    int raw_eof;
    double raw_used;  /* compressed bytes handed to the decoder */
    z_stream z;
    int z_init, in_member;
    ZSTD_DStream *zs;
    size_t zs_hint;   /* last ZSTD_decompressStream result: 0 = at a frame end */
} rd;

#define RD_MAX_BUF ((size_t)1 << 20) /* what format sniffing may buffer */

/* Progress units consumed: compressed bytes for a compressed source. */
static double rd_progress(const rd *r) { return r->comp ? r->raw_used : r->consumed; }

/* read(2) with EINTR and interrupt handling: >0 bytes, 0 EOF, -1 error, -2 interrupted. */
static ssize_t rd_read(rd *r, void *dst, size_t n, const volatile int *intr, vkb_error *err,
                       const char *name) {
    for (;;) {
        if (intr && *intr) return -2;
        ssize_t k = read(r->fd, dst, n);
        if (k >= 0) return k;
        if (errno == EINTR) continue; /* the loop re-checks *intr */
        vkb_fail(err, "%s: read error: %s", name, strerror(errno));
        return -1;
    }
}

static void rd_decoder_free(rd *r) {
    if (r->z_init) inflateEnd(&r->z);
    r->z_init = 0;
    if (r->zs) ZSTD_freeDStream(r->zs);
    r->zs = NULL;
    free(r->raw);
    r->raw = NULL;
    r->raw_pos = r->raw_end = r->raw_cap = 0;
    r->raw_eof = 0;
    r->comp = COMP_NONE;
}

/* One decoder step on the compressed bytes at hand: bytes produced into dst,
 * or -1 (err set).  *used gets the compressed bytes consumed. */
static ssize_t rd_decode_step(rd *r, char *dst, size_t n, size_t *used, vkb_error *err,
                              const char *name) {
    size_t avail = r->raw_end - r->raw_pos;
    *used = 0;
    if (r->comp == COMP_GZIP) {
        if (!r->in_member) {
            if (!avail) return 0;
            /* concatenated gzip members (cat a.gz b.gz) are one stream */
            if (r->raw[r->raw_pos] != 0x1f) {
                vkb_fail(err, "%s: corrupt gzip data: trailing bytes after the last gzip member", name);
                return -1;
            }
            r->in_member = 1;
        }
        r->z.next_in = r->raw + r->raw_pos;
        r->z.avail_in = (uInt)avail;
        r->z.next_out = (Bytef *)dst;
        r->z.avail_out = (uInt)n;
        int ret = inflate(&r->z, Z_NO_FLUSH);
        *used = avail - r->z.avail_in;
        size_t got = n - r->z.avail_out;
        if (ret == Z_STREAM_END) {
            r->in_member = 0;
            inflateReset(&r->z);
        } else if (ret != Z_OK && !(ret == Z_BUF_ERROR && (!avail || !n))) {
            vkb_fail(err, "%s: corrupt gzip data: %s", name,
                     r->z.msg ? r->z.msg : ret == Z_MEM_ERROR ? "out of memory" : "inflate failed");
            return -1;
        }
        return (ssize_t)got;
    }
    ZSTD_inBuffer in = {r->raw + r->raw_pos, avail, 0};
    ZSTD_outBuffer out = {dst, n, 0};
    size_t ret = ZSTD_decompressStream(r->zs, &out, &in);
    if (ZSTD_isError(ret)) {
        vkb_fail(err, "%s: cannot decode zstd data: %s", name, ZSTD_getErrorName(ret));
        return -1;
    }
    if (in.pos || out.pos) r->zs_hint = ret; /* with no input it only hints at a next frame */
    *used = in.pos;
    return (ssize_t)out.pos;
}

/* Decoded bytes into dst: >0 bytes, 0 EOF, -1 error, -2 interrupted. */
static ssize_t rd_produce(rd *r, char *dst, size_t n, const volatile int *intr, vkb_error *err,
                          const char *name) {
    if (r->comp == COMP_NONE) return rd_read(r, dst, n, intr, err, name);
    for (;;) {
        if (intr && *intr) return -2;
        size_t used;
        ssize_t got = rd_decode_step(r, dst, n, &used, err, name);
        if (got < 0) return -1;
        r->raw_pos += used;
        r->raw_used += (double)used;
        if (got > 0) return got;
        if (r->raw_pos < r->raw_end) {
            if (used == 0) {
                vkb_fail(err, "%s: corrupt %s data (the decoder made no progress)", name,
                         r->comp == COMP_GZIP ? "gzip" : "zstd");
                return -1;
            }
            continue;
        }
        if (r->raw_eof) {
            int open_frame = r->comp == COMP_GZIP ? r->in_member : r->zs_hint != 0;
            if (open_frame) {
                vkb_fail(err, "%s: truncated %s data (the compressed stream ends early)", name,
                         r->comp == COMP_GZIP ? "gzip" : "zstd");
                return -1;
            }
            return 0;
        }
        ssize_t k = rd_read(r, r->raw, r->raw_cap, intr, err, name);
        if (k < 0) return k;
        r->raw_pos = 0;
        r->raw_end = (size_t)k;
        if (k == 0) r->raw_eof = 1;
    }
}

/* Fills the buffer when empty; 1 data, 0 EOF, -1 error, -2 interrupted. */
static int rd_fill(rd *r, const volatile int *intr, vkb_error *err, const char *name) {
    if (r->pos < r->end) return 1;
    if (r->eof) return 0;
    ssize_t k = rd_produce(r, r->buf, r->cap, intr, err, name);
    if (k < 0) return (int)k;
    r->pos = 0;
    r->end = (size_t)k;
    if (k == 0) { r->eof = 1; return 0; }
    return 1;
}

/* Appends more decoded bytes behind buf[pos..end) (growing the buffer up to
 * RD_MAX_BUF); 1 more data, 0 EOF or full, <0 error/interrupted. */
static int rd_more(rd *r, const volatile int *intr, vkb_error *err, const char *name) {
    if (r->eof) return 0;
    if (r->pos) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    if (r->end == r->cap) {
        if (r->cap >= RD_MAX_BUF) return 0;
        char *nb = realloc(r->buf, r->cap * 2);
        if (!nb) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
        r->buf = nb;
        r->cap *= 2;
    }
    ssize_t k = rd_produce(r, r->buf + r->end, r->cap - r->end, intr, err, name);
    if (k < 0) return (int)k;
    if (k == 0) { r->eof = 1; return 0; }
    r->end += (size_t)k;
    return 1;
}

/* Handles a \n that completes a \r line end seen before; <0 error. */
static int rd_skip_lf(rd *r, const volatile int *intr, vkb_error *err, const char *name) {
    if (!r->skip_lf) return 0;
    int f = rd_fill(r, intr, err, name);
    if (f < 0) return f;
    r->skip_lf = 0;
    if (f > 0 && r->buf[r->pos] == '\n') { r->pos++; r->consumed += 1; }
    return 0;
}

/* ---- the reader ----------------------------------------------------------- */
typedef struct {
    char *path;      /* "-" for stdin */
    int is_dir;
} src;

#define PROBE_MAX 8  /* JSON lines: records read ahead to tell a missing text field */

struct vkb_input {
    vkb_input_opts o;
    const char *text_col, *label_col;
    src *srcs;
    int n_srcs, cur;
    int open;            /* srcs[cur] is open */
    vkb_in_format fmt;   /* of the open source */
    rd r;
    double total, done_before; /* progress units */
    /* CSV/TSV state */
    char **hdr;          /* column names (sanitized) */
    char **hdr_out;      /* their names in the output (reserved names renamed) */
    int n_hdr, text_idx, label_idx;
    /* directory state */
    char **files;        /* "neg/1_2.txt" ... */
    int n_files, file_i;
    /* JSON lines: records read ahead at the start of a source */
    int probe;           /* the open source still has to be probed */
    int last_missing;    /* the last JSON line was an object without the text field */
    int last_object;     /* the last JSON line was an object */
    int last_open_array; /* the last JSON line was an unfinished array ("[" ...) */
    int first_open_array;
    vkb_record q[PROBE_MAX];
    int qn, qi;
};

const char *vkb_in_format_name(vkb_in_format f) {
    switch (f) {
    case VKB_FMT_JSONL: return "JSON lines";
    case VKB_FMT_CSV: return "CSV";
    case VKB_FMT_TSV: return "TSV";
    case VKB_FMT_TEXT: return "text lines";
    case VKB_FMT_DIR: return "IMDB directory";
    default: return "auto";
    }
}

static void free_hdr(vkb_input *in) {
    for (int i = 0; i < in->n_hdr; i++) {
        free(in->hdr[i]);
        if (in->hdr_out) free(in->hdr_out[i]);
    }
    free(in->hdr);
    free(in->hdr_out);
    in->hdr = in->hdr_out = NULL;
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
            if (!f) { closedir(d); return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory listing %s", p); }
            in->files = f;
            in->files[in->n_files] = xprintf("%s/%s", sub[s], e->d_name);
            if (!in->files[in->n_files]) { closedir(d); return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); }
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

/* Format by file name; a .gz/.zst/.zstd suffix is looked through. */
static vkb_in_format by_extension(const char *p) {
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    size_t n = strlen(base);
    static const char *const comp[] = {".gz", ".zst", ".zstd", NULL};
    for (int i = 0; comp[i]; i++) {
        size_t k = strlen(comp[i]);
        if (n > k && !strcasecmp(base + n - k, comp[i])) { n -= k; break; }
    }
    static const struct { const char *ext; vkb_in_format f; } ext[] = {
        {".jsonl", VKB_FMT_JSONL}, {".ndjson", VKB_FMT_JSONL}, {".json", VKB_FMT_JSONL},
        {".csv", VKB_FMT_CSV}, {".tsv", VKB_FMT_TSV}, {".tab", VKB_FMT_TSV},
        {".txt", VKB_FMT_TEXT}, {".text", VKB_FMT_TEXT}, {NULL, VKB_FMT_AUTO}};
    for (int i = 0; ext[i].ext; i++) {
        size_t k = strlen(ext[i].ext);
        if (n > k && !strncasecmp(base + n - k, ext[i].ext, k)) return ext[i].f;
    }
    return VKB_FMT_AUTO;
}

int vkb_input_open(const char *const *paths, int n, const vkb_input_opts *opts,
                   vkb_input **out, vkb_error *err) {
    *out = NULL;
    vkb_input *in = calloc(1, sizeof *in);
    if (!in) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    if (opts) in->o = *opts;
    if (!in->o.max_record) in->o.max_record = (size_t)64 << 20;
    in->text_col = in->o.text_column ? in->o.text_column : "text";
    in->label_col = in->o.label_column ? in->o.label_column : "label";
    in->r.fd = -1;
    int ns = n > 0 ? n : 1;
    in->srcs = calloc((size_t)ns, sizeof(src));
    in->r.cap = 1 << 16;
    in->r.buf = malloc(in->r.cap);
    if (!in->srcs || !in->r.buf) { vkb_input_close(in); return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); }
    for (int i = 0; i < ns; i++) {
        const char *p = n > 0 ? paths[i] : "-";
        in->srcs[i].path = xstrdup(p);
        in->n_srcs++;
        if (!in->srcs[i].path) { vkb_input_close(in); return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); }
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

void vkb_record_clear(vkb_record *r) {
    free(r->text);
    free(r->extra);
    free(r->label);
    free(r->error);
    free(r->id_json);
    memset(r, 0, sizeof *r);
}

static void close_src(vkb_input *in) {
    if (in->r.fd >= 0) close(in->r.fd);
    in->r.fd = -1;
    in->open = 0;
    rd_decoder_free(&in->r);
    free_hdr(in);
    free_files(in);
    for (int i = in->qi; i < in->qn; i++) vkb_record_clear(&in->q[i]);
    in->qi = in->qn = 0;
    in->probe = 0;
}

void vkb_input_close(vkb_input *in) {
    if (!in) return;
    close_src(in);
    for (int i = 0; i < in->n_srcs; i++) free(in->srcs[i].path);
    free(in->srcs);
    free(in->r.buf);
    free(in);
}

/* Reads one line into b, without its end (\n, \r\n or a lone \r).  Lines
 * longer than max are consumed but only their first max bytes kept
 * (*too_long set).  1: a line; 0: EOF; -1 error; -2 interrupted. */
static int read_line(vkb_input *in, sbuf *b, int *too_long, vkb_error *err) {
    rd *r = &in->r;
    const char *name = in->srcs[in->cur].path;
    b->n = 0;
    *too_long = 0;
    int any = 0;
    int f = rd_skip_lf(r, in->o.interrupt, err, name);
    if (f < 0) return f;
    for (;;) {
        f = rd_fill(r, in->o.interrupt, err, name);
        if (f < 0) return f;
        if (f == 0) break;
        char *s = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        char *nl = memchr(s, '\n', avail);
        char *cr = memchr(s, '\r', nl ? (size_t)(nl - s) : avail);
        if (cr) nl = cr;
        size_t take = nl ? (size_t)(nl - s) : avail;
        any = 1;
        size_t keep = take;
        if (b->n + keep > in->o.max_record) {
            keep = b->n < in->o.max_record ? in->o.max_record - b->n : 0;
            *too_long = 1;
        }
        if (keep && vkb_sb_put(b, s, keep)) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory reading a line");
        r->pos += take + (nl ? 1 : 0);
        r->consumed += (double)(take + (nl ? 1 : 0));
        if (nl) {
            if (*nl == '\r') r->skip_lf = 1;
            break;
        }
    }
    if (!any) return 0;
    r->line++;
    if (!b->p && vkb_sb_reserve(b, 0) == 0) b->p[0] = 0;
    if (!b->p) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory reading a line");
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

/* ---- JSON lines ------------------------------------------------------------
 * cJSON validates each line; a small scanner over the validated text then
 * finds each top-level member's key and the exact bytes of its value, so
 * that pass-through values are copied, not re-printed from doubles.  The
 * scanner is strict where cJSON is lax (numbers such as 01 or 1.). */

static const char *js_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* p at '"': returns the end of the string literal (after the quote), or NULL. */
static const char *js_string(const char *p, const char *e) {
    if (p >= e || *p != '"') return NULL;
    for (p++; p < e; p++) {
        if (*p == '"') return p + 1;
        if (*p != '\\') continue;
        if (++p >= e) return NULL;
        if (*p == 'u') {
            if (e - p < 5) return NULL;
            for (int i = 1; i <= 4; i++) if (hexval(p[i]) < 0) return NULL;
            p += 4;
        } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
            return NULL;
        }
    }
    return NULL;
}

/* RFC 8259 number. */
static const char *js_number(const char *p, const char *e) {
    if (p < e && *p == '-') p++;
    if (p >= e) return NULL;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < e && *p >= '0' && *p <= '9') p++;
    else return NULL;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9') return NULL;
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || *p < '0' || *p > '9') return NULL;
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    return p;
}

/* Skips one value; returns its end or NULL. */
static const char *js_value(const char *p, const char *e, int depth) {
    if (p >= e || depth > 1000) return NULL;
    if (*p == '"') return js_string(p, e);
    if (*p == '-' || (*p >= '0' && *p <= '9')) return js_number(p, e);
    static const char *const lit[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(lit[i]);
        if ((size_t)(e - p) >= k && !memcmp(p, lit[i], k)) return p + k;
    }
    if (*p != '{' && *p != '[') return NULL;
    char close = *p == '{' ? '}' : ']';
    int obj = *p == '{';
    p = js_ws(p + 1, e);
    if (p < e && *p == close) return p + 1;
    for (;;) {
        if (obj) {
            p = js_string(p, e);
            if (!p) return NULL;
            p = js_ws(p, e);
            if (p >= e || *p != ':') return NULL;
            p = js_ws(p + 1, e);
        }
        p = js_value(p, e, depth + 1);
        if (!p) return NULL;
        p = js_ws(p, e);
        if (p < e && *p == ',') { p = js_ws(p + 1, e); continue; }
        if (p < e && *p == close) return p + 1;
        return NULL;
    }
}

static void put_utf8(sbuf *b, unsigned cp) {
    char u[4];
    size_t k;
    if (cp < 0x80) { u[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 63)); k = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | ((cp >> 6) & 63));
        u[2] = (char)(0x80 | (cp & 63)); k = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | ((cp >> 12) & 63));
        u[2] = (char)(0x80 | ((cp >> 6) & 63)); u[3] = (char)(0x80 | (cp & 63)); k = 4;
    }
    vkb_sb_put(b, u, k);
}

/* Decodes a (scanned) string literal [p, e) into b: escapes resolved,
 * \u0000 kept as a NUL byte (the length says where the string ends), a lone
 * surrogate becomes U+FFFD.  Returns 0, or -1 when out of memory. */
static int js_decode(const char *p, const char *e, sbuf *b) {
    b->n = 0;
    if (vkb_sb_reserve(b, (size_t)(e - p))) return -1;
    b->p[0] = 0;
    for (p++, e--; p < e; p++) {
        if (*p != '\\') { vkb_sb_putc(b, *p); continue; }
        p++;
        switch (*p) {
        case 'b': vkb_sb_putc(b, '\b'); break;
        case 'f': vkb_sb_putc(b, '\f'); break;
        case 'n': vkb_sb_putc(b, '\n'); break;
        case 'r': vkb_sb_putc(b, '\r'); break;
        case 't': vkb_sb_putc(b, '\t'); break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 1; i <= 4; i++) cp = cp * 16 + (unsigned)hexval(p[i]);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && e - p >= 7 && p[1] == '\\' && p[2] == 'u') {
                unsigned lo = 0;
                for (int i = 3; i <= 6; i++) lo = lo * 16 + (unsigned)hexval(p[i]);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
            put_utf8(b, cp);
            break;
        }
        default: vkb_sb_putc(b, *p); /* " \ / */
        }
    }
    return b->p ? 0 : -1;
}

/* Appends value bytes [p, e) as JSON: raw control characters inside strings
 * (which cJSON lets through) are escaped, everything else is copied. */
static int js_copy(sbuf *x, const char *p, const char *e) {
    int instr = 0;
    for (; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (instr && c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            if (vkb_sb_put(x, esc, 6)) return -1;
            continue;
        }
        if (vkb_sb_putc(x, (char)c)) return -1;
        if (instr && c == '\\' && p + 1 < e) {
            if (vkb_sb_putc(x, *++p)) return -1;
        } else if (c == '"') {
            instr = !instr;
        }
    }
    return 0;
}

typedef struct {
    const char *ks, *ke;   /* key literal */
    const char *vs, *ve;   /* value bytes */
    sbuf key;              /* decoded key */
} member;

static int member_cmp(const void *a, const void *b) {
    const member *x = *(member *const *)a, *y = *(member *const *)b;
    size_t n = x->key.n < y->key.n ? x->key.n : y->key.n;
    int c = memcmp(x->key.p, y->key.p, n);
    if (c) return c;
    return x->key.n < y->key.n ? -1 : x->key.n > y->key.n;
}

static int key_is(const member *m, const char *s) {
    return m->key.n == strlen(s) && memcmp(m->key.p, s, m->key.n) == 0;
}

/* The name of the member (or CSV column) `name` in the output: a reserved
 * name gets input_ prefixes until it clashes with no input name
 * (taken(user, candidate) says whether one exists).  *out_n: its length. */
static char *out_name(const char *name, size_t n, int (*taken)(void *, const char *, size_t),
                      void *user, size_t *out_n) {
    char *nm = malloc(n + 1);
    if (!nm) return NULL;
    memcpy(nm, name, n);
    nm[n] = 0;
    *out_n = n;
    if (strlen(nm) != n || !is_reserved(nm)) return nm;
    do {
        char *t = xprintf("input_%s", nm);
        free(nm);
        nm = t;
    } while (nm && taken(user, nm, strlen(nm)));
    if (nm) *out_n = strlen(nm);
    return nm;
}

typedef struct { member **sorted; int n; } member_set;

static int member_taken(void *u, const char *s, size_t n) {
    member_set *ms = u;
    member probe = {0};
    probe.key.p = (char *)s;
    probe.key.n = n;
    member *pp = &probe;
    return bsearch(&pp, ms->sorted, (size_t)ms->n, sizeof *ms->sorted, member_cmp) != NULL;
}

/* Appends ,"name":value to extra (value: JSON text copied with js_copy). */
static int extra_put(sbuf *x, const char *name, size_t nl, const char *vs, const char *ve) {
    if (x->n && vkb_sb_putc(x, ',')) return -1;
    char *q = NULL;
    size_t ql = 0, qc = 0;
    int rc = vkb_json_quote(&q, &ql, &qc, name, nl);
    if (rc == 0) rc = vkb_sb_put(x, q, ql);
    if (rc == 0) rc = vkb_sb_putc(x, ':');
    if (rc == 0) rc = js_copy(x, vs, ve);
    free(q);
    return rc;
}

/* A gold label from a JSON number: integers in decimal; anything else
 * (fractions, out of the range of long long, 1e300) is no label. */
static char *label_from_number(const char *s, const char *e) {
    char tmp[64];
    size_t n = (size_t)(e - s);
    if (n >= sizeof tmp) return NULL;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double d = strtod(tmp, NULL);
    /* range first: converting an out-of-range double is undefined */
    if (!(d >= -9.2e18 && d <= 9.2e18)) return NULL;
    long long v = (long long)d;
    if ((double)v != d) return NULL;
    return xprintf("%lld", v);
}

/* One JSON line -> record; in->last_missing tells an object without the text field. */
static void parse_json_line(vkb_input *in, const char *s, size_t n, vkb_record *rec) {
    in->last_missing = in->last_object = in->last_open_array = 0;
    if (memchr(s, 0, n)) { rec->error = xstrdup("NUL byte in a JSON line"); return; }
    size_t cl;
    char *clean = vkb_utf8_sanitize(s, n, &cl);
    if (!clean) { rec->error = xstrdup("out of memory"); return; }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(clean, cl + 1, &end, 0);
    if (!j) {
        const char *f = js_ws(clean, clean + cl);
        in->last_open_array = f < clean + cl && *f == '[';
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
    int is_obj = cJSON_IsObject(j);
    int nmem = cJSON_GetArraySize(j);
    in->last_object = is_obj;
    cJSON_Delete(j);
    if (!is_obj) {
        rec->error = xstrdup("not a JSON object");
        free(clean);
        return;
    }
    /* the members, with the exact bytes of each value */
    const char *e = clean + cl;
    member *m = calloc((size_t)nmem + 1, sizeof *m);
    member **sorted = calloc((size_t)nmem + 1, sizeof *sorted);
    sbuf x = {0}, keys = {0};
    int k = 0;
    const char *p = js_ws(clean, e);
    if (!m || !sorted) { rec->error = xstrdup("out of memory"); goto done; }
    p = js_ws(p + 1, e); /* '{' */
    while (p < e && *p != '}' && k < nmem) {
        member *c = &m[k];
        c->ks = p;
        c->ke = js_string(p, e);
        if (!c->ke) break;
        p = js_ws(c->ke, e);
        if (p >= e || *p != ':') break;
        c->vs = js_ws(p + 1, e);
        c->ve = js_value(c->vs, e, 1);
        if (!c->ve || js_decode(c->ks, c->ke, &c->key)) break;
        k++;
        p = js_ws(c->ve, e);
        if (p < e && *p == ',') p = js_ws(p + 1, e);
    }
    if (k != nmem || p >= e || *p != '}') {
        rec->error = xprintf("invalid JSON at byte %ld", (long)(p - clean) + 1);
        goto done;
    }
    for (int i = 0; i < k; i++)
        if (key_is(&m[i], "id")) { /* for the error object too */
            sbuf id = {0};
            if (js_copy(&id, m[i].vs, m[i].ve) == 0) rec->id_json = id.p;
            else free(id.p);
            break;
        }
    for (int i = 0; i < k; i++) sorted[i] = &m[i];
    qsort(sorted, (size_t)k, sizeof *sorted, member_cmp);
    for (int i = 1; i < k; i++)
        if (member_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            char *q = NULL;
            size_t ql = 0, qc = 0;
            vkb_json_quote(&q, &ql, &qc, sorted[i]->key.p, sorted[i]->key.n < 200 ? sorted[i]->key.n : 200);
            rec->error = xprintf("duplicate key %s", q ? q : "");
            free(q);
            goto done;
        }
    member_set ms = {sorted, k};
    const member *t = NULL;
    for (int i = 0; i < k; i++) {
        member *c = &m[i];
        if (key_is(c, in->label_col)) {
            if (*c->vs == '"') {
                sbuf l = {0};
                if (js_decode(c->vs, c->ve, &l) == 0) {
                    size_t ll;
                    rec->label = vkb_utf8_sanitize(l.p, strlen(l.p), &ll);
                }
                free(l.p);
            } else if (*c->vs == 't' || *c->vs == 'f') {
                rec->label = xstrdup(*c->vs == 't' ? "1" : "0");
            } else if (*c->vs != 'n' && *c->vs != '{' && *c->vs != '[') {
                rec->label = label_from_number(c->vs, c->ve);
            }
        }
        if (key_is(c, in->text_col)) { t = c; continue; }
        size_t nl;
        char *nm = out_name(c->key.p, c->key.n, member_taken, &ms, &nl);
        int rc = nm ? extra_put(&x, nm, nl, c->vs, c->ve) : -1;
        free(nm);
        if (rc) { rec->error = xstrdup("out of memory"); goto done; }
        if (keys.n < 300) {
            if (keys.n) vkb_sb_put(&keys, ", ", 2);
            sb_put_printable(&keys, c->key.p, c->key.n, 100);
        }
    }
    if (!t) {
        rec->error = xprintf("missing \"%s\" field (fields: %s)", in->text_col,
                             keys.p ? keys.p : "none");
        in->last_missing = 1;
    } else if (*t->vs != '"') {
        rec->error = xprintf("\"%s\" is not a string", in->text_col);
    } else {
        sbuf tb = {0};
        if (js_decode(t->vs, t->ve, &tb) == 0) set_text(rec, tb.p, tb.n);
        free(tb.p);
    }
done:
    rec->extra = x.p;
    free(keys.p);
    for (int i = 0; m && i < nmem; i++) free(m[i].key.p);
    free(m);
    free(sorted);
    free(clean);
}

/* ---- CSV / TSV -------------------------------------------------------------- */
typedef struct { sbuf *f; int n, cap; } fields;

static void fields_free(fields *fs) {
    for (int i = 0; i < fs->cap; i++) free(fs->f[i].p);
    free(fs->f);
}

/* Starts field number fs->n (0-based) of a record; -1 out of memory. */
static int field_new(fields *fs) {
    if (fs->n == fs->cap) {
        int nc = fs->cap ? fs->cap * 2 : 8;
        sbuf *nf = realloc(fs->f, sizeof(sbuf) * (size_t)nc);
        if (!nf) return -1;
        memset(nf + fs->cap, 0, sizeof(sbuf) * (size_t)(nc - fs->cap));
        fs->f = nf;
        fs->cap = nc;
    }
    sbuf *c = &fs->f[fs->n++];
    c->n = 0;
    if (vkb_sb_reserve(c, 0)) return -1;
    c->p[0] = 0;
    return 0;
}

/* Reads one CSV record (RFC 4180; a quote opens a quoted field only at the
 * start of a field, as Python's csv does).  Records end at \n, \r\n or a
 * lone \r outside quotes.  1: record; 0: EOF; -1 error; -2 interrupted;
 * *unterminated set when EOF came inside quotes. */
static int read_csv_record(vkb_input *in, fields *fs, int *unterminated, int *too_long,
                           long *start_line, vkb_error *err) {
    rd *r = &in->r;
    const char *name = in->srcs[in->cur].path;
    fs->n = 0;
    *unterminated = 0;
    *too_long = 0;
    int inq = 0, at_start = 1, any = 0;
    size_t total = 0;
    int f = rd_skip_lf(r, in->o.interrupt, err, name);
    if (f < 0) return f;
    *start_line = r->line + 1;
#define CUR (&fs->f[fs->n - 1])
    for (;;) {
        f = rd_fill(r, in->o.interrupt, err, name);
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
            if (field_new(fs)) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
        }
        if (inq) {
            if (c == '"') {
                /* "" is an escaped quote; a single quote closes the field */
                int g = rd_fill(r, in->o.interrupt, err, name);
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
            if (c == '\r') { r->line++; r->skip_lf = 1; break; }
            if (c == '"' && at_start) { inq = 1; at_start = 0; continue; }
            if (c == ',') {
                if (field_new(fs)) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
                at_start = 1;
                continue;
            }
        }
        at_start = 0;
        if (++total > in->o.max_record) { *too_long = 1; continue; }
        if (vkb_sb_putc(CUR, c)) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    }
#undef CUR
    return 1;
}

/* One TSV record (IANA text/tab-separated-values): a line split at tabs,
 * no quoting of any kind. */
static int read_tsv_record(vkb_input *in, fields *fs, int *unterminated, int *too_long,
                           long *start_line, vkb_error *err) {
    sbuf line = {0};
    *unterminated = 0;
    fs->n = 0;
    int rc = read_line(in, &line, too_long, err);
    if (rc == 1) {
        *start_line = in->r.line;
        const char *p = line.p, *e = line.p + line.n;
        for (;;) {
            const char *t = memchr(p, '\t', (size_t)(e - p));
            if (field_new(fs) || vkb_sb_put(&fs->f[fs->n - 1], p, t ? (size_t)(t - p) : (size_t)(e - p))) {
                rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
                break;
            }
            if (!t) break;
            p = t + 1;
        }
    }
    free(line.p);
    return rc;
}

static int read_record(vkb_input *in, fields *fs, int *unterminated, int *too_long,
                       long *start_line, vkb_error *err) {
    return in->fmt == VKB_FMT_TSV ? read_tsv_record(in, fs, unterminated, too_long, start_line, err)
                                  : read_csv_record(in, fs, unterminated, too_long, start_line, err);
}

static int csv_blank(const fields *fs) {
    return fs->n == 1 && blank(fs->f[0].p, fs->f[0].n);
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct { char **sorted; int n; } name_set;

static int name_taken(void *u, const char *s, size_t n) {
    (void)n;
    name_set *ns = u;
    return bsearch(&s, ns->sorted, (size_t)ns->n, sizeof(char *), str_cmp) != NULL;
}

/* Reads the header; -1 (err set) when it cannot serve: no text column, or
 * a column name twice. */
static int read_header(vkb_input *in, vkb_error *err) {
    const char *path = in->srcs[in->cur].path;
    fields fs = {0};
    int unterm, tl, rc;
    long sl;
    do rc = read_record(in, &fs, &unterm, &tl, &sl, err);
    while (rc == 1 && csv_blank(&fs));
    if (rc <= 0) { fields_free(&fs); in->n_hdr = 0; in->text_idx = -1; return rc; }
    in->hdr = calloc((size_t)fs.n, sizeof(char *));
    in->hdr_out = calloc((size_t)fs.n, sizeof(char *));
    char **sorted = calloc((size_t)fs.n, sizeof(char *));
    if (!in->hdr || !in->hdr_out || !sorted) {
        free(sorted);
        fields_free(&fs);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    }
    in->n_hdr = fs.n;
    in->text_idx = in->label_idx = -1;
    rc = 0;
    for (int i = 0; i < fs.n; i++) {
        size_t l;
        in->hdr[i] = vkb_utf8_sanitize(fs.f[i].p, fs.f[i].n, &l);
        if (!in->hdr[i]) { rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); break; }
        if (in->text_idx < 0 && strcmp(in->hdr[i], in->text_col) == 0) in->text_idx = i;
        if (in->label_idx < 0 && strcmp(in->hdr[i], in->label_col) == 0) in->label_idx = i;
        sorted[i] = in->hdr[i];
    }
    fields_free(&fs);
    if (rc == 0) {
        qsort(sorted, (size_t)in->n_hdr, sizeof(char *), str_cmp);
        for (int i = 1; i < in->n_hdr; i++)
            if (strcmp(sorted[i - 1], sorted[i]) == 0) {
                char *nm = printable(sorted[i], 200);
                rc = vkb_fail(err, "%s: the header names the column '%s' twice; "
                              "column names must be unique", path, nm);
                free(nm);
                break;
            }
    }
    name_set ns = {sorted, in->n_hdr};
    for (int i = 0; rc == 0 && i < in->n_hdr; i++) {
        size_t l;
        in->hdr_out[i] = out_name(in->hdr[i], strlen(in->hdr[i]), name_taken, &ns, &l);
        if (!in->hdr_out[i]) rc = vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    }
    free(sorted);
    if (rc == 0 && in->text_idx < 0) {
        sbuf cols = {0};
        for (int i = 0; i < in->n_hdr && cols.n < 400; i++) {
            if (i) vkb_sb_put(&cols, ", ", 2);
            sb_put_printable(&cols, in->hdr[i], strlen(in->hdr[i]), 100);
        }
        rc = vkb_fail(err, "%s: no column named '%s' in the header (columns: %s); "
                      "use --text-column", path, in->text_col, cols.p ? cols.p : "");
        free(cols.p);
    }
    return rc;
}

/* ---- what a source is ------------------------------------------------------- */

/* Names a binary format by its magic bytes, or NULL. */
static const char *binary_magic(const unsigned char *s, size_t n) {
    static const struct { const char *m; size_t n; const char *what; } mg[] = {
        {"BZh", 3, "bzip2-compressed data (only gzip and zstd are read; decompress it first)"},
        {"\xFD" "7zXZ\0", 6, "xz-compressed data (only gzip and zstd are read; decompress it first)"},
        {"\x5D\0\0", 3, "lzma-compressed data (only gzip and zstd are read; decompress it first)"},
        {"\x04\x22\x4D\x18", 4, "lz4-compressed data (only gzip and zstd are read; decompress it first)"},
        {"PK\x03\x04", 4, "a zip archive (extract it first)"},
        {"7z\xBC\xAF\x27\x1C", 6, "a 7-zip archive (extract it first)"},
        {"\xFF\xFE\0\0", 4, "UTF-32 text (convert it to UTF-8, e.g. with iconv)"},
        {"\xFF\xFE", 2, "UTF-16 text (convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8)"},
        {"\xFE\xFF", 2, "UTF-16 text (convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8)"},
        {"\x7F" "ELF", 4, "an executable (ELF)"},
        {"\x89PNG", 4, "a PNG image"},
        {"%PDF-", 5, "a PDF document"},
        {"SQLite format 3", 16, "an SQLite database"},
        {"PAR1", 4, "a Parquet file (convert it to JSON lines or CSV first)"},
        {NULL, 0, NULL}};
    for (int i = 0; mg[i].m; i++)
        if (n >= mg[i].n && memcmp(s, mg[i].m, mg[i].n) == 0) return mg[i].what;
    return NULL;
}

/* Text or not: more than 1 in 10 of the first bytes (and at least 8) being
 * control bytes (other than tab, line ends, form feed, escape) or invalid
 * UTF-8 is binary data (or text in another encoding).  A NUL or a stray
 * Latin-1 byte here and there is text (it is replaced, or left to the
 * tokenizer, which drops control characters). */
static int looks_binary(const unsigned char *s, size_t n, int whole, size_t *bad_out) {
    size_t bad = 0, i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1B) {
            bad++;
            i++;
            continue;
        }
        size_t b, k = utf8_seq(s + i, n - i, &b);
        if (k) { i += k; continue; }
        if (!whole && i + b >= n) break; /* a sequence cut by the sample's end */
        bad++;
        i += b;
    }
    *bad_out = bad;
    return bad * 10 > n && bad >= 8;
}

/* Sets up decoding of a compressed stream whose first bytes are in buf. */
static int rd_start_decoder(rd *r, int kind, const char *name, vkb_error *err) {
    size_t n = r->end - r->pos;
    r->raw_cap = n > ((size_t)1 << 16) ? n : (size_t)1 << 16;
    r->raw = malloc(r->raw_cap);
    if (!r->raw) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    memcpy(r->raw, r->buf + r->pos, n); /* what was read is the decoder's input */
    r->raw_pos = 0;
    r->raw_end = n;
    r->raw_eof = r->eof;
    r->pos = r->end = 0;
    r->eof = 0;
    r->comp = kind;
    if (kind == COMP_GZIP) {
        memset(&r->z, 0, sizeof r->z);
        if (inflateInit2(&r->z, 15 + 16) != Z_OK)
            return vkb_fail(err, "%s: cannot start gzip decoding", name);
        r->z_init = 1;
        r->in_member = 1;
        return 0;
    }
    r->zs = ZSTD_createDStream();
    if (!r->zs || ZSTD_isError(ZSTD_initDStream(r->zs)))
        return vkb_fail(err, "%s: cannot start zstd decoding", name);
    /* bounded memory: frames needing a window over 128 MiB are refused */
    ZSTD_DCtx_setParameter(r->zs, ZSTD_d_windowLogMax, 27);
    r->zs_hint = 1;
    return 0;
}

/* Reads until buf holds n bytes, a line end, or EOF (so that a slow pipe is
 * not waited on for more than its first line). */
static int rd_want(rd *r, size_t n, const volatile int *intr, vkb_error *err, const char *name) {
    for (;;) {
        size_t have = r->end - r->pos;
        if (have >= n || memchr(r->buf + r->pos, '\n', have)) return 0;
        int f = rd_more(r, intr, err, name);
        if (f <= 0) return f;
    }
}

/* Looks at the first bytes of a stream: compression (sets up the decoder;
 * *comp = "gzip" or "zstd"), binary data (error), a UTF-8 byte order mark
 * (skipped). */
static int rd_sniff(rd *r, const volatile int *intr, const char *name, const char **comp,
                    vkb_error *err) {
    *comp = NULL;
    int f = rd_want(r, 16, intr, err, name);
    if (f < 0) return f;
    const unsigned char *u = (const unsigned char *)r->buf + r->pos;
    size_t n = r->end - r->pos;
    int kind = COMP_NONE;
    if (n >= 2 && u[0] == 0x1f && u[1] == 0x8b) kind = COMP_GZIP;
    else if (n >= 4 && u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd) kind = COMP_ZSTD;
    if (kind != COMP_NONE) {
        if (rd_start_decoder(r, kind, name, err)) return -1;
        *comp = kind == COMP_GZIP ? "gzip" : "zstd";
        f = rd_want(r, 16, intr, err, name);
        if (f < 0) return f;
        u = (const unsigned char *)r->buf + r->pos;
        n = r->end - r->pos;
    }
    const char *what = binary_magic(u, n);
    if (!what && n >= 2 && u[0] == 0x1f && u[1] == 0x8b) what = "gzip data inside compressed data";
    if (!what && n >= 4 && u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd)
        what = "zstd data inside compressed data";
    const char *pre = !*comp ? "" : kind == COMP_GZIP ? "the decompressed gzip data is "
                                                      : "the decompressed zstd data is ";
    if (what) return vkb_fail(err, "%s: refused: %s%s", name, pre, what);
    if (n >= 3 && memcmp(u, "\xEF\xBB\xBF", 3) == 0) {
        r->pos += 3; /* a UTF-8 byte order mark is not text */
        r->consumed += 3;
        u += 3;
        n -= 3;
    }
    size_t sample = n < 4096 ? n : 4096, bad;
    if (sample && looks_binary(u, sample, r->eof && sample == n, &bad))
        return vkb_fail(err, "%s: %sdoes not look like UTF-8 text (%zu of the first %zu bytes are "
                        "control bytes or invalid UTF-8): binary data, or text in another "
                        "encoding (convert it to UTF-8 first)", name,
                        !*comp ? "" : kind == COMP_GZIP ? "decompressed gzip data " : "decompressed zstd data ",
                        bad, sample);
    return 0;
}

/* The first non-blank line in the buffer (reading more, up to RD_MAX_BUF):
 * [*s, *s + *n). */
static int peek_first_line(vkb_input *in, const char **s, size_t *n, int *complete, vkb_error *err) {
    rd *r = &in->r;
    const char *name = in->srcs[in->cur].path;
    size_t from = 0;
    for (;;) {
        const char *b = r->buf + r->pos, *e = r->buf + r->end;
        const char *p = b + from;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f' || *p == '\v')) p++;
        from = (size_t)(p - b);
        const char *nl = p;
        while (nl < e && *nl != '\n' && *nl != '\r') nl++;
        if (nl < e || r->eof || r->end - r->pos >= RD_MAX_BUF) {
            *s = p;
            *n = (size_t)(nl - p);
            *complete = nl < e || r->eof;
            return 0;
        }
        int f = rd_more(r, in->o.interrupt, err, name);
        if (f < 0) return f;
        (void)f; /* 0: EOF or the buffer is full, both seen above */
    }
}

/* Does the header line s[0..n) split at delim have the column `col`? *nf: fields. */
static int header_has(const char *s, size_t n, char delim, const char *col, int *nf) {
    size_t cl = strlen(col);
    int found = 0;
    *nf = 0;
    const char *p = s, *e = s + n;
    for (;;) {
        const char *d = memchr(p, delim, (size_t)(e - p));
        const char *fe = d ? d : e;
        const char *a = p, *b = fe;
        if (delim == ',' && b - a >= 2 && *a == '"' && b[-1] == '"') { a++; b--; }
        if ((size_t)(b - a) == cl && memcmp(a, col, cl) == 0) found = 1;
        (*nf)++;
        if (!d) break;
        p = d + 1;
    }
    return found;
}

/* Chooses the format of a file or stdin whose name says nothing (rule 3 in input.h). */
static int sniff_format(vkb_input *in, vkb_error *err) {
    const char *s;
    size_t n;
    int complete;
    int rc = peek_first_line(in, &s, &n, &complete, err);
    if (rc) return rc;
    in->fmt = VKB_FMT_JSONL;
    if (!complete && *s == '{') return 0; /* a JSON object longer than the sniffing buffer */
    in->fmt = VKB_FMT_TEXT;
    if (n && *s == '{') {
        size_t cl;
        char *clean = vkb_utf8_sanitize(s, n, &cl);
        if (!clean) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(clean, cl + 1, &end, 0);
        while (end && *end && strchr(" \t\f\v", *end)) end++;
        if (j && cJSON_IsObject(j) && end && !*end) in->fmt = VKB_FMT_JSONL;
        cJSON_Delete(j);
        free(clean);
        if (in->fmt == VKB_FMT_JSONL) return 0;
    }
    int explicit_col = in->o.text_column != NULL, nf;
    if (header_has(s, n, '\t', in->text_col, &nf) && (nf >= 2 || explicit_col)) in->fmt = VKB_FMT_TSV;
    else if (header_has(s, n, ',', in->text_col, &nf) && (nf >= 2 || explicit_col)) in->fmt = VKB_FMT_CSV;
    return 0;
}

static int open_src(vkb_input *in, vkb_error *err) {
    src *s = &in->srcs[in->cur];
    in->r.pos = in->r.end = 0;
    in->r.eof = 0;
    in->r.line = 0;
    in->r.consumed = 0;
    in->r.raw_used = 0;
    in->r.skip_lf = 0;
    in->fmt = in->o.format;
    const char *how = in->fmt != VKB_FMT_AUTO ? "--format" : NULL;
    if (s->is_dir) {
        if (in->fmt != VKB_FMT_AUTO && in->fmt != VKB_FMT_DIR)
            return vkb_fail(err, "%s is a directory (only the IMDB layout is read from directories)",
                            s->path);
        in->fmt = VKB_FMT_DIR;
        if (list_dir(in, s->path, err)) return -1;
        in->open = 1;
        if (in->o.on_source) in->o.on_source(in->o.user, s->path, in->fmt, "directory", NULL);
        return 0;
    }
    if (strcmp(s->path, "-") == 0) {
        in->r.fd = dup(0);
    } else {
        in->r.fd = open(s->path, O_RDONLY | O_CLOEXEC);
    }
    if (in->r.fd < 0) return vkb_fail(err, "%s: %s", s->path, strerror(errno));
    in->open = 1;
    const char *comp;
    int rc = rd_sniff(&in->r, in->o.interrupt, s->path, &comp, err);
    if (rc) return rc;
    if (in->fmt == VKB_FMT_AUTO && strcmp(s->path, "-") != 0) {
        in->fmt = by_extension(s->path);
        if (in->fmt != VKB_FMT_AUTO) how = "extension";
    }
    if (in->fmt == VKB_FMT_AUTO) {
        rc = sniff_format(in, err);
        if (rc) return rc;
        how = "content";
    }
    if (in->fmt == VKB_FMT_TEXT && in->o.text_column)
        return vkb_fail(err, "%s: read as text lines (chosen by %s), which have no fields: "
                        "--text-column %s needs JSON lines, or CSV/TSV with a header naming "
                        "that column (use --format to say which)",
                        s->path, how, in->o.text_column);
    if (in->o.on_source) in->o.on_source(in->o.user, s->path, in->fmt, how, comp);
    if (in->fmt == VKB_FMT_CSV || in->fmt == VKB_FMT_TSV) return read_header(in, err);
    if (in->fmt == VKB_FMT_JSONL) in->probe = 1;
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
    /* a file name is any bytes: valid UTF-8 for the output, printable for messages */
    size_t rl;
    char *relu = vkb_utf8_sanitize(rel, strlen(rel), &rl);
    if (!relu) return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory");
    char *relp = printable(relu, 300);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    sbuf b = {0};
    if (fd < 0) {
        rec->error = xprintf("%s: %s", relp, strerror(errno));
    } else {
        /* each file may be gzip or zstd compressed; binary files are errors */
        rd fr;
        memset(&fr, 0, sizeof fr);
        fr.fd = fd;
        fr.cap = 1 << 16;
        fr.buf = malloc(fr.cap);
        if (!fr.buf) { close(fd); free(relu); free(relp); return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory"); }
        vkb_error fe = {0};
        const char *comp;
        int rc = rd_sniff(&fr, in->o.interrupt, relp, &comp, &fe), too_long = 0;
        while (rc == 0) {
            int f = rd_fill(&fr, in->o.interrupt, &fe, relp);
            if (f <= 0) { rc = f; break; }
            size_t k = fr.end - fr.pos;
            if (b.n + k > in->o.max_record) { too_long = 1; break; }
            if (vkb_sb_put(&b, fr.buf + fr.pos, k)) rc = vkb_failc(&fe, VKB_ERR_HOST_OOM, "out of memory");
            fr.pos = fr.end;
        }
        rd_decoder_free(&fr);
        free(fr.buf);
        close(fd);
        if (rc == -2) { free(b.p); free(relu); free(relp); return -2; }
        if (rc < 0) rec->error = xstrdup(fe.msg);
        else if (too_long) rec->error = xprintf("%s: longer than %zu bytes", relp, in->o.max_record);
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
    vkb_json_quote(&q, &ql, &qc, relu, rl);
    free(relp);
    free(relu);
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
    in->last_missing = in->last_object = 0;
    if (in->fmt == VKB_FMT_DIR) return next_dir(in, rec, err);
    if (in->fmt == VKB_FMT_CSV || in->fmt == VKB_FMT_TSV) {
        if (in->n_hdr == 0) return 0; /* empty file */
        fields fs = {0};
        int unterm, tl, rc;
        long sl;
        do rc = read_record(in, &fs, &unterm, &tl, &sl, err);
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
                    extra_add(&x, in->hdr_out[i], q);
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

/* JSON lines: reads up to PROBE_MAX records ahead at the start of a source,
 * until the first object with the text field.  When every JSON object among
 * them lacks the text field, or none of them is a JSON object at all (a
 * pretty-printed JSON array), the source fails once instead of giving one
 * error per line. */
static int probe_jsonl(vkb_input *in, vkb_error *err) {
    int objects = 0, missing = 0;
    char *first = NULL;
    long first_line = 0;
    in->probe = 0;
    in->qn = in->qi = 0;
    while (in->qn < PROBE_MAX) {
        vkb_record *t = &in->q[in->qn];
        memset(t, 0, sizeof *t);
        int rc = next_in_src(in, t, err);
        if (rc != 1) {
            vkb_record_clear(t);
            if (rc < 0) { free(first); return rc; }
            break;
        }
        t->progress = in->done_before + rd_progress(&in->r);
        if (in->qn == 0) in->first_open_array = in->last_open_array;
        in->qn++;
        if (in->last_missing) {
            objects++;
            missing++;
            if (!first) { first = xstrdup(t->error); first_line = t->line; }
        } else if (in->last_object) {
            objects++;
            break; /* the field is there */
        }
    }
    int rc = 0;
    if (in->qn && in->q[0].error && in->first_open_array)
        rc = vkb_fail(err, "%s: not JSON lines: line %ld starts a JSON array that ends on a later "
                      "line (convert it to JSON lines, e.g. jq -c '.[]')",
                      in->srcs[in->cur].path, in->q[0].line);
    else if (in->qn && !objects)
        rc = vkb_fail(err, "%s: not JSON lines: line %ld: %s, and no line among the first %d is a "
                      "JSON object (a JSON array? convert it with jq -c '.[]'; or say --format)",
                      in->srcs[in->cur].path, in->q[0].line, in->q[0].error ? in->q[0].error : "?",
                      in->qn);
    else if (objects && missing == objects)
        rc = vkb_fail(err, "%s: line %ld: %s; no JSON object in the first %d line%s has a \"%s\" "
                      "field: use --text-column to name the text field",
                      in->srcs[in->cur].path, first_line, first ? first : "missing field",
                      (int)in->q[in->qn - 1].line, in->q[in->qn - 1].line == 1 ? "" : "s",
                      in->text_col);
    free(first);
    return rc;
}

int vkb_input_next(vkb_input *in, vkb_record *rec, vkb_error *err) {
    memset(rec, 0, sizeof *rec);
    while (in->cur < in->n_srcs) {
        if (!in->open) {
            int rc = open_src(in, err);
            if (rc) return rc;
        }
        if (in->probe) {
            int rc = probe_jsonl(in, err);
            if (rc) return rc;
        }
        if (in->qi < in->qn) {
            *rec = in->q[in->qi++];
            memset(&in->q[in->qi - 1], 0, sizeof *rec);
            return 1;
        }
        int rc = next_in_src(in, rec, err);
        if (rc == 1) {
            rec->progress = in->done_before + rd_progress(&in->r);
            return 1;
        }
        if (rc < 0) { vkb_record_clear(rec); return rc; }
        in->done_before += rd_progress(&in->r);
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
