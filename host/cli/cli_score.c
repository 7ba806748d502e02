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
 * cap) too small for the token budget gets smaller batches and a note.
 *
 * `vkbert embed` is the same run with the scorer's pooling option: each
 * result is an embedding, written as {<pass-through>,"embedding":[...]}
 * (vkb_embedding_json), or with --output-format npy / safetensors as a row
 * of one float32 matrix (.npy, or the safetensors tensor "embeddings"; its
 * header is rewritten with the row count at the end, also after an
 * interrupt) plus a line of FILE.ids.jsonl. */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_resume.h"
#include "cli_progress.h"
#include "clock.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
    vkb_scorer *s;
    double t0;
    /* embed --output-format npy */
    int ids_fd;            /* FILE.ids.jsonl */
    int dim;
    uint64_t rows;
    float *nan_row;
} score_ctx;

static uint64_t scored(void *ctx) { return vkb_scorer_progress(((score_ctx *)ctx)->s); }

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
    if (rc) { fprintf(stderr, "vkbert %s: %s\n", c->o->cmd, e->msg); exit(1); }
    cb_put(&c->line, line, n);
    vkb_free(line);
}

/* {"line": N, "error": "..."} plus the record's id (and file, when several
 * inputs were given). */
static void error_line(score_ctx *c, const rec_user *u) {
    char *l;
    size_t n;
    vkb_error e = {0};
    int rc = vkb_error_json(u->line, u->error, u->id_json, c->multi_src ? u->source : NULL, &l, &n, &e);
    put_line(c, rc, l, n, &e);
}

static void result_line(score_ctx *c, const rec_user *u, const float *logits, int nl) {
    char *l;
    size_t n;
    vkb_error e = {0};
    unsigned flags = (c->o->all_scores ? VKB_OUT_ALL_SCORES : 0) | (c->o->logits ? VKB_OUT_LOGITS : 0);
    int rc = vkb_result_json(c->cfg, u->extra, logits, nl, flags, c->o->top_k, &l, &n, &e);
    put_line(c, rc, l, n, &e);
}

static void embedding_line(score_ctx *c, const rec_user *u, const float *v, int dim) {
    char *l;
    size_t n;
    vkb_error e = {0};
    int rc = vkb_embedding_json(u->extra, v, dim, &l, &n, &e);
    put_line(c, rc, l, n, &e);
}

/* npy: the row (NaN for a record that could not be read) to the matrix,
 * its pass-through fields or error object to FILE.ids.jsonl. */
static int npy_result(score_ctx *c, const vkb_score *s, rec_user *u) {
    if (!s->embedding) {
        error_line(c, u);
        c->errors++;
    } else {
        cb_puts(&c->line, "{");
        if (u->extra) cb_puts(&c->line, u->extra);
        cb_puts(&c->line, "}\n");
    }
    free_user(u);
    const float *row = s->embedding ? s->embedding : c->nan_row;
    if (cli_write_all(c->fd, (const char *)row, sizeof(float) * (size_t)c->dim) ||
        cli_write_all(c->ids_fd, c->line.p, c->line.n)) {
        c->write_errno = errno;
        return 1;
    }
    c->rows++;
    c->delivered++;
    return 0;
}

static int on_result(void *ctx, const vkb_score *s) {
    score_ctx *c = ctx;
    rec_user *u = s->user;
    c->line.n = 0;
    if (c->o->npy) return npy_result(c, s, u);
    if (c->o->embed ? !s->embedding : !s->logits) { error_line(c, u); c->errors++; }
    else if (c->o->embed) embedding_line(c, u, s->embedding, s->dim);
    else result_line(c, u, s->logits, s->n_labels);
    free_user(u);
    if (cli_write_all(c->fd, c->line.p, c->line.n)) {
        c->write_errno = errno;
        return 1; /* stop the scorer */
    }
    c->delivered++;
    return 0;
}

static void drop_user(void *user) { free_user(user); }

/* FILE.npy or FILE.safetensors -> FILE.ids.jsonl (FILE.ids.jsonl beside
 * any other name). */
static char *ids_path(const char *out) {
    size_t n = strlen(out);
    char *p = malloc(n + 16);
    if (!p) return NULL;
    if (n > 4 && !strcmp(out + n - 4, ".npy")) n -= 4;
    else if (n > 12 && !strcmp(out + n - 12, ".safetensors")) n -= 12;
    snprintf(p, n + 16, "%.*s.ids.jsonl", (int)n, out);
    return p;
}

