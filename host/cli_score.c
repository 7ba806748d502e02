/* cli_score.c - `vkbert score`: records from the input readers go into the
 * library's batch scorer (host/scorer.c); its results come back in input
 * order on the scorer's thread and are written here, one complete JSON line
 * per write(2), so that a closed pipe, SIGINT or a device failure leaves only
 * complete lines behind.  `--resume` continues an -o FILE from its last
 * complete line.
 *
 * Scaling (docs/scaling.md): --device all / a device list opens one backend
 * per device (each its own weights and queue) for one scorer with a worker
 * per backend; --shard I/N keeps records k with k mod N == I; backends are
 * created with vkb_backend_create_fit so that a device (or --max-device-mem
 * cap) too small for the token budget gets smaller batches and a note. */
#define _GNU_SOURCE
#include "cli.h"
#include "clock.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What travels through the scorer with each record. */
typedef struct rec_user {
    char *extra, *error, *id_json;
    const char *source;
    long line;
    double progress;
} rec_user;

typedef struct score_ctx {
    const cli_opts *o;
    const vkb_config *cfg;
    int fd, multi_src;
    uint64_t delivered, errors;
    int write_errno;       /* write failed: EPIPE = reader went away */
    cli_buf line;
    /* progress */
    int tty;
    double total, t0, last;
} score_ctx;

