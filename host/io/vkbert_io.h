/* vkbert_io.h - the io layer's part of the public API (host/vkbert.h
 * includes it): the output line every front end writes, and readers for
 * batch-scoring input (used by the CLI): JSON lines, CSV (RFC 4180 quoting, multi-line fields), TSV (IANA:
 * tab-separated, no quoting at all), plain text lines, and IMDB-style
 * directories (text files in DIR/neg and DIR/pos).  Files and stdin may be
 * gzip or zstd compressed (recognised by their magic bytes, decompressed as a
 * stream); other binary input is refused.  Lines end at \n, \r\n or a lone \r.
 *
 * Format of a file or stdin (the first rule that applies):
 *   1. opts.format (the CLI's --format);
 *   2. the file name extension, after a .gz/.zst suffix: .jsonl/.ndjson/.json,
 *      .csv, .tsv/.tab, .txt/.text;
 *   3. the content: the first non-blank line is a complete JSON object ->
 *      JSON lines; it is a tab- (else comma-) separated header with a field
 *      named like the text column (and at least two fields, unless the text
 *      column was given) -> TSV (CSV); otherwise plain text, except that a
 *      text_column given explicitly then is an error (text has no columns).
 * opts.on_source is told which format was chosen and why.
 *
 * Every input unit becomes one record, in input order.  A unit that cannot be
 * parsed (invalid JSON, not an object, missing/non-string text, a CSV row with
 * the wrong number of fields, an over-long line) is a record with `error` set,
 * so the caller can emit a per-line error object in its place.  Empty or
 * whitespace-only lines are skipped (they are not records).  Invalid UTF-8 is
 * not an error: it is replaced by U+FFFD before anything else sees it. */
#ifndef VKBERT_IO_H
#define VKBERT_IO_H

#include <stddef.h>
#include "vkbert_loader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- helpers -------------------------------------------------------------- */
/* In-place softmax over n values. */
void vkb_softmax(float *x, int n);
/* Scales v[n] to unit L2 norm (as torch.nn.functional.normalize, eps 1e-12:
 * a zero vector stays zero); what --normalize and the server's /embed do. */
void vkb_l2_normalize(float *v, int n);

/* ---- the output line: one contract for every front end ------------------- */
/* `vkbert score`, the Python binding and its Dask recipe all write a record's
 * result with these, so that the same input gives the same bytes.  Strings
 * returned through char** are malloc'ed: release them with vkb_free. */
#define VKB_OUT_ALL_SCORES 1u /* "scores": {label: probability, ...} in label order */
#define VKB_OUT_LOGITS 2u     /* "logits": [...] */
/* One scored record as a JSON line, newline included:
 * {<extra>,"label":L,"score":P[,"scores":{...}][,"top_k":[{"label":L,"score":P},...]][,"logits":[...]]}
 * extra: the record's pass-through members without braces (as
 * vkb_record_parse_json gives them), or NULL.  label = the arg-max of the
 * logits, score = its softmax probability; floats are written as Python's
 * repr of a float32 (shortest round trip).  top_k: 0 = no "top_k", K = the K
 * best labels by probability, best first, -1 = all of them. */
int vkb_result_json(const vkb_config *cfg, const char *extra, const float *logits, int n_labels,
                    unsigned flags, int top_k, char **out, size_t *out_len, vkb_error *err);
/* One embedded record (`vkbert embed`, Model.embed_lines): {<extra>,"embedding":[v0,...]}\n,
 * floats as vkb_result_json writes them (non-finite: null). */
int vkb_embedding_json(const char *extra, const float *v, int dim, char **out, size_t *out_len,
                       vkb_error *err);
/* A record that could not be read or scored: {"line":N,"error":E[,"id":ID][,"file":F]}\n.
 * id_json: the record's id as JSON, or NULL; source: the file name, given
 * when several inputs are read, else NULL. */
int vkb_error_json(long line, const char *error, const char *id_json, const char *source,
                   char **out, size_t *out_len, vkb_error *err);
/* Parses one JSON line exactly as the JSON-lines input reader does (a final
 * "\n" or "\r\n" is ignored).  Returns 1 for a blank line (not a record),
 * 0 for a record: then either *error is set (invalid JSON, no text string,
 * ...; *id_json may be set too) or *text (valid UTF-8, NUL-terminated) and
 * *extra (pass-through members, or NULL) are.  -1: out of memory. */