/* The matrix header for [rows, dim] little-endian float32, padded with
 * spaces to a size that does not depend on rows, so that it is rewritten in
 * place once the row count is known.  Returns its size (0: out of memory).
 * npy: format 1.0, 128 bytes.  safetensors: the 8-byte header length, then
 * {"__metadata__":{"format":"np","ids":"<FILE.ids.jsonl's name>"},
 *  "embeddings":{"dtype":"F32","shape":[rows,dim],"data_offsets":[0,bytes]}}
 * padded with spaces (which the format allows) so that the data starts at a
 * multiple of 8 bytes. */
#define NPY_HEADER 128
static size_t matrix_header(const cli_opts *o, cli_buf *h, uint64_t rows, int dim) {
    h->n = 0;
    if (o->npy == CLI_NPY) {
        char d[NPY_HEADER];
        memset(d, ' ', sizeof d);
        memcpy(d, "\x93NUMPY\x01\x00", 8);
        d[8] = (char)((NPY_HEADER - 10) & 0xff);
        d[9] = (char)((NPY_HEADER - 10) >> 8);
        char t[NPY_HEADER];
        int n = snprintf(t, sizeof t, "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %d), }",
                         (unsigned long long)rows, dim);
        memcpy(d + 10, t, (size_t)n);
        d[NPY_HEADER - 1] = '\n';
        cb_put(h, d, NPY_HEADER);
        return h->p ? NPY_HEADER : 0;
    }
    char *ids = ids_path(o->output);
    if (!ids) return 0;
    const char *base = strrchr(ids, '/') ? strrchr(ids, '/') + 1 : ids;
    /* the widest header: rows and bytes of 20 digits, dim of 10 */
    size_t widest = 0;
    for (int pass = 0; pass < 2; pass++) {
        h->n = 0;
        cb_puts(h, "12345678{\"__metadata__\":{\"format\":\"np\",\"ids\":");
        cb_json_str(h, base);
        if (pass == 0)
            cb_puts(h, "},\"embeddings\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615,2147483647],"
                       "\"data_offsets\":[0,18446744073709551615]}}");
        else
            cb_printf(h, "},\"embeddings\":{\"dtype\":\"F32\",\"shape\":[%llu,%d],\"data_offsets\":[0,%llu]}}",
                      (unsigned long long)rows, dim, (unsigned long long)(rows * (uint64_t)dim * 4));
        if (pass == 0) widest = (h->n + 7) / 8 * 8;
    }
    free(ids);
    while (h->n < widest) cb_puts(h, " ");
    if (!h->p) return 0;
    uint64_t len = widest - 8;
    for (int i = 0; i < 8; i++) h->p[i] = (char)((len >> (8 * i)) & 0xff);
    return widest;
}

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
        vkb_error e = {0};
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
    cli_auto_tune(o, m, &bo);
    vkb_backend *be = NULL;
    vkb_error e = {0};
    if (vkb_backend_create_fit(m, &bo, backend_note, (void *)o, &be, tokens, &e) == 0) {
        cli_backend_note(o, be);
        return be;
    }
    fprintf(stderr, "vkbert: cannot open device %s: %s\n", bo.device, e.msg);
    return NULL;
}

/* Refuses an output that is one of the inputs (same st_dev/st_ino, so a
 * symlink or a hard link to an input is caught too), or stdin when stdin is
 * read.  `st` is the output's stat. */
