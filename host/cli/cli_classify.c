/* cli_classify.c - `vkbert classify [TEXT...]`: prints what HF's
 * text-classification pipeline prints, as JSON:
 * [{"label": "POSITIVE", "score": 0.9998}, ...], one object per text.  With
 * no TEXT (or `-`) the texts are the lines of stdin, one per line.
 * --top-k K mirrors the pipeline's top_k: given, each text gets a list of its
 * K best labels, best first (K = all: every label, as top_k=None). */
#include "cli.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { const vkb_config *cfg; cli_buf *b; int top_k; } cls_ctx;

static void label_score(cls_ctx *c, int i, float p) {
    cb_puts(c->b, "{\"label\": ");
    if (c->cfg->labels && c->cfg->labels[i]) cb_json_str(c->b, c->cfg->labels[i]);
    else cb_printf(c->b, "\"LABEL_%d\"", i);
    cb_puts(c->b, ", \"score\": ");
    cb_float(c->b, p);
    cb_puts(c->b, "}");
}

static int on_result(void *ctx, const vkb_score *s) {
    cls_ctx *c = ctx;
    int nl = s->n_labels, best = 0;
    float p[nl];
    int order[nl];
    memcpy(p, s->logits, sizeof p);
    vkb_softmax(p, nl);
    for (int i = 1; i < nl; i++) if (s->logits[i] > s->logits[best]) best = i;
    if (s->index) cb_puts(c->b, ", ");
    if (!c->top_k) { label_score(c, best, p[best]); return 0; }
    /* labels by descending probability (ties: lower index first; the best
     * label by logits first, as in the default output) */
    order[0] = best;
    for (int i = 0, k = 1; i < nl; i++) if (i != best) order[k++] = i;
    for (int i = 2; i < nl; i++) {
        int v = order[i], j = i;
        while (j > 1 && (p[order[j - 1]] < p[v] || (p[order[j - 1]] == p[v] && order[j - 1] > v))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    int k = c->top_k < 0 || c->top_k > nl ? nl : c->top_k;
    cb_puts(c->b, "[");
    for (int i = 0; i < k; i++) {
        if (i) cb_puts(c->b, ", ");
        label_score(c, order[i], p[order[i]]);
    }
    cb_puts(c->b, "]");
    return 0;
}

int cli_classify(cli_opts *o) {
    int from_stdin = o->nargs == 0 || (o->nargs == 1 && !strcmp(o->args[0], "-"));
    vkb_model *m = cli_load_model(o);
    if (!m) return CLI_FAILED;
    if (vkb_model_config(m)->n_labels < 1) {
        fprintf(stderr, "vkbert classify: the model has no classifier head (no labels)\n");
        vkb_model_free(m);
        return CLI_FAILED;
    }
    int max_len = cli_max_len(o, m);
    vkb_backend *be = cli_open_backend(o, m, 0, max_len);
    if (!be) { vkb_model_free(m); return CLI_FAILED; }
    cli_buf b = {0};
    cb_puts(&b, "[");
    cls_ctx c = {vkb_model_config(m), &b, o->top_k};
    vkb_scorer_opts so = {0};
    so.max_len = max_len;
    so.batch_tokens = cli_batch_tokens(o, max_len);
    vkb_scorer *s = NULL;
    vkb_error e = {0};
    int rc = vkb_scorer_create(be, &so, on_result, &c, &s, &e), n = 0;
    if (from_stdin) {
        /* one text per line; empty lines are skipped, as everywhere else */
        vkb_input_opts io = {VKB_FMT_TEXT, NULL, NULL, 0, NULL, NULL, NULL};
        vkb_input *in = NULL;
        const char *stdin_only[1] = {"-"};
        if (rc == 0 && isatty(0) && !o->quiet)
            fprintf(stderr, "vkbert classify: reading texts from stdin, one per line (Ctrl-D ends)\n");
        if (rc == 0) rc = vkb_input_open(stdin_only, 1, &io, &in, &e);
        vkb_record r;
        int k = 0;
        while (rc == 0 && (k = vkb_input_next(in, &r, &e)) == 1) {
            if (r.error) {
                snprintf(e.msg, sizeof e.msg, "stdin line %ld: %s", r.line, r.error);
                rc = -1;
            } else {
                rc = vkb_scorer_add_text(s, r.text, r.text_len, NULL, &e);
                n++;
            }
            vkb_record_clear(&r);
        }
        if (rc == 0 && k < 0) rc = -1;
        vkb_input_close(in);
        if (rc == 0 && n == 0) {
            fprintf(stderr, "vkbert classify: no text to classify: give TEXT arguments or lines on stdin\n");
            vkb_scorer_free(s);
            free(b.p);
            vkb_backend_free(be);
            vkb_model_free(m);
            return CLI_USAGE;
        }
    } else {
        for (int i = 0; i < o->nargs && rc == 0; i++) {
            size_t l;
            char *t = vkb_utf8_sanitize(o->args[i], strlen(o->args[i]), &l);
            rc = t ? vkb_scorer_add_text(s, t, l, NULL, &e) : -1;
            free(t);
        }
    }
    if (rc == 0) rc = vkb_scorer_finish(s, &e);
    vkb_scorer_free(s);
    if (rc == 0) {
        cb_puts(&b, "]\n");
        fputs(b.p, stdout);
    } else {
        fprintf(stderr, "vkbert classify: %s\n", e.msg);
    }
    free(b.p);
    vkb_backend_free(be);
    vkb_model_free(m);
    if (fflush(stdout) && rc == 0) rc = -1;
    return rc ? CLI_FAILED : CLI_OK;
}
