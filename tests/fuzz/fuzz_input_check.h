/* fuzz_input_check.h - the body of the input-reader fuzz targets
 * (fuzz_jsonl.c, fuzz_csv.c, fuzz_tsv.c): the bytes become a file that
 * host/input.c reads in the given format (compressed input included: gzip
 * and zstd are recognised by their magic bytes).  Invariants: every record
 * is an error with a message or has NUL-terminated, valid UTF-8 text;
 * pass-through members, the id and the label are valid UTF-8 and valid
 * JSON; line numbers and progress never go backwards and progress stays
 * within the file; a failure carries a message. */
#ifndef VKB_FUZZ_INPUT_CHECK_H
#define VKB_FUZZ_INPUT_CHECK_H
#include "fuzz_common.h"
#include "vkbert_io.h"
#include <cjson/cJSON.h>

static void fuzz_utf8(const char *s, size_t n, const char *what) {
    size_t l;
    char *c = vkb_utf8_sanitize(s, n, &l);
    FUZZ_ASSERT(c != NULL, "sanitize");
    FUZZ_ASSERT(l == n && memcmp(c, s, n) == 0, "%s is not valid UTF-8", what);
    free(c);
}

static void fuzz_json(const char *s, const char *what) {
    size_t n = strlen(s);
    fuzz_utf8(s, n, what);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n + 1, &end, 1);
    FUZZ_ASSERT(j != NULL, "%s is not JSON: %.300s", what, s);
    cJSON_Delete(j);
}

static int fuzz_input(const uint8_t *data, size_t size, vkb_in_format fmt, const char *name) {
    static const char *const names[] = {"in.jsonl", "in.csv", "in.tsv", NULL};
    const char *dir = fuzz_tmpdir(names);
    FUZZ_ASSERT(fuzz_write_file(dir, name, data, size) == 0, "cannot write %s", name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const char *paths[1] = {path};
    vkb_input_opts o = {0};
    o.format = fmt;
    o.max_record = 1 << 16;
    vkb_input *in = NULL;
    vkb_error err = {0};
    FUZZ_ASSERT(vkb_input_open(paths, 1, &o, &in, &err) == 0, "open: %s", err.msg);
    vkb_record r;
    int rc;
    long last_line = 0;
    double last_prog = 0;
    while ((rc = vkb_input_next(in, &r, &err)) == 1) {
        FUZZ_ASSERT(r.source != NULL, "record without a source");
        FUZZ_ASSERT(r.line >= last_line && r.line >= 1, "line %ld after %ld", r.line, last_line);
        FUZZ_ASSERT(r.progress >= last_prog && r.progress <= (double)size, "progress %f after %f (size %zu)",
                    r.progress, last_prog, size);
        last_line = r.line;
        last_prog = r.progress;
        if (r.error) {
            FUZZ_ASSERT(r.error[0] != 0, "empty error message");
            FUZZ_ASSERT(r.text == NULL, "error record with text");
            fuzz_utf8(r.error, strlen(r.error), "error message");
        } else {
            FUZZ_ASSERT(r.text != NULL && r.text[r.text_len] == 0, "record without text");
            fuzz_utf8(r.text, r.text_len, "text");
        }
        if (r.extra) {
            size_t n = strlen(r.extra);
            char *obj = malloc(n + 3);
            FUZZ_ASSERT(obj != NULL, "malloc");
            obj[0] = '{';
            memcpy(obj + 1, r.extra, n);
            obj[n + 1] = '}';
            obj[n + 2] = 0;
            fuzz_json(obj, "pass-through members");
            free(obj);
        }
        if (r.id_json) fuzz_json(r.id_json, "id");
        if (r.label) fuzz_utf8(r.label, strlen(r.label), "label");
        vkb_record_clear(&r);
    }
    if (rc < 0) {
        fuzz_check_error(&err);
        fuzz_note("error", err.msg);
    }
    vkb_input_close(in);
    return 0;
}
#endif
