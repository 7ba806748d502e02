/* cli_tokenize.c - `vkbert tokenize [TEXT...]`: each TEXT argument, or
 * else each stdin line, -> a JSON array of ids.  A stdin line is a JSON object with a string "text" field when it parses as one,
 * else plain text; empty lines are skipped like everywhere else. */
#define _GNU_SOURCE
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_tokenize(cli_opts *o) {
    cli_install_signals();
    vkb_model *m = cli_load_model(o);
    if (!m) return CLI_FAILED;
    const vkb_tokenizer *tok = vkb_model_tokenizer(m);
    if (!tok) {
        fprintf(stderr, "vkbert tokenize: the model has no vocabulary\n");
        vkb_model_free(m);
        return CLI_FAILED;
    }
    int max_len = cli_max_len(o, m);
    const char *col = o->text_column ? o->text_column : "text";
    int from_stdin = o->nargs == 0 || (o->nargs == 1 && !strcmp(o->args[0], "-"));
    vkb_input_opts io = {VKB_FMT_TEXT, NULL, NULL, 0, cli_interrupt_flag(), NULL, NULL};
    vkb_input *in = NULL;
    vkb_error e = {0};
    const char *stdin_only[1] = {"-"};
    if (from_stdin && isatty(0) && !o->quiet)
        fprintf(stderr, "vkbert tokenize: reading lines from stdin (Ctrl-D ends; or give TEXT arguments)\n");
    if (from_stdin && vkb_input_open(stdin_only, 1, &io, &in, &e)) {
        fprintf(stderr, "vkbert tokenize: %s\n", e.msg);
        vkb_model_free(m);
        return CLI_FAILED;
    }
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)max_len);
    cli_buf b = {0};
    int rc = CLI_OK;
    if (!from_stdin) {
        /* TEXT arguments: one array each */
        for (int i = 0; i < o->nargs && ids && rc == CLI_OK; i++) {
            int n = vkb_tokenize(tok, o->args[i], strlen(o->args[i]), max_len, ids);
            if (n < 0) { fprintf(stderr, "vkbert tokenize: tokenizer failed\n"); rc = CLI_FAILED; break; }
            b.n = 0;
            cb_puts(&b, "[");
            for (int j = 0; j < n; j++) cb_printf(&b, j ? ", %d" : "%d", ids[j]);
            cb_puts(&b, "]\n");
            if (cli_write_all(1, b.p, b.n)) {
                if (errno == EPIPE) rc = 141;
                else { fprintf(stderr, "vkbert tokenize: write error: %s\n", strerror(errno)); rc = CLI_FAILED; }
            }
        }
        free(ids);
        free(b.p);
        vkb_model_free(m);
        return rc;
    }
    vkb_record r;
    int k;
    while (ids && (k = vkb_input_next(in, &r, &e)) == 1) {
        const char *text = r.text;
        size_t len = r.text_len;
        cJSON *j = NULL;
        if (r.text[strspn(r.text, " \t")] == '{') {
            j = cJSON_ParseWithLength(r.text, r.text_len);
            cJSON *t = cJSON_GetObjectItemCaseSensitive(j, col);
            if (cJSON_IsObject(j) && cJSON_IsString(t)) {
                text = t->valuestring;
                len = strlen(text);
            }
        }
        int n = vkb_tokenize(tok, text, len, max_len, ids);
        cJSON_Delete(j);
        vkb_record_clear(&r);
        b.n = 0;
        cb_puts(&b, "[");
        for (int i = 0; i < n; i++) cb_printf(&b, i ? ", %d" : "%d", ids[i]);
        cb_puts(&b, "]\n");
        if (n < 0) { fprintf(stderr, "vkbert tokenize: tokenizer failed\n"); rc = CLI_FAILED; break; }
        if (cli_write_all(1, b.p, b.n)) {
            if (errno == EPIPE) rc = 141;
            else { fprintf(stderr, "vkbert tokenize: write error: %s\n", strerror(errno)); rc = CLI_FAILED; }
            break;
        }
    }
    if (rc == CLI_OK && k == -1) { fprintf(stderr, "vkbert tokenize: %s\n", e.msg); rc = CLI_FAILED; }
    free(ids);
    free(b.p);
    vkb_input_close(in);
    vkb_model_free(m);
    if (vkb_cli_interrupted) return CLI_INTERRUPTED;
    return rc;
}