int vkb_record_parse_json(const char *line, size_t n, const char *text_column, char **text,
                          size_t *text_len, char **extra, char **id_json, char **error);
/* A float32 as the output line writes it (at least 32 bytes; non-finite: null). */
int vkb_float_repr(float f, char *buf, size_t n);
void vkb_free(void *p);


/* ---- input readers ------------------------------------------------------- */

typedef enum {
    VKB_FMT_AUTO = 0, VKB_FMT_JSONL, VKB_FMT_CSV, VKB_FMT_TSV, VKB_FMT_TEXT, VKB_FMT_DIR
} vkb_in_format;

typedef struct vkb_input_opts {
    vkb_in_format format;      /* AUTO: by extension, else sniffed */
    const char *text_column;   /* JSON field / CSV column with the text; NULL = "text" */
    const char *label_column;  /* JSON field / CSV column with a gold label; NULL = "label" */
    size_t max_record;         /* bytes; longer records become errors; 0 = 64 MiB */
    const volatile int *interrupt; /* reading stops (returns -2) when *interrupt != 0 */
    /* Called (when non-NULL) as each file, stdin or directory is opened:
     * the format chosen, how ("--format", "extension" or "content") and the
     * compression ("gzip", "zstd" or NULL). */
    void (*on_source)(void *user, const char *source, vkb_in_format fmt, const char *how,
                      const char *compression);
    void *user;
} vkb_input_opts;

/* "JSON lines", "CSV", "TSV", "text lines", "IMDB directory" or "auto". */
const char *vkb_in_format_name(vkb_in_format f);

typedef struct vkb_record {
    char *text;          /* NUL-terminated, valid UTF-8 */
    size_t text_len;
    /* Pass-through fields as JSON object members without the braces
     * ("\"id\":7,\"lang\":\"en\""), or NULL.  JSON values are copied
     * byte for byte from the input line (numbers keep every digit; only
     * invalid UTF-8, replaced by U+FFFD, and raw control characters inside
     * strings, escaped, differ).  Members named label, score, scores, top_k,
     * logits, error or embedding are renamed input_<name> (more input_ prefixes while the name
     * is taken) so that they cannot clash with what `vkbert score` writes.
     * A JSON line with a duplicate key is an error record. */
    char *extra;
    char *label;         /* gold label as text (an int index is written in decimal), or NULL */
    char *error;         /* non-NULL: the record could not be parsed */
    char *id_json;       /* the record's "id" as JSON (its input bytes), when known */
    const char *source;  /* file name, "-" for stdin */
    long line;           /* 1-based line (or file index for directories) */
    double progress;     /* progress units consumed through this record */
} vkb_record;

typedef struct vkb_input vkb_input;

/* paths: files or directories; "-" or n == 0 means stdin. */
int vkb_input_open(const char *const *paths, int n, const vkb_input_opts *opts,
                   vkb_input **out, vkb_error *err);
/* 1: a record was read; 0: end of input; -1: read error (err set);
 * -2: interrupted.  -1 also ends a source whose text field is missing from
 * the start: a CSV/TSV header without the text column, or JSON lines whose
 * first objects (up to 8, or all of a shorter file) all lack the text field;
 * the message names the field and the fields present.  A binary or corrupt
 * compressed input, or an unusable format, is -1 too (message names the file).  The record must be released with vkb_record_clear. */
int vkb_input_next(vkb_input *in, vkb_record *r, vkb_error *err);
/* Total progress units (bytes of regular files, or files of directories);
 * 0 when unknown (stdin from a pipe). */
double vkb_input_total(const vkb_input *in);
void vkb_input_close(vkb_input *in);
void vkb_record_clear(vkb_record *r);

/* Returns a malloc'ed copy of s[0..n) with every invalid UTF-8 sequence
 * replaced by U+FFFD (one per maximal invalid subpart, as WHATWG/ICU do);
 * *out_len gets the new length. */
char *vkb_utf8_sanitize(const char *s, size_t n, size_t *out_len);
/* Appends s[0..n) as a JSON string literal (with quotes) to a growable buffer. */
int vkb_json_quote(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
