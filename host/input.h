/* input.h - readers for batch-scoring input (internal to libvkbert, used by
 * the CLI): JSON lines, CSV (RFC 4180 quoting, multi-line fields), TSV (IANA:
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
#ifndef VKB_INPUT_H
#define VKB_INPUT_H
#include "vkbert.h"
#include <stddef.h>

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
     * logits or error are renamed input_<name> (more input_ prefixes while the name
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
#endif
