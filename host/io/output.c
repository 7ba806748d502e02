/* output.c - the output line of `vkbert score`, one contract for every front
 * end (the CLI, the Python binding and its Dask recipe): see vkbert.h,
 * vkb_result_json / vkb_error_json / vkb_record_parse_json. */
#define _GNU_SOURCE
#include "error.h"
#include "vkbert_io.h"
#include "strbuf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef vkb_strbuf obuf; /* strbuf.h: oom is looked at once per line */
#define ob_put vkb_sb_put
#define ob_puts vkb_sb_puts
static void ob_str(obuf *b, const char *s) {
    if (b->oom) return;
    if (vkb_json_quote(&b->p, &b->n, &b->cap, s, strlen(s))) b->oom = 1;
}

int vkb_float_repr(float f, char *buf, size_t n) {
    if (n < 32) return -1;
    if (!isfinite(f)) { snprintf(buf, n, "null"); return 0; }
    /* shortest digits that give back the same float32, Python repr style */
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, n, "%.*g", p, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    return 0;
}

static void ob_float(obuf *b, float f) {
    char t[40];
    vkb_float_repr(f, t, sizeof t);
    ob_puts(b, t);
}

static void ob_label(obuf *b, const vkb_config *cfg, int i) {
    if (cfg->labels && cfg->labels[i]) {
        ob_str(b, cfg->labels[i]);
    } else {
        char t[32];
        snprintf(t, sizeof t, "\"LABEL_%d\"", i);
        ob_puts(b, t);
    }
}

static int finish(obuf *b, char **out, size_t *out_len, vkb_error *err) {
    if (b->oom) {
        free(b->p);
        *out = NULL;
        return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory formatting an output line");
    }
    *out = b->p;
    if (out_len) *out_len = b->n;
    return 0;
}

int vkb_result_json(const vkb_config *cfg, const char *extra, const float *logits, int n_labels,
                    unsigned flags, int top_k, char **out, size_t *out_len, vkb_error *err) {
    *out = NULL;
    if (!cfg || !logits || n_labels < 1 || n_labels != cfg->n_labels)
        return vkb_fail(err, "vkb_result_json: %d logits for a model with %d labels", n_labels,
                        cfg ? cfg->n_labels : -1);
    float *p = malloc(sizeof(float) * (size_t)n_labels);
    int *order = malloc(sizeof(int) * (size_t)n_labels);
    if (!p || !order) {
        free(p); free(order);
        return vkb_failc(err, VKB_ERR_HOST_OOM, "out of memory formatting an output line");
    }
    memcpy(p, logits, sizeof(float) * (size_t)n_labels);
    vkb_softmax(p, n_labels);
    int best = 0;
    for (int i = 1; i < n_labels; i++) if (logits[i] > logits[best]) best = i;
    obuf b = {0};
    ob_puts(&b, "{");
    if (extra && *extra) { ob_puts(&b, extra); ob_puts(&b, ","); }
    ob_puts(&b, "\"label\":");
    ob_label(&b, cfg, best);
    ob_puts(&b, ",\"score\":");
    ob_float(&b, p[best]);
    if (flags & VKB_OUT_ALL_SCORES) {
        ob_puts(&b, ",\"scores\":{");
        for (int i = 0; i < n_labels; i++) {
            if (i) ob_puts(&b, ",");
            ob_label(&b, cfg, i);
            ob_puts(&b, ":");
            ob_float(&b, p[i]);
        }
        ob_puts(&b, "}");
    }
    if (top_k) {
        /* the K best labels by probability, best first (ties: lower index;
         * the arg-max label first, as "label") */
        order[0] = best;
        for (int i = 0, k = 1; i < n_labels; i++) if (i != best) order[k++] = i;
        for (int i = 2; i < n_labels; i++) {
            int v = order[i], j = i;
            while (j > 1 && (p[order[j - 1]] < p[v] || (p[order[j - 1]] == p[v] && order[j - 1] > v))) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = v;
        }
        int k = top_k < 0 || top_k > n_labels ? n_labels : top_k;
        ob_puts(&b, ",\"top_k\":[");
        for (int i = 0; i < k; i++) {
            ob_puts(&b, i ? ",{\"label\":" : "{\"label\":");
            ob_label(&b, cfg, order[i]);
            ob_puts(&b, ",\"score\":");
            ob_float(&b, p[order[i]]);
            ob_puts(&b, "}");
        }
        ob_puts(&b, "]");
    }
    if (flags & VKB_OUT_LOGITS) {
        ob_puts(&b, ",\"logits\":[");
        for (int i = 0; i < n_labels; i++) {
            if (i) ob_puts(&b, ",");
            ob_float(&b, logits[i]);
        }
        ob_puts(&b, "]");
    }
    ob_puts(&b, "}\n");
    free(p);
    free(order);
    return finish(&b, out, out_len, err);
}

int vkb_embedding_json(const char *extra, const float *v, int dim, char **out, size_t *out_len,
                       vkb_error *err) {
    *out = NULL;
    if (!v || dim < 1) return vkb_fail(err, "vkb_embedding_json: an embedding of %d values", dim);
    obuf b = {0};
    ob_puts(&b, "{");
    if (extra && *extra) { ob_puts(&b, extra); ob_puts(&b, ","); }
    ob_puts(&b, "\"embedding\":[");
    for (int i = 0; i < dim; i++) {
        if (i) ob_puts(&b, ",");
        ob_float(&b, v[i]);
    }
    ob_puts(&b, "]}\n");
    return finish(&b, out, out_len, err);
}

int vkb_error_json(long line, const char *error, const char *id_json, const char *source,
                   char **out, size_t *out_len, vkb_error *err) {
    *out = NULL;
    obuf b = {0};
    char t[48];
    snprintf(t, sizeof t, "{\"line\":%ld,\"error\":", line);
    ob_puts(&b, t);
    ob_str(&b, error ? error : "error");
    if (id_json) { ob_puts(&b, ",\"id\":"); ob_puts(&b, id_json); }
    if (source) { ob_puts(&b, ",\"file\":"); ob_str(&b, source); }
    ob_puts(&b, "}\n");
    return finish(&b, out, out_len, err);
}

void vkb_free(void *p) { free(p); }

void vkb_softmax(float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++) if (x[i] > mx) mx = x[i];
    double s = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - mx); s += x[i]; }
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] / s);
}

void vkb_l2_normalize(float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    double norm = sqrt(s);
    if (norm < 1e-12) norm = 1e-12;
    for (int i = 0; i < n; i++) v[i] = (float)(v[i] / norm);
}