static int output_is_input(const cli_opts *o, const char *out, const struct stat *st) {
    struct stat is;
    if (st && o->nargs == 0 && fstat(0, &is) == 0 && is.st_dev == st->st_dev &&
        is.st_ino == st->st_ino) {
        fprintf(stderr, "vkbert %s: the output %s is also the input (stdin); refusing to "
                        "overwrite it\n", o->cmd, out);
        return 1;
    }
    /* the run record beside the output is rewritten too */
    char side[4096];
    struct stat ss;
    snprintf(side, sizeof side, "%s.vkbert.json", out);
    int have_side = o->output && stat(side, &ss) == 0;
    for (int i = 0; i < o->nargs; i++) {
        const char *a = o->args[i];
        int r = strcmp(a, "-") ? stat(a, &is) : fstat(0, &is);
        if (r == 0 && have_side && is.st_dev == ss.st_dev && is.st_ino == ss.st_ino) {
            fprintf(stderr, "vkbert %s: the input %s is the run record of the output %s; "
                            "refusing to overwrite it\n", o->cmd, a, out);
            return 1;
        }
        if (st && r == 0 && is.st_dev == st->st_dev && is.st_ino == st->st_ino) {
            fprintf(stderr, "vkbert %s: the output %s is also the input %s%s; refusing to "
                            "%s it\n", o->cmd, out, a,
                    o->output && strcmp(a, out) ? " (the same file through a link)" : "",
                    o->output ? "overwrite" : "write into");
            return 1;
        }
        /* an IMDB directory: its pos/ and neg/ files are inputs too */
        if (r == 0 && S_ISDIR(is.st_mode) && o->output) {
            char sub[4096];
            static const char *const kinds[] = {"pos", "neg"};
            for (int k = 0; k < 2; k++) {
                struct stat ds, ps;
                snprintf(sub, sizeof sub, "%s/%s", a, kinds[k]);
                if (stat(sub, &ds) || !S_ISDIR(ds.st_mode)) continue;
                char *slash = strrchr(o->output, '/');
                int ok;
                if (slash) {
                    char dir[4096];
                    snprintf(dir, sizeof dir, "%.*s", (int)(slash - o->output + (slash == o->output)),
                             o->output);
                    ok = stat(dir, &ps);
                } else {
                    ok = stat(".", &ps);
                }
                if (ok == 0 && ps.st_dev == ds.st_dev && ps.st_ino == ds.st_ino) {
                    fprintf(stderr, "vkbert %s: the output %s is inside the input directory "
                                    "%s; refusing (it would be read as an input)\n", o->cmd, o->output, sub);
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* --resume: counts FILE's complete lines, drops a partial last line and
 * keeps (the start of) the last complete line in *last. */
static int count_lines(int fd, uint64_t *n_lines, char **last, size_t *last_len) {
    char buf[1 << 16];
    uint64_t n = 0;
    off_t pos = 0, last_nl_end = 0, prev_nl_end = 0;
    ssize_t k;
    for (;;) {
        k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR) {
            if (vkb_cli_interrupted) return -1;
            continue;
        }
        if (k <= 0) break;
        for (ssize_t i = 0; i < k; i++)
            if (buf[i] == '\n') { n++; prev_nl_end = last_nl_end; last_nl_end = pos + i + 1; }
        pos += k;
    }
    if (k < 0 || ftruncate(fd, last_nl_end) || lseek(fd, 0, SEEK_END) < 0) return -1;
    *n_lines = n;
    if (n > 0) {
        size_t len = (size_t)(last_nl_end - prev_nl_end);
        if (len > (1u << 20)) len = 1u << 20;
        *last = malloc(len + 1);
        if (!*last) return -1;
        ssize_t got = pread(fd, *last, len, prev_nl_end);
        *last_len = got > 0 ? (size_t)got : 0;
    }
    return 0;
}

/* Opens -o FILE: refuses it when it is an input, takes an exclusive lock
 * (a second vkbert on the same FILE fails at once instead of splicing its
 * lines into the first one's), and only then truncates it (or, with
 * --resume, counts its complete lines into *skip).  Returns the fd or -1
 * (message printed). */
static int open_output(const cli_opts *o, uint64_t *skip, char **last, size_t *last_len) {
    const char *path = o->output;
    struct stat st;
    int exists = stat(path, &st) == 0;
    /* (an output that does not exist yet may still be inside an input directory) */
    if (output_is_input(o, path, exists ? &st : NULL)) return -1;
    if (exists) {
        if (o->resume && !S_ISREG(st.st_mode)) {
            fprintf(stderr, "vkbert %s: --resume: %s is not a regular file; --resume "
                            "continues a file that an earlier run wrote\n", o->cmd, path);
            return -1;
        }
    }
    int fd = open(path, (o->resume ? O_RDWR : O_WRONLY) | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "vkbert %s: cannot open %s: %s\n", o->cmd, path, strerror(errno));
        return -1;
    }
    /* the checks again on what was opened (it may have been replaced) */
    if (fstat(fd, &st) || output_is_input(o, path, &st)) { close(fd); return -1; }
    if (S_ISREG(st.st_mode)) {
        if (flock(fd, LOCK_EX | LOCK_NB)) {
            if (errno == EWOULDBLOCK)
                fprintf(stderr, "vkbert %s: %s is in use by another vkbert (it holds the "
                                "lock on it); refusing to write to it at the same time\n", o->cmd, path);
            else
                fprintf(stderr, "vkbert %s: cannot lock %s: %s\n", o->cmd, path, strerror(errno));
            close(fd);
            return -1;
        }
    } else if (o->resume) {
        fprintf(stderr, "vkbert %s: --resume: %s is not a regular file\n", o->cmd, path);
        close(fd);
        return -1;
    }
    if (o->resume) {
        if (count_lines(fd, skip, last, last_len)) {
            fprintf(stderr, "vkbert %s: --resume: reading %s: %s\n", o->cmd, path,
                    vkb_cli_interrupted ? "interrupted" : strerror(errno));
            close(fd);
            return -1;
        }
    } else if (S_ISREG(st.st_mode) && ftruncate(fd, 0)) {
        fprintf(stderr, "vkbert %s: cannot truncate %s: %s\n", o->cmd, path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* embed --output-format npy / safetensors: the ids file beside -o FILE, with the same
 * safety as FILE (not an input, locked before it is truncated); FILE gets a
 * placeholder header. */
static int open_ids(const cli_opts *o, int fd, int *ids_fd) {
    char *path = ids_path(o->output);
    if (!path) { fprintf(stderr, "vkbert: out of memory\n"); return -1; }
    struct stat st;
    int rc = -1, exists = stat(path, &st) == 0;
    int f = -1;
    if (output_is_input(o, path, exists ? &st : NULL)) goto out;
    f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) { fprintf(stderr, "vkbert embed: cannot open %s: %s\n", path, strerror(errno)); goto out; }
    if (fstat(f, &st) || output_is_input(o, path, &st)) goto out;
    if (S_ISREG(st.st_mode) && flock(f, LOCK_EX | LOCK_NB)) {
        fprintf(stderr, "vkbert embed: %s is in use by another vkbert (it holds the lock on it)\n", path);
        goto out;
    }
    if (S_ISREG(st.st_mode) && ftruncate(f, 0)) {
        fprintf(stderr, "vkbert embed: cannot truncate %s: %s\n", path, strerror(errno));
        goto out;
    }
    cli_buf h = {0};
    size_t hn = matrix_header(o, &h, 0, 0);
    if (!hn) {
        fprintf(stderr, "vkbert: out of memory\n");
        goto out;
    }
    if (cli_write_all(fd, h.p, hn)) {
        free(h.p);
        fprintf(stderr, "vkbert embed: writing %s: %s\n", o->output, strerror(errno));
        goto out;
    }
    free(h.p);
    *ids_fd = f;
    f = -1;
    rc = 0;
out:
    if (f >= 0) close(f);
    free(path);
    return rc;
}

int cli_score(cli_opts *o) {
    cli_install_signals();
    int fd = 1;
    uint64_t skip = 0;
    cli_run run;
    memset(&run, 0, sizeof run);
    int ids_fd = -1;
    if (o->output) {
        fd = open_output(o, &skip, &run.last_line, &run.last_len);
        if (fd < 0) return CLI_FAILED;
        if (o->npy && open_ids(o, fd, &ids_fd)) { close(fd); return CLI_FAILED; }
    } else {
        /* stdout appended to an input (>> in.jsonl) would be read back
         * as input for ever */
        struct stat st;
        if (fstat(1, &st) == 0 && S_ISREG(st.st_mode) && output_is_input(o, "stdout", &st))
            return CLI_FAILED;
    }
    vkb_input_opts io = {o->format, o->text_column, o->label_column, 0, cli_interrupt_flag(),
                         cli_on_source, o};
    vkb_input *in = NULL;
    vkb_error e = {0};
    if (vkb_input_open((const char *const *)o->args, o->nargs, &io, &in, &e)) {
        fprintf(stderr, "vkbert %s: %s\n", o->cmd, e.msg);
        if (fd != 1) close(fd);
        return CLI_FAILED;
    }
    vkb_model *m = cli_load_model(o);
    if (!m) { vkb_input_close(in); free(run.last_line); if (ids_fd >= 0) close(ids_fd); return CLI_FAILED; }
    if (o->embed) {
        /* defaults: the model's sentence-transformers files, else mean */
        const vkb_st_pooling *stp = vkb_model_st_pooling(m);
        if (!o->pooling) o->pooling = stp->present ? (vkb_pooling)stp->pooling : VKB_POOL_MEAN;
        if (!o->normalize && stp->present) o->normalize = stp->normalize;
        if (o->normalize < 0) o->normalize = 0; /* --no-normalize */
        if (!o->quiet && stp->present)
            fprintf(stderr, "vkbert embed: %s pooling%s (the model's sentence-transformers files)\n",
                    vkb_pooling_name(o->pooling), o->normalize ? ", normalized" : "");
    }
    int max_len = cli_max_len(o, m);
    /* the run record beside a regular -o FILE: checked by --resume (same
     * options and input) and by tools/merge_shards.py */
    struct stat ost;
    int use_run = o->output && !o->npy && fstat(fd, &ost) == 0 && S_ISREG(ost.st_mode);
    if (use_run && (cli_run_init(&run, o, max_len) || (o->resume && cli_run_check(&run, o, skip)) ||
                    cli_run_write(&run, o, 0, 0, 0))) {
        cli_run_free(&run);
        vkb_model_free(m);
        vkb_input_close(in);
        return CLI_FAILED;
    }
    if (o->shard_n > 1 && !use_run && !o->quiet)
        fprintf(stderr, "vkbert %s: note: write shards with -o FILE: FILE.vkbert.json beside "
                        "it lets tools/merge_shards.py check the merge\n", o->cmd);
    char *devs[MAX_DEVICES], *dev_storage = NULL;
    int n_dev = 1;
    devs[0] = (char *)o->device;
    if (o->device && (strchr(o->device, ',') || !strcmp(o->device, "all"))) {
        n_dev = cli_device_list(o->device, devs, MAX_DEVICES, &dev_storage);
        if (n_dev < 0) { cli_run_free(&run); vkb_model_free(m); vkb_input_close(in); return CLI_FAILED; }
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
        cli_run_free(&run);
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
    c.ids_fd = ids_fd;
    c.dim = c.cfg->dim;
    if (o->npy) {
        c.nan_row = malloc(sizeof(float) * (size_t)c.dim);
        if (!c.nan_row) { fprintf(stderr, "vkbert: out of memory\n"); exit(1); }
        for (int i = 0; i < c.dim; i++) c.nan_row[i] = NAN;
    }
    double total_units = vkb_input_total(in);
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
    cli_fault_injection(&so);
    if (o->embed) {
        so.pooling = o->pooling;
        so.normalize = o->normalize;
    }
    vkb_scorer *s = NULL;
    if (vkb_scorer_create_multi(bes, n_dev, &so, on_result, &c, &s, &e)) {
        fprintf(stderr, "vkbert %s: %s\n", o->cmd, e.msg);
        for (int i = 0; i < n_dev; i++) vkb_backend_free(bes[i]);
        vkb_model_free(m); vkb_input_close(in); free(devdesc.p); cli_run_free(&run);
        return CLI_FAILED;
    }
    c.t0 = vkb_now_s();
    c.s = s;
    cli_progress *pg = cli_progress_start(o->quiet, total_units, scored, &c);
    uint64_t n_texts = 0;   /* records given to the scorer to score */
    double units0 = -1, units = 0;
    int rc = CLI_OK, read_failed = 0, scorer_stopped = 0, refused = 0;
    uint64_t n_read = 0, n_skipped = 0, n_mine = 0;
    double cur_units = 0;
    int k_eof = 0;
    vkb_record r;
    for (;;) {
        if (vkb_cli_interrupted) break;
        int k = vkb_input_next(in, &r, &e);
        if (k == 0) {
            k_eof = 1;
            if (units0 >= 0)
                cli_progress_read(pg, n_texts, units - units0, total_units - units0, 1);
            break;
        }
        if (k == -2) break;
        if (k < 0) { fprintf(stderr, "\nvkbert %s: %s\n", o->cmd, e.msg); read_failed = 1; break; }
        n_read++;
        double prev_units = cur_units;
        cur_units = r.progress;
        if (use_run && cli_run_add(&run, o, &r)) {
            refused = 1;
            vkb_record_clear(&r);
            break;
        }
        /* --shard I/N: record k = n_read - 1 (every parsed record, error
         * lines included, so that the shards merge back exactly) */
        if (o->shard_n > 1 && (n_read - 1) % (uint64_t)o->shard_n != (uint64_t)o->shard_i) {
            vkb_record_clear(&r);
            continue;
        }
        n_mine++;
        if (n_skipped < skip) {
            n_skipped++;
            /* the record FILE's last line was written for */
            if (n_skipped == skip && cli_run_check_last(&run, o, &r)) {
                refused = 1;
                vkb_record_clear(&r);
                break;
            }
            vkb_record_clear(&r);
            continue;
        }
        rec_user *u = calloc(1, sizeof *u);
        if (!u) { fprintf(stderr, "vkbert: out of memory\n"); read_failed = 1; vkb_record_clear(&r); break; }
        u->extra = r.extra; r.extra = NULL;
        u->error = r.error; r.error = NULL;
        u->id_json = r.id_json; r.id_json = NULL;
        u->source = r.source;
        u->line = r.line;
        u->progress = r.progress;
        int is_text = !u->error; /* u belongs to the scorer once added */
        int arc = !is_text ? vkb_scorer_add_skip(s, u, &e)
                           : vkb_scorer_add_text(s, r.text, r.text_len, u, &e);
        /* the bar: records to score against the part of the input they
         * came from (a resumed run starts past its skipped part) */
        if (units0 < 0) units0 = prev_units;
        units = r.progress;
        if (is_text) n_texts++;
        cli_progress_read(pg, n_texts, units - units0, total_units - units0, 0);
        vkb_record_clear(&r);
        if (arc) { free_user(u); scorer_stopped = 1; break; }
    }
    if (skip && n_skipped < skip && !refused && !read_failed && !vkb_cli_interrupted) {
        fprintf(stderr, "vkbert %s: --resume: %s has %llu lines but the input only %llu "
                        "records%s: it is not this input's output\n", o->cmd, o->output,
                (unsigned long long)skip, (unsigned long long)n_mine,
                o->shard_n > 1 ? " in this shard" : "");
        refused = 1;
    }
    if (refused) vkb_scorer_cancel(s); /* append nothing */
    (void)scorer_stopped;
    if (vkb_scorer_finish(s, &e)) {
        fprintf(stderr, "\nvkbert %s: %s\n", o->cmd, e.msg);
        rc = CLI_FAILED;
    }
    double el = vkb_now_s() - c.t0;
    vkb_scorer_stats st;
    vkb_scorer_get_stats(s, &st);
    cli_progress_stop(pg);
    if (vkb_cli_interrupted && !o->quiet)
        fprintf(stderr, "vkbert %s: interrupted: %llu of %llu records%s written%s%s%s\n", o->cmd,
                (unsigned long long)(skip + c.delivered), (unsigned long long)n_mine,
                k_eof ? "" : " (read so far)", o->output ? " to " : "", o->output ? o->output : "",
                o->output ? "; rerun with --resume to finish" : "");
    if (c.write_errno && c.write_errno != EPIPE) {
        fprintf(stderr, "vkbert %s: writing %s: %s\n", o->cmd, o->output ? o->output : "stdout",
                strerror(c.write_errno));
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
    if (use_run && rc == CLI_OK && !refused && !read_failed && !c.write_errno &&
        !vkb_cli_interrupted && cli_run_write(&run, o, 1, n_read, skip + c.delivered))
        rc = CLI_FAILED;
    cli_run_free(&run);
    vkb_scorer_free(s);
    for (int i = 0; i < n_dev; i++) vkb_backend_free(bes[i]);
    free(devdesc.p);
    vkb_model_free(m);
    vkb_input_close(in);
    free(c.line.p);
    free(c.nan_row);
    if (o->npy) {
        /* the header with the rows written (also after an interrupt or a
         * failure: the file is then a valid matrix of the rows so far) */
        cli_buf h = {0};
        size_t hn = matrix_header(o, &h, c.rows, c.dim);
        if ((!hn || pwrite(fd, h.p, hn, 0) != (ssize_t)hn) && rc == CLI_OK) {
            fprintf(stderr, "vkbert embed: writing %s: %s\n", o->output, hn ? strerror(errno) : "out of memory");
            rc = CLI_FAILED;
        }
        free(h.p);
        if (close(ids_fd) && rc == CLI_OK) {
            fprintf(stderr, "vkbert embed: closing the ids file: %s\n", strerror(errno));
            rc = CLI_FAILED;
        }
    }
    if (fd != 1 && close(fd) && rc == CLI_OK) {
        fprintf(stderr, "vkbert %s: closing %s: %s\n", o->cmd, o->output, strerror(errno));
        rc = CLI_FAILED;
    }
    if (vkb_cli_interrupted) return cli_interrupt_status();
    if (c.write_errno == EPIPE) return 141; /* as if killed by SIGPIPE, but quietly */
    if (read_failed || refused || c.errors) return CLI_FAILED;
    return rc;
}
