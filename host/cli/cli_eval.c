/* cli_eval.c - `vkbert eval`: the model card's table (Accuracy, F1,
 * Precision, Recall, inference time) on labeled data, as Markdown and JSON.
 *
 * Binary models: the positive class is label 1 (POSITIVE); multi-class:
 * macro averages over the labels that occur in gold or predictions (as
 * scikit-learn's average="macro").  Inference time is the wall time of
 * tokenizing and scoring (not of reading the file) divided by the number of
 * examples.  --balanced N draws N/2 examples of label 1 and N/2 of label 0:
 * each class's examples are shuffled by Fisher-Yates with splitmix64 seeded
 * by --seed (default 42), the first N/2 of each are kept, in input order. */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_progress.h"
#include "clock.h"
#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ex { char *text; size_t len; int gold; } ex;

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

typedef struct { int *pred; } ev_ctx;

static uint64_t scored(void *s) { return vkb_scorer_progress(s); }

static int on_result(void *ctx, const vkb_score *s) {
    ev_ctx *c = ctx;
    int best = 0;
    for (int i = 1; i < s->n_labels; i++) if (s->logits[i] > s->logits[best]) best = i;
    c->pred[s->index] = best;
    return 0;
}

int cli_eval(cli_opts *o) {
    if (o->balanced % 2) {
        fprintf(stderr, "vkbert eval: --balanced N takes N/2 examples of each label: N must be even, got %d\n",
                o->balanced);
        return CLI_USAGE;
    }
    if (o->seed_set && !o->balanced) {
        fprintf(stderr, "vkbert eval: --seed only applies with --balanced N\n");
        return CLI_USAGE;
    }
    /* --json takes the OUTPUT file: `eval --json dev.jsonl` would otherwise
     * read stdin and overwrite the data set meant as input */
    if (o->json_file && strcmp(o->json_file, "-")) {
        struct stat js;
        int exists = stat(o->json_file, &js) == 0;
        if (exists && o->nargs == 0) {
            fprintf(stderr, "vkbert eval: --json %s: that file exists and no input was given; --json "
                            "takes the file to write (e.g. --json metrics.json INPUT, or --json - INPUT)\n",
                    o->json_file);
            return CLI_USAGE;
        }
        for (int i = 0; exists && i < o->nargs; i++) {
            struct stat is;
            if (stat(o->args[i], &is) == 0 && is.st_dev == js.st_dev && is.st_ino == js.st_ino) {
                fprintf(stderr, "vkbert eval: --json %s is also an input: refusing to overwrite it\n",
                        o->json_file);
                return CLI_USAGE;
            }
        }
    }
    cli_install_signals();
    vkb_model *m = cli_load_model(o);
    if (!m) return CLI_FAILED;
    const vkb_config *cfg = vkb_model_config(m);
    int nl = cfg->n_labels;
    if (nl < 1) {
        fprintf(stderr, "vkbert eval: the model has no classifier head (no labels) to evaluate\n");
        vkb_model_free(m);
        return CLI_FAILED;
    }
    vkb_input_opts io = {o->format, o->text_column, o->label_column, 0, cli_interrupt_flag(),
                         cli_on_source, o};
    vkb_input *in = NULL;
    vkb_error e = {0};
    if (vkb_input_open((const char *const *)o->args, o->nargs, &io, &in, &e)) {
        fprintf(stderr, "vkbert eval: %s\n", e.msg);
        vkb_model_free(m);
        return CLI_FAILED;
    }
    ex *xs = NULL;
    int n = 0, cap = 0, bad = 0, unknown = 0, k;
    const char *lcol = o->label_column ? o->label_column : "label";
    vkb_record r;
    while ((k = vkb_input_next(in, &r, &e)) == 1) {
        int g = r.error ? -1 : cli_label_index(cfg, r.label);
        if (g < 0) {
            if (!r.error && r.label) unknown++;
            if (bad++ < 5) {
                if (r.error)
                    fprintf(stderr, "vkbert eval: %s line %ld: %s\n", r.source, r.line, r.error);
                else if (r.label)
                    fprintf(stderr, "vkbert eval: %s line %ld: label '%.100s': label not known to the model\n",
                            r.source, r.line, r.label);
                else
                    fprintf(stderr, "vkbert eval: %s line %ld: no usable \"%s\" field (a label index or name; "
                            "--label-column names another)\n", r.source, r.line, lcol);
            }
            vkb_record_clear(&r);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            ex *nx = realloc(xs, sizeof(ex) * (size_t)cap);
            if (!nx) { fprintf(stderr, "vkbert: out of memory\n"); exit(1); }
            xs = nx;
        }
        xs[n].text = r.text; r.text = NULL;
        xs[n].len = r.text_len;
        xs[n].gold = g;
        n++;
        vkb_record_clear(&r);
    }
    vkb_input_close(in);
    int rc = CLI_OK;
    if (k < 0) {
        if (k == -1) fprintf(stderr, "vkbert eval: %s\n", e.msg);
        rc = k == -2 ? CLI_INTERRUPTED : CLI_FAILED;
    }
    if (bad && rc == CLI_OK) {
        /* metrics over a silently smaller set would be a wrong answer: no table */
        fprintf(stderr, "vkbert eval: %d record(s) without a usable label; no metrics computed\n", bad);
        if (unknown) {
            fprintf(stderr, "vkbert eval: the model's labels are:");
            for (int i = 0; i < nl; i++)
                fprintf(stderr, " %d=%s", i, cfg->labels && cfg->labels[i] ? cfg->labels[i] : "?");
            fprintf(stderr, "\n");
        }
        rc = CLI_FAILED;
    }
    /* --balanced: which examples take part */
    int *sel = malloc(sizeof(int) * (size_t)(n ? n : 1)), ns = 0;
    if (o->balanced && rc == CLI_OK) {
        if (nl != 2) {
            fprintf(stderr, "vkbert eval: --balanced needs a binary model (this one has %d labels)\n", nl);
            rc = CLI_FAILED; n = 0;
        }
        int half = o->balanced / 2;
        for (int cls = 1; cls >= 0 && n; cls--) {
            int *idx = malloc(sizeof(int) * (size_t)n), m2 = 0;
            for (int i = 0; i < n; i++) if (xs[i].gold == cls) idx[m2++] = i;
            if (m2 < half) {
                fprintf(stderr, "vkbert eval: --balanced %d needs %d examples of label %d, the data has %d\n",
                        o->balanced, half, cls, m2);
                rc = CLI_FAILED;
            }
            uint64_t seed = o->seed * 2 + (uint64_t)cls;
            for (int i = m2 - 1; i > 0; i--) {
                int j = (int)(splitmix64(&seed) % (uint64_t)(i + 1));
                int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
            }
            for (int i = 0; i < half && i < m2; i++) sel[ns++] = idx[i];
            free(idx);
        }
        qsort(sel, (size_t)ns, sizeof(int), cmp_int);
    } else {
        for (int i = 0; i < n; i++) sel[ns++] = i;
    }
    if (ns == 0 || rc != CLI_OK) {
        if (rc == CLI_OK) { fprintf(stderr, "vkbert eval: no labeled examples\n"); rc = CLI_FAILED; }
        for (int i = 0; i < n; i++) free(xs[i].text);
        free(xs); free(sel); vkb_model_free(m);
        return rc;
    }
    int to_stdout_json = o->json_file && !strcmp(o->json_file, "-");
    FILE *jf = NULL;
    if (o->json_file && !to_stdout_json && !(jf = fopen(o->json_file, "w"))) {
        fprintf(stderr, "vkbert eval: cannot write %s: %s\n", o->json_file, strerror(errno));
        for (int i = 0; i < n; i++) free(xs[i].text);
        free(xs); free(sel); vkb_model_free(m);
        return CLI_FAILED;
    }
    int max_len = cli_max_len(o, m);
    vkb_backend *be = cli_open_backend(o, m, 0, max_len);
    int *pred = calloc((size_t)ns, sizeof(int));
    ev_ctx c = {pred};
    double t0 = vkb_now_s(), el = 0;
    int frc = -1;
    if (be) {
        vkb_scorer_opts so = {0};
        so.max_len = max_len;
        so.batch_tokens = cli_batch_tokens(o, max_len);
        so.window = o->window;
        so.no_sort = o->no_sort;
        so.interrupt = cli_interrupt_flag();
        cli_fault_injection(&so);
        vkb_scorer *s = NULL;
        frc = vkb_scorer_create(be, &so, on_result, &c, &s, &e);
        cli_progress *pg = frc ? NULL : cli_progress_start(o->quiet, ns, scored, s);
        cli_progress_read(pg, (uint64_t)ns, ns, ns, 1);
        for (int i = 0; i < ns && frc == 0; i++)
            frc = vkb_scorer_add_text(s, xs[sel[i]].text, xs[sel[i]].len, NULL, &e);
        if (frc == 0) frc = vkb_scorer_finish(s, &e);
        cli_progress_stop(pg);
        el = vkb_now_s() - t0;
        vkb_scorer_free(s);
        if (frc && !vkb_cli_interrupted) fprintf(stderr, "vkbert eval: %s\n", e.msg);
    }
    if (vkb_cli_interrupted) frc = -1, rc = CLI_INTERRUPTED;
    if (frc == 0) {
        /* confusion counts */
        long correct = 0;
        long *tp = calloc((size_t)nl, sizeof(long)), *fp = calloc((size_t)nl, sizeof(long)),
             *fn = calloc((size_t)nl, sizeof(long));
        int *present = calloc((size_t)nl, sizeof(int));
        for (int i = 0; i < ns; i++) {
            int g = xs[sel[i]].gold, p = pred[i];
            present[g] = present[p] = 1;
            if (g == p) { correct++; tp[g]++; } else { fp[p]++; fn[g]++; }
        }
        double acc = (double)correct / ns, prec = 0, rec = 0, f1 = 0;
        int binary = nl == 2;
        for (int l = 0, used = 0; l < nl; l++) {
            if (binary && l != 1) continue;
            if (!binary && !present[l]) continue;
            double P = tp[l] + fp[l] ? (double)tp[l] / (double)(tp[l] + fp[l]) : 0;
            double R = tp[l] + fn[l] ? (double)tp[l] / (double)(tp[l] + fn[l]) : 0;
            double F = P + R > 0 ? 2 * P * R / (P + R) : 0;
            used++;
            prec += (P - prec) / used; rec += (R - rec) / used; f1 += (F - f1) / used;
        }
        double ms = el * 1000.0 / ns;
        const char *dev = vkb_backend_device(be);
        int npos = 0;
        for (int i = 0; i < ns; i++) npos += xs[sel[i]].gold == 1;
        if (!to_stdout_json) {
            printf("| Metric | Value |\n| --- | --- |\n");
            printf("| Accuracy | %.4f |\n| F1 | %.4f |\n| Precision | %.4f |\n| Recall | %.4f |\n",
                   acc, f1, prec, rec);
            printf("| Inference time (ms/example) | %.2f |\n\n", ms);
            printf("%d examples", ns);
            if (binary) printf(" (%d positive, %d negative)", npos, ns - npos);
            printf("%s; %s; device: %s\n", o->balanced ? ", balanced" : "",
                   binary ? "positive class = label 1" : "macro averages", dev);
        }
        if (o->json_file) {
            FILE *f = to_stdout_json ? stdout : jf;
            jf = NULL;
            {
                cli_buf b = {0};
                cb_printf(&b, "{\"accuracy\": %.6f, \"f1\": %.6f, \"precision\": %.6f, \"recall\": %.6f, "
                          "\"ms_per_example\": %.4f, \"examples\": %d, \"positive\": %d, \"average\": \"%s\", "
                          "\"balanced\": %s, \"seed\": %llu, \"device\": ",
                          acc, f1, prec, rec, ms, ns, binary ? npos : -1, binary ? "binary" : "macro",
                          o->balanced ? "true" : "false", (unsigned long long)o->seed);
                cb_json_str(&b, dev);
                cb_puts(&b, "}\n");
                fputs(b.p, f);
                free(b.p);
                if (f != stdout && fclose(f)) {
                    fprintf(stderr, "vkbert eval: cannot write %s: %s\n", o->json_file, strerror(errno));
                    rc = CLI_FAILED;
                }
            }
        }
        free(tp); free(fp); free(fn); free(present);
    } else if (rc == CLI_OK) {
        rc = CLI_FAILED;
    }
    if (jf) { fclose(jf); remove(o->json_file); } /* nothing to write: no table */
    free(pred);
    vkb_backend_free(be);
    for (int i = 0; i < n; i++) free(xs[i].text);
    free(xs);
    free(sel);
    vkb_model_free(m);
    if (fflush(stdout)) rc = CLI_FAILED;
    return rc;
}
