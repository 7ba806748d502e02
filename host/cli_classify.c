/* cli_classify.c - `vkbert classify TEXT...`: prints what HF's
 * text-classification pipeline prints, as JSON:
 * [{"label": "POSITIVE", "score": 0.9998}, ...], one object per text. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

typedef struct { const vkb_config *cfg; cli_buf *b; } cls_ctx;

static int on_result(void *ctx, const vkb_score *s) {
    cls_ctx *c = ctx;
    int nl = s->n_labels, best = 0;
    float p[nl];
    memcpy(p, s->logits, sizeof p);
    vkb_softmax(p, nl);
    for (int i = 1; i < nl; i++) if (s->logits[i] > s->logits[best]) best = i;
    if (s->index) cb_puts(c->b, ", ");
    cb_puts(c->b, "{\"label\": ");
    if (c->cfg->labels && c->cfg->labels[best]) cb_json_str(c->b, c->cfg->labels[best]);
    else cb_printf(c->b, "\"LABEL_%d\"", best);
    cb_puts(c->b, ", \"score\": ");
    cb_float(c->b, p[best]);
    cb_puts(c->b, "}");
    return 0;
}

int cli_classify(cli_opts *o) {
    if (o->nargs < 1) {
        fprintf(stderr, "usage: vkbert classify [options] TEXT...\n");
        return CLI_USAGE;
    }
    vkb_model *m = cli_load_model(o);
    if (!m) return CLI_FAILED;
    int max_len = cli_max_len(o, m);
    vkb_backend *be = cli_open_backend(o, m, 0, max_len);
    if (!be) { vkb_model_free(m); return CLI_FAILED; }
    cli_buf b = {0};
    cb_puts(&b, "[");
    cls_ctx c = {vkb_model_config(m), &b};
    vkb_scorer_opts so = {0};
    so.max_len = max_len;
    so.batch_tokens = cli_batch_tokens(o, max_len);
    vkb_scorer *s = NULL;
    vkb_error e = {{0}};
    int rc = vkb_scorer_create(be, &so, on_result, &c, &s, &e);
    for (int i = 0; i < o->nargs && rc == 0; i++) {
        size_t l;
        char *t = vkb_utf8_sanitize(o->args[i], strlen(o->args[i]), &l);
        rc = t ? vkb_scorer_add_text(s, t, l, NULL, &e) : -1;
        free(t);
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