static void fmt_dur(char *b, size_t n, double s) {
    if (s < 0 || !isfinite(s)) { snprintf(b, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(b, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(b, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(b, n, "%lds", t);
}

static void progress(score_ctx *c, double done_units, int final) {
    double t = vkb_now_s();
    if (!final && t - c->last < 0.2) return;
    c->last = t;
    double el = t - c->t0, rate = el > 0 ? (double)c->delivered / el : 0;
    char line[200];
    if (c->total > 0) {
        double frac = done_units / c->total;
        if (frac > 1) frac = 1;
        char eta[32];
        fmt_dur(eta, sizeof eta, frac > 0 ? el * (1 - frac) / frac : -1);
        char bar[26];
        int fill = (int)(frac * 24);
        for (int i = 0; i < 24; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[24] = 0;
        snprintf(line, sizeof line, "\r[%s] %3.0f%%  %llu items  %.1f items/s  ETA %s   ", bar,
                 frac * 100, (unsigned long long)c->delivered, rate, eta);
    } else {
        snprintf(line, sizeof line, "\r%llu items  %.1f items/s   ",
                 (unsigned long long)c->delivered, rate);
    }
    fputs(line, stderr);
    if (final) fputs("\n", stderr);
    fflush(stderr);
}

static void free_user(rec_user *u) {
    if (!u) return;
    free(u->extra);
    free(u->error);
    free(u->id_json);
    free(u);
}

/* The line itself comes from the library (vkb_result_json, vkb_error_json),
 * the one output contract shared with the Python binding. */
static void put_line(score_ctx *c, int rc, char *line, size_t n, vkb_error *e) {
    if (rc) { fprintf(stderr, "vkbert score: %s\n", e->msg); exit(1); }
    cb_put(&c->line, line, n);
    vkb_free(line);
}

/* {"line": N, "error": "..."} plus the record's id (and file, when several
 * inputs were given). */
static void error_line(score_ctx *c, const rec_user *u) {
    char *l;
    size_t n;
    vkb_error e = {{0}};
    int rc = vkb_error_json(u->line, u->error, u->id_json, c->multi_src ? u->source : NULL, &l, &n, &e);
    put_line(c, rc, l, n, &e);
}

static void result_line(score_ctx *c, const rec_user *u, const float *logits, int nl) {
    char *l;
    size_t n;
    vkb_error e = {{0}};
    unsigned flags = (c->o->all_scores ? VKB_OUT_ALL_SCORES : 0) | (c->o->logits ? VKB_OUT_LOGITS : 0);
    int rc = vkb_result_json(c->cfg, u->extra, logits, nl, flags, c->o->top_k, &l, &n, &e);
    put_line(c, rc, l, n, &e);
}

static int on_result(void *ctx, const vkb_score *s) {
    score_ctx *c = ctx;
    rec_user *u = s->user;
    c->line.n = 0;
    if (!s->logits) { error_line(c, u); c->errors++; }
    else result_line(c, u, s->logits, s->n_labels);
    double units = u->progress;
    free_user(u);
    if (cli_write_all(c->fd, c->line.p, c->line.n)) {
        c->write_errno = errno;
        return 1; /* stop the scorer */
    }
    c->delivered++;
    if (c->tty) progress(c, units, 0);
    return 0;
}

static void drop_user(void *user) { free_user(user); }

static void on_note(void *ctx, const char *msg) {
    (void)ctx;
    fprintf(stderr, "\nvkbert: note: %s\n", msg);
}

#define MAX_DEVICES 64

int cli_device_list(const char *spec, char **out, int max, char **storage) {
    *storage = NULL;
    if (!strcmp(spec, "all")) {
        /* every device the Vulkan loader reports, by index */
        char *rep = NULL;
        vkb_error e = {{0}};
        if (vkb_devices_report(1, &rep, &e)) {
            fprintf(stderr, "vkbert: --device all: %s\n", e.msg);
            return -1;
        }
        int n = 0;
        for (const char *p = rep; (p = strstr(p, "\"index\"")); p++) n++;
        free(rep);
        if (n == 0) { fprintf(stderr, "vkbert: --device all: no Vulkan device found\n"); return -1; }
        if (n > max) n = max;
        char *buf = malloc((size_t)n * 16);
        if (!buf) return -1;
        for (int i = 0; i < n; i++) {
            snprintf(buf + i * 16, 16, "gpu:%d", i);
            out[i] = buf + i * 16;
        }
        *storage = buf;
        return n;
    }
    char *buf = strdup(spec);
    if (!buf) return -1;
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "cpu") && strcmp(t, "gpu") && strncmp(t, "gpu:", 4)) {
            fprintf(stderr, "vkbert: --device: expected all or a list of cpu, gpu, gpu:N; "
                            "got '%s' in '%s'\n", t, spec);
            free(buf);
            return -1;
        }
        if (n == max) {
            fprintf(stderr, "vkbert: --device: more than %d devices\n", max);
            free(buf);
            return -1;
        }
        out[n++] = t;
    }
    if (n == 0) { fprintf(stderr, "vkbert: --device: empty list\n"); free(buf); return -1; }
    *storage = buf;
    return n;
}

static void backend_note(void *ctx, const char *msg) {
    const cli_opts *o = ctx;
    if (!o->quiet) fprintf(stderr, "vkbert: note: %s\n", msg);
}

/* One backend on dev (NULL: gpu, falling back to the CPU when there is no
 * Vulkan device, like cli_open_backend), shrinking the token budget when the
 * device runs out of memory; *tokens gets the budget that fit. */
static vkb_backend *open_fit(const cli_opts *o, const vkb_model *m, const char *dev,
                             int max_len, int *tokens) {
    vkb_backend_opts bo;
    cli_backend_opts(o, max_len, &bo); /* no --device: the automatic choice */
    if (dev) bo.device = dev;
    vkb_backend *be = NULL;
    vkb_error e = {{0}};
    if (vkb_backend_create_fit(m, &bo, backend_note, (void *)o, &be, tokens, &e) == 0) return be;
    fprintf(stderr, "vkbert: cannot open device %s: %s\n", bo.device, e.msg);
    return NULL;
}

/* --resume: counts FILE's complete lines, drops a partial last line. */
static int open_resume(const char *path, uint64_t *n_lines) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    char buf[1 << 16];
    uint64_t n = 0;
    off_t pos = 0, last_nl_end = 0;
    ssize_t k;
    while ((k = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < k; i++)
            if (buf[i] == '\n') { n++; last_nl_end = pos + i + 1; }
        pos += k;
    }
    if (k < 0 || ftruncate(fd, last_nl_end) || lseek(fd, 0, SEEK_END) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *n_lines = n;
    return fd;
}

int cli_score(cli_opts *o) {
    cli_install_signals();
    int fd = 1;
    uint64_t skip = 0;
    if (o->output) {
        fd = o->resume ? open_resume(o->output, &skip)
                       : open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "vkbert score: cannot open %s: %s\n", o->output, strerror(errno));
            return CLI_FAILED;
        }
    }
    vkb_input_opts io = {o->format, o->text_column, o->label_column, 0, cli_interrupt_flag(),
                         cli_on_source, o};
    vkb_input *in = NULL;
    vkb_error e = {{0}};
    if (vkb_input_open((const char *const *)o->args, o->nargs, &io, &in, &e)) {
        fprintf(stderr, "vkbert score: %s\n", e.msg);
        if (fd != 1) close(fd);
        return CLI_FAILED;
    }
    vkb_model *m = cli_load_model(o);
    if (!m) { vkb_input_close(in); return CLI_FAILED; }
    int max_len = cli_max_len(o, m);
    char *devs[MAX_DEVICES], *dev_storage = NULL;
    int n_dev = 1;
    devs[0] = (char *)o->device;
    if (o->device && (strchr(o->device, ',') || !strcmp(o->device, "all"))) {
        n_dev = cli_device_list(o->device, devs, MAX_DEVICES, &dev_storage);
        if (n_dev < 0) { vkb_model_free(m); vkb_input_close(in); return CLI_FAILED; }
    }
    vkb_backend *bes[MAX_DEVICES];
    int budget = cli_batch_tokens(o, max_len), nb = 0;
    for (; nb < n_dev; nb++) {
        int t = 0;
        bes[nb] = open_fit(o, m, devs[nb], max_len, &t);
        if (!bes[nb]) break;
        if (t < budget) budget = t; /* one budget for all: batches are cut once */
    }
    free(dev_storage);
    if (nb < n_dev) {
        while (nb > 0) vkb_backend_free(bes[--nb]);
        vkb_model_free(m);
        vkb_input_close(in);
        return CLI_FAILED;
    }
    cli_buf devdesc = {0};
    for (int i = 0; i < n_dev; i++) {
        if (i) cb_puts(&devdesc, " + ");
        cb_puts(&devdesc, vkb_backend_device(bes[i]));
    }

    score_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.cfg = vkb_model_config(m);
    c.fd = fd;
    c.multi_src = o->nargs > 1;
    c.tty = !o->quiet && isatty(2);
    c.total = vkb_input_total(in);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    vkb_scorer_opts so = {0};
    so.max_len = max_len;
    so.batch_tokens = budget;
    so.window = o->window;
    so.no_sort = o->no_sort;
    so.threads = o->threads ? o->threads : (ncpu > 2 ? (int)(ncpu / 2 > 8 ? 8 : ncpu / 2) : 1);
    so.note = on_note;
    so.interrupt = cli_interrupt_flag();
    so.drop_user = drop_user;
    vkb_scorer *s = NULL;
    if (vkb_scorer_create_multi(bes, n_dev, &so, on_result, &c, &s, &e)) {
        fprintf(stderr, "vkbert score: %s\n", e.msg);
        for (int i = 0; i < n_dev; i++) vkb_backend_free(bes[i]);
        vkb_model_free(m); vkb_input_close(in); free(devdesc.p);
        return CLI_FAILED;
    }
    c.t0 = c.last = vkb_now_s();
    int rc = CLI_OK, read_failed = 0, scorer_stopped = 0;
    uint64_t n_read = 0, n_skipped = 0, n_mine = 0;
    vkb_record r;
    for (;;) {
        if (vkb_cli_interrupted) break;
        int k = vkb_input_next(in, &r, &e);
        if (k == 0 || k == -2) break;
        if (k < 0) { fprintf(stderr, "\nvkbert score: %s\n", e.msg); read_failed = 1; break; }
        n_read++;
        /* --shard I/N: record k = n_read - 1 (every parsed record, error
         * lines included, so that the shards merge back exactly) */
        if (o->shard_n > 1 && (n_read - 1) % (uint64_t)o->shard_n != (uint64_t)o->shard_i) {
            vkb_record_clear(&r);
            continue;
        }
        n_mine++;
        if (n_skipped < skip) { n_skipped++; vkb_record_clear(&r); continue; }
        rec_user *u = calloc(1, sizeof *u);
        if (!u) { fprintf(stderr, "vkbert: out of memory\n"); read_failed = 1; vkb_record_clear(&r); break; }
        u->extra = r.extra; r.extra = NULL;
        u->error = r.error; r.error = NULL;
        u->id_json = r.id_json; r.id_json = NULL;
        u->source = r.source;
        u->line = r.line;
        u->progress = r.progress;
        int arc = u->error ? vkb_scorer_add_skip(s, u, &e)
                           : vkb_scorer_add_text(s, r.text, r.text_len, u, &e);
        vkb_record_clear(&r);
        if (arc) { free_user(u); scorer_stopped = 1; break; }
    }
    if (skip && n_skipped < skip && !o->quiet)
        fprintf(stderr, "vkbert score: note: %s has %llu lines but the input only %llu records\n",
                o->output, (unsigned long long)skip, (unsigned long long)n_mine);
    (void)scorer_stopped;
    if (vkb_scorer_finish(s, &e)) {
        fprintf(stderr, "\nvkbert score: %s\n", e.msg);
        rc = CLI_FAILED;
    }
    double el = vkb_now_s() - c.t0;
    vkb_scorer_stats st;
    vkb_scorer_get_stats(s, &st);
    if (c.tty) progress(&c, c.total, 1);
    if (c.write_errno && c.write_errno != EPIPE) {
        fprintf(stderr, "vkbert score: write error: %s\n", strerror(c.write_errno));
        rc = CLI_FAILED;
    }
    if (!o->quiet && c.write_errno != EPIPE) {
        fprintf(stderr,
                "vkbert: %llu items (%llu errors) in %.2f s, %.1f items/s on %s; "
                "padding overhead %.3f (%llu padded / %llu real tokens, %llu batches)%s\n",
                (unsigned long long)c.delivered, (unsigned long long)c.errors, el,
                el > 0 ? (double)c.delivered / el : 0.0, devdesc.p,
                st.real_tokens ? (double)st.padded_tokens / (double)st.real_tokens : 0.0,
                (unsigned long long)st.padded_tokens, (unsigned long long)st.real_tokens,
                (unsigned long long)st.batches, skip ? " (resumed)" : "");
    }
    vkb_scorer_free(s);
    for (int i = 0; i < n_dev; i++) vkb_backend_free(bes[i]);
    free(devdesc.p);
    vkb_model_free(m);
    vkb_input_close(in);
    free(c.line.p);
    if (fd != 1 && close(fd) && rc == CLI_OK) {
        fprintf(stderr, "vkbert score: closing %s: %s\n", o->output, strerror(errno));
        rc = CLI_FAILED;
    }
    if (vkb_cli_interrupted) return CLI_INTERRUPTED;
    if (c.write_errno == EPIPE) return 141; /* as if killed by SIGPIPE, but quietly */
    if (read_failed || c.errors) return CLI_FAILED;
    return rc;
}
