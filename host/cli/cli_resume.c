/* cli_resume.c - the run record FILE.vkbert.json beside `vkbert score -o
 * FILE` (see cli_resume.h).  The input fingerprint is taken over the decoded
 * records (text, pass-through fields, parse errors), not the raw bytes, so it
 * works for stdin and is the same for a file and its gzip/zstd copy. */
#define _GNU_SOURCE
#include "cli_resume.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fmt_name(vkb_in_format f) {
    switch (f) {
    case VKB_FMT_JSONL: return "jsonl";
    case VKB_FMT_CSV: return "csv";
    case VKB_FMT_TSV: return "tsv";
    case VKB_FMT_TEXT: return "text";
    case VKB_FMT_DIR: return "dir";
    default: return "auto";
    }
}

int cli_run_init(cli_run *r, const cli_opts *o, int max_len) {
    char *last = r->last_line; /* set by the caller before */
    size_t last_len = r->last_len;
    memset(r, 0, sizeof *r);
    r->last_line = last;
    r->last_len = last_len;
    size_t n = strlen(o->output) + 32;
    r->path = malloc(n);
    r->tmp = malloc(n);
    if (!r->path || !r->tmp) { fprintf(stderr, "vkbert: out of memory\n"); return -1; }
    snprintf(r->path, n, "%s.vkbert.json", o->output);
    snprintf(r->tmp, n, "%s.vkbert.json.tmp", o->output);
    char model[PATH_MAX];
    const char *m = o->model ? (realpath(o->model, model) ? model : o->model) : "(built-in)";
    cli_buf *b = &r->opts;
    cb_puts(b, "\"model\":"); cb_json_str(b, m);
    cb_puts(b, ",\"format\":"); cb_json_str(b, fmt_name(o->format));
    cb_puts(b, ",\"text_column\":"); cb_json_str(b, o->text_column ? o->text_column : "text");
    cb_puts(b, ",\"label_column\":"); cb_json_str(b, o->label_column ? o->label_column : "label");
    cb_printf(b, ",\"max_len\":%d,\"precision\":\"%s\",\"all_scores\":%s,\"logits\":%s", max_len,
              o->precision == VKB_PREC_FP16 ? "fp16" : o->precision == VKB_PREC_FP32 ? "fp32" : "auto",
              o->all_scores ? "true" : "false", o->logits ? "true" : "false");
    cb_printf(b, ",\"shard\":[%d,%d]", o->shard_n > 1 ? o->shard_i : 0,
              o->shard_n > 1 ? o->shard_n : 1);
    if (o->embed) /* `vkbert embed` (score's records stay as they were) */
        cb_printf(b, ",\"embed\":{\"pooling\":\"%s\",\"normalize\":%s}", vkb_pooling_name(o->pooling),
                  o->normalize ? "true" : "false");
    r->h = 1469598103934665603ULL;
    return 0;
}

static char *slurp(const char *path, size_t max) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *p = malloc(max + 1);
    size_t n = p ? fread(p, 1, max, f) : 0;
    fclose(f);
    if (p) p[n] = 0;
    return p;
}

int cli_run_check(cli_run *r, const cli_opts *o, uint64_t lines) {
    if (lines == 0) return 0; /* nothing to continue */
    char *txt = slurp(r->path, 1 << 20);
    if (!txt) {
        fprintf(stderr, "vkbert %s: --resume: %s has %llu lines but no %s recording the "
                        "input and options it was written with, so continuing it could mix "
                        "two inputs; remove %s to score from the start\n", o->cmd,
                o->output, (unsigned long long)lines, r->path, o->output);
        return -1;
    }
    cJSON *old = cJSON_Parse(txt);
    free(txt);
    char *nw_txt = NULL;
    {
        cli_buf b = {0};
        cb_puts(&b, "{");
        cb_put(&b, r->opts.p, r->opts.n);
        cb_puts(&b, "}");
        nw_txt = b.p;
    }
    cJSON *nw = cJSON_Parse(nw_txt);
    free(nw_txt);
    int rc = 0;
    if (!old || !cJSON_IsObject(old) || !nw) {
        fprintf(stderr, "vkbert %s: --resume: %s is not a valid vkbert run record; remove "
                        "%s to score from the start\n", o->cmd, r->path, o->output);
        rc = -1;
    }
    for (cJSON *it = nw ? nw->child : NULL; it && rc == 0; it = it->next) {
        cJSON *ov = cJSON_GetObjectItemCaseSensitive(old, it->string);
        char *a = cJSON_PrintUnformatted(it), *b2 = ov ? cJSON_PrintUnformatted(ov) : NULL;
        if (!b2 || !a || strcmp(a, b2)) {
            fprintf(stderr, "vkbert %s: --resume: %s was written with %s %s, this run has "
                            "%s; its lines would not match (remove %s to score from the start)\n", o->cmd,
                    o->output, it->string, b2 ? b2 : "(not recorded)", a ? a : "?", o->output);
            rc = -1;
        }
        free(a);
        free(b2);
    }
    cJSON *in = cJSON_GetObjectItemCaseSensitive(old, "input");
    cJSON *ck;
    r->old_n_ck = 0;
    cJSON_ArrayForEach(ck, in) {
        if (!cJSON_IsString(ck) || r->old_n_ck >= RUN_MAX_CK) break;
        r->old_ck[r->old_n_ck++] = strtoull(ck->valuestring, NULL, 16);
    }
    cJSON_Delete(old);
    cJSON_Delete(nw);
    return rc;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) { h ^= s[i]; h *= 1099511628211ULL; }
    return h;
}

int cli_run_add(cli_run *r, const cli_opts *o, const vkb_record *rec) {
    unsigned char sep[2] = {0, rec->error ? 1 : 2};
    if (!rec->error && rec->text) r->h = fnv(r->h, rec->text, rec->text_len);
    r->h = fnv(r->h, sep, 2);
    if (rec->extra) r->h = fnv(r->h, rec->extra, strlen(rec->extra));
    r->h = fnv(r->h, sep, 2);
    r->n++;
    if ((r->n & (r->n - 1)) || r->n_ck >= RUN_MAX_CK) return 0; /* not a power of two */
    int k = r->n_ck;
    r->ck[r->n_ck++] = r->h;
    if (k < r->old_n_ck && r->old_ck[k] != r->h) {
        fprintf(stderr, "\nvkbert %s: --resume: the input differs from the one %s was "
                        "written from (its first %llu records are not the same); refusing to "
                        "append (remove %s to score from the start)\n", o->cmd,
                o->output, (unsigned long long)r->n, o->output);
        return -1;
    }
    if (k >= r->old_n_ck) return cli_run_write(r, o, 0, 0, 0);
    return 0;
}

int cli_run_check_last(const cli_run *r, const cli_opts *o, const vkb_record *rec) {
    if (!r->last_line) return 0;
    cli_buf want = {0};
    if (rec->error) {
        cb_printf(&want, "{\"line\":%ld,\"error\":", rec->line);
    } else {
        cb_puts(&want, "{");
        if (rec->extra && *rec->extra) { cb_puts(&want, rec->extra); cb_puts(&want, ","); }
        cb_puts(&want, o->embed ? "\"embedding\":" : "\"label\":");
    }
    int ok = r->last_len >= want.n && memcmp(r->last_line, want.p, want.n) == 0;
    free(want.p);
    if (ok) return 0;
    fprintf(stderr, "\nvkbert %s: --resume: the last line of %s was not written for input "
                    "%s line %ld, the last record it should hold: it is another input's output; "
                    "refusing to append (remove %s to score from the start)\n", o->cmd,
            o->output, rec->source ? rec->source : "-", rec->line, o->output);
    return -1;
}

int cli_run_write(cli_run *r, const cli_opts *o, int complete, uint64_t records, uint64_t lines) {
    cli_buf b = {0};
    cb_printf(&b, "{\"vkbert\":\"%s\",\"output\":", VKB_VERSION);
    const char *base = strrchr(o->output, '/');
    cb_json_str(&b, base ? base + 1 : o->output);
    cb_puts(&b, ",");
    cb_put(&b, r->opts.p, r->opts.n);
    cb_puts(&b, ",\"input\":[");
    int n = r->n_ck > r->old_n_ck ? r->n_ck : r->old_n_ck;
    for (int k = 0; k < n; k++)
        cb_printf(&b, "%s\"%016llx\"", k ? "," : "",
                  (unsigned long long)(k < r->n_ck ? r->ck[k] : r->old_ck[k]));
    cb_puts(&b, "]");
    if (complete)
        cb_printf(&b, ",\"complete\":true,\"records\":%llu,\"lines\":%llu",
                  (unsigned long long)records, (unsigned long long)lines);
    else
        cb_puts(&b, ",\"complete\":false");
    cb_puts(&b, "}\n");
    FILE *f = fopen(r->tmp, "wb");
    int rc = f ? 0 : -1;
    if (f && fwrite(b.p, 1, b.n, f) != b.n) rc = -1;
    if (f && fclose(f)) rc = -1;
    if (rc == 0 && rename(r->tmp, r->path)) rc = -1;
    free(b.p);
    if (rc) {
        fprintf(stderr, "\nvkbert %s: cannot write %s: %s\n", o->cmd, r->path, strerror(errno));
        unlink(r->tmp);
    }
    return rc;
}

void cli_run_free(cli_run *r) {
    free(r->path);
    free(r->tmp);
    free(r->opts.p);
    free(r->last_line);
}
