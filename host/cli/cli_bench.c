/* cli_bench.c - `vkbert bench`: how fast the forward pass is on a device,
 * or on several in turn (--device all or a list: the same model and batch on
 * each, then a side-by-side table; the cross-vendor comparison).
 *
 * Batch mode (default): B sequences of L random ids (every token real, as the
 * peer scripts in bench/ do), 2 untimed warm-up batches (the first records
 * the command buffer), then the median of --iters timed batches.  Then, on
 * the Vulkan backend, 3 more batches with timestamps on give the per-kernel
 * times (timing and profiling are separate so timestamps cannot slow the
 * timed batches).
 *
 * GFLOP/s counts 2 FLOPs per multiply-add of the linear layers and of
 * attention, padded tokens included (T = B*L, D = dim, F = hidden, H*hd = D):
 *   per layer  2*T*(3*D*D + D*D + 2*D*F)    QKV, attention output, FFN 1 and 2
 *            + 4*B*L*L*D                    Q K^T and P V over all heads
 *   head       2*B*(D*D + D*n_labels)       pre-classifier and classifier
 * Embeddings, LayerNorm, softmax and GELU are not counted.  These are the
 * full model's FLOPs also where a backend does less: asked for logits only,
 * both backends run their last layer's out_lin and FFN (the CPU's its
 * attention too) on the first token of each sequence (cpu_backend.c,
 * cls_only; vk_backend.c, record), so GFLOP/s is then an effective rate.  --all-tokens also asks for the mean of the last hidden states
 * (every token's), which makes any backend run the whole last layer.
 *
 * End-to-end mode (--input FILE): the whole `vkbert score` path (reading,
 * tokenizing, length-grouped batching, forward) over FILE through the
 * library's scorer, reported as reviews (records) per second. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "clock.h"
#include "vkb_git.h" /* VKB_GIT_COMMIT, generated at build time */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double cli_bench_flops(const vkb_config *c, int B, int L);
double cli_bench_flops(const vkb_config *c, int B, int L) {
    double T = (double)B * L, D = c->dim, F = c->hidden_dim;
    double layer = 2.0 * T * (4.0 * D * D + 2.0 * D * F) + 4.0 * B * (double)L * L * D;
    return layer * c->n_layers + 2.0 * B * (D * D + D * c->n_labels);
}

static void note(void *ctx, const char *msg) {
    const cli_opts *o = ctx;
    if (!o->quiet) fprintf(stderr, "vkbert bench: note: %s\n", msg);
}

static int count_result(void *ctx, const vkb_score *s) {
    (void)s;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The host CPU's model name (/proc/cpuinfo; "unknown" elsewhere). */
static void cpu_model(char *out, size_t n) {
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        /* x86: "model name"; arm64: "Model" or "CPU part" is all there is */
        if (!strncmp(line, "model name", 10) || !strncmp(line, "Model\t", 6)) {
            char *v = strchr(line, ':');
            if (!v) continue;
            v++;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(out, n, "%s", v);
            break;
        }
    }
    fclose(f);
}

/* What makes results from different machines comparable in one table:
 * vkbert's version and commit, the host, the time and the model's shape. */
static void put_env(cli_buf *b, const cli_opts *o, const vkb_config *c) {
    char cpu[256], ts[32];
    struct utsname u;
    int have_u = uname(&u) == 0;
    cpu_model(cpu, sizeof cpu);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    cb_printf(b, ",\"vkbert_version\":\"%s\",\"git_commit\":", VKB_VERSION);
    cb_json_str(b, VKB_GIT_COMMIT);
    cb_puts(b, ",\"timestamp\":");
    cb_json_str(b, ts);
    cb_puts(b, ",\"host_cpu\":");
    cb_json_str(b, cpu);
    cb_printf(b, ",\"host_cpus\":%ld,\"os\":", sysconf(_SC_NPROCESSORS_ONLN));
    if (have_u) {
        char os[600];
        snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
        cb_json_str(b, os);
        cb_puts(b, ",\"hostname\":");
        cb_json_str(b, u.nodename);
    } else {
        cb_puts(b, "\"unknown\",\"hostname\":\"unknown\"");
    }
    cb_puts(b, ",\"model_name\":");
    cb_json_str(b, o->shape ? o->shape : o->model ? o->model : "built-in");
    cb_printf(b, ",\"model_dims\":{\"layers\":%d,\"dim\":%d,\"heads\":%d,\"hidden\":%d,"
                 "\"vocab\":%d,\"labels\":%d,\"max_pos\":%d}",
              c->n_layers, c->dim, c->n_heads, c->hidden_dim, c->vocab_size, c->n_labels, c->max_pos);
}

static void put_info(cli_buf *b, const vkb_bench_info *bi, int json) {
    if (json) {
        cb_puts(b, ",\"device\":");
        cb_json_str(b, bi->device);
        cb_puts(b, ",\"vendor\":");
        cb_json_str(b, bi->vendor);
        cb_puts(b, ",\"driver\":");
        cb_json_str(b, bi->driver);
        cb_printf(b, ",\"precision\":\"%s\"", bi->precision);
        cb_printf(b, ",\"peak_mem_bytes\":%llu,\"weight_bytes\":%llu,\"activation_bytes\":%llu",
                  (unsigned long long)bi->peak_mem_bytes, (unsigned long long)bi->weight_bytes,
                  (unsigned long long)bi->activation_bytes);
        if (bi->gpu)
            cb_printf(b, ",\"token_budget\":%d,\"passes_per_batch\":%d", bi->token_budget,
                      bi->last_passes);
    } else {
        cb_printf(b, "device       %s (vendor %s; driver %s)\n", bi->device, bi->vendor, bi->driver);
        cb_printf(b, "precision    %s\n", bi->precision);
        if (bi->gpu)
            cb_printf(b, "device mem   peak %.1f MiB (weights %.1f MiB + activations %.1f MiB; "
                         "device-local)\n",
                      bi->peak_mem_bytes / 1048576.0, bi->weight_bytes / 1048576.0,
                      bi->activation_bytes / 1048576.0);
        if (bi->gpu && bi->last_passes > 1)
            cb_printf(b, "passes       %d per batch (one pass holds %d tokens)\n", bi->last_passes,
                      bi->token_budget);
    }
}

static vkb_model *load(const cli_opts *o) {
    if (!o->shape) return cli_load_model(o);
    vkb_config shape;
    vkb_model *m = NULL;
    vkb_error e = {0};
    if (vkb_config_named(o->shape, &shape, &e) || vkb_model_random(&shape, o->seed, &m, &e)) {
        fprintf(stderr, "vkbert bench: %s\n", e.msg);
        return NULL;
    }
    return m;
}

/* One device's result, for the side-by-side table of a multi-device run. */
typedef struct bench_row {
    char device[300], precision[8];
    double speed, ms, gflops, load_s; /* speed: seq/s (batch) or reviews/s (--input) */
    uint64_t peak_mem;
    int gpu;
} bench_row;

static void fill_row(bench_row *r, const vkb_bench_info *bi, const char *desc) {
    snprintf(r->device, sizeof r->device, "%s", bi->gpu ? bi->device : desc);
    snprintf(r->precision, sizeof r->precision, "%s", bi->precision);
    r->peak_mem = bi->peak_mem_bytes;
    r->gpu = bi->gpu;
}

/* --input FILE: reviews/s through the scorer. */
static int bench_e2e(cli_opts *o, vkb_model *m, double t_load, bench_row *row) {
    int max_len = cli_max_len(o, m);
    double t0 = vkb_now_s();
    vkb_backend *be = cli_open_backend(o, m, 0, max_len);
    if (!be) return CLI_FAILED;
    double t_up = vkb_now_s() - t0;
    vkb_error e = {0};
    vkb_input_opts io = {.format = o->format, .text_column = o->text_column,
                         .interrupt = cli_interrupt_flag()};
    const char *paths[1] = {o->input};
    vkb_input *in = NULL;
    uint64_t done = 0;
    vkb_scorer *s = NULL;
    vkb_scorer_opts so = {.max_len = max_len, .batch_tokens = cli_batch_tokens(o, max_len),
                          .window = o->window, .threads = o->threads, .note = note,
                          .interrupt = cli_interrupt_flag()};
    int rc = CLI_OK;
    double t1 = vkb_now_s();
    if (vkb_input_open(paths, 1, &io, &in, &e) ||
        vkb_scorer_create(be, &so, count_result, &done, &s, &e)) {
        fprintf(stderr, "vkbert bench: %s\n", e.msg);
        rc = CLI_FAILED;
    }
    uint64_t skipped = 0;
    while (rc == CLI_OK) {
        vkb_record r;
        memset(&r, 0, sizeof r);
        int k = vkb_input_next(in, &r, &e);
        if (k == 0) break;
        if (k < 0) {
            if (k == -2) rc = CLI_INTERRUPTED;
            else { fprintf(stderr, "vkbert bench: %s\n", e.msg); rc = CLI_FAILED; }
            break;
        }
        int arc = 0;
        if (r.error) skipped++;
        else arc = vkb_scorer_add_text(s, r.text, r.text_len, NULL, &e);
        vkb_record_clear(&r);
        if (arc) { fprintf(stderr, "vkbert bench: %s\n", e.msg); rc = CLI_FAILED; }
    }
    if (s && rc == CLI_OK && vkb_scorer_finish(s, &e)) {
        fprintf(stderr, "vkbert bench: %s\n", e.msg);
        rc = CLI_FAILED;
    }
    double wall = vkb_now_s() - t1;
    if (rc == CLI_OK && done == 0) {
        /* a speed measured on nothing is no result */
        fprintf(stderr, "vkbert bench: no text scored from %s (%llu record(s) could not be read; "
                        "see --format, --text-column)\n", o->input, (unsigned long long)skipped);
        rc = CLI_FAILED;
    } else if (rc == CLI_OK && skipped && !o->quiet) {
        fprintf(stderr, "vkbert bench: note: %llu record(s) of %s could not be read and were "
                        "skipped\n", (unsigned long long)skipped, o->input);
    }
    vkb_scorer_stats st = {0};
    if (s) vkb_scorer_get_stats(s, &st);
    vkb_scorer_free(s);
    if (in) vkb_input_close(in);
    if (rc == CLI_OK) {
        vkb_bench_info bi;
        vkb_backend_bench_info(be, &bi, &e);
        cli_buf b = {0};
        double rps = wall > 0 ? (double)done / wall : 0;
        fill_row(row, &bi, vkb_backend_device(be));
        row->speed = rps;
        row->load_s = t_load + t_up;
        if (o->json) {
            cb_printf(&b, "{\"mode\":\"end-to-end\",\"input\":");
            cb_json_str(&b, o->input);
            cb_printf(&b, ",\"reviews\":%llu,\"skipped\":%llu,\"seconds\":%.3f,\"reviews_per_s\":%.3f,"
                          "\"seq_per_s\":%.3f,\"real_tokens\":%llu,\"padded_tokens\":%llu,"
                          "\"batches\":%llu,\"forward_s\":%.3f,\"load_s\":%.3f,\"upload_s\":%.3f,"
                          "\"max_len\":%d,\"batch_tokens\":%d",
                      (unsigned long long)done, (unsigned long long)skipped, wall, rps, rps,
                      (unsigned long long)st.real_tokens, (unsigned long long)st.padded_tokens,
                      (unsigned long long)st.batches, st.forward_seconds, t_load, t_up, max_len,
                      st.batch_tokens);
            put_info(&b, &bi, 1);
            put_env(&b, o, vkb_model_config(m));
            cb_puts(&b, "}\n");
        } else {
            cb_printf(&b, "end to end   %s: %llu reviews in %.2f s = %.2f reviews/s "
                          "(reading, tokenizing, batching, forward)\n",
                      o->input, (unsigned long long)done, wall, rps);
            cb_printf(&b, "tokens       %llu real, %llu padded, %llu batches; %.2f s in forward\n",
                      (unsigned long long)st.real_tokens, (unsigned long long)st.padded_tokens,
                      (unsigned long long)st.batches, st.forward_seconds);
            cb_printf(&b, "load         model %.3f s, backend + upload %.3f s\n", t_load, t_up);
            put_info(&b, &bi, 0);
        }
        fputs(b.p ? b.p : "", stdout);
        free(b.p);
    }
    vkb_backend_free(be);
    return rc;
}

/* Batch mode on one device (o->device). */
static int bench_batch(cli_opts *o, vkb_model *m, double t_load, bench_row *row) {
    const vkb_config *c = vkb_model_config(m);
    int B = o->batch > 0 ? o->batch : 8, L = o->seq > 0 ? o->seq : 128;
    if (L > c->max_pos) {
        fprintf(stderr, "vkbert bench: --seq %d exceeds the model's %d positions\n", L, c->max_pos);
        return CLI_USAGE;
    }
    /* the backend's token budget: this batch, or --batch-tokens when larger */
    vkb_backend_opts bo;
    cli_backend_opts(o, L, &bo);
    bo.max_tokens = o->batch_tokens > B * L ? o->batch_tokens : B * L;
    cli_auto_tune(o, m, &bo); /* before the clock: tuning is not loading */
    vkb_backend *be = NULL;
    vkb_error e = {0};
    double t1 = vkb_now_s();
    if (vkb_backend_create(m, &bo, &be, &e)) {
        fprintf(stderr, "vkbert bench: cannot open device %s: %s\n", bo.device, e.msg);
        return CLI_FAILED;
    }
    cli_backend_note(o, be);
    double t_up = vkb_now_s() - t1;
    vkb_bench_info bi;
    vkb_backend_bench_info(be, &bi, &e);
    int iters = o->iters > 0 ? o->iters : (bi.gpu ? 10 : 3);

    size_t T = (size_t)B * L;
    int32_t *ids = malloc(T * sizeof *ids), *lens = malloc((size_t)B * sizeof *lens);
    float *logits = malloc((size_t)B * (c->n_labels > 0 ? c->n_labels : 1) * sizeof *logits);
    double *ms = malloc((size_t)iters * sizeof *ms);
    if (!ids || !lens || !logits || !ms) { fprintf(stderr, "vkbert bench: out of memory\n"); exit(1); }
    uint64_t st = o->seed * 2654435761u + 1;
    for (size_t i = 0; i < T; i++) {
        st ^= st << 13; st ^= st >> 7; st ^= st << 17;
        ids[i] = (int32_t)(st % (uint64_t)c->vocab_size);
    }
    for (int b = 0; b < B; b++) lens[b] = L;
    vkb_batch batch = {B, L, ids, lens};
    float *pooled = o->all_tokens ? malloc((size_t)B * c->dim * sizeof *pooled) : NULL;
    if (o->all_tokens && !pooled) { fprintf(stderr, "vkbert bench: out of memory\n"); exit(1); }
    vkb_outputs out = {.logits = c->n_labels > 0 ? logits : NULL, .hidden = NULL, .pooled = pooled,
                       .pooling = pooled ? VKB_POOL_MEAN : VKB_POOL_NONE};
    int rc = CLI_OK;
    for (int i = 0; i < 2 && rc == CLI_OK; i++)
        if (vkb_forward(be, &batch, &out, &e)) rc = CLI_FAILED;
    for (int i = 0; i < iters && rc == CLI_OK; i++) {
        if (vkb_cli_interrupted) { rc = CLI_INTERRUPTED; break; }
        double ts = vkb_now_s();
        if (vkb_forward(be, &batch, &out, &e)) rc = CLI_FAILED;
        ms[i] = (vkb_now_s() - ts) * 1e3;
    }
    /* per-kernel times: separate profiled batches */
    int prof = 0;
    if (rc == CLI_OK && bi.gpu) {
        vkb_error pe = {0};
        if (vkb_backend_profile(be, 1, &pe) == 0) {
            prof = 1;
            /* timestamps time the GPU only, so the recording pass counts too */
            for (int i = 0; i < 3 && rc == CLI_OK; i++)
                if (vkb_forward(be, &batch, &out, &e)) rc = CLI_FAILED;
            vkb_backend_profile(be, 0, &pe);
        } else if (!o->quiet && !o->json) {
            fprintf(stderr, "vkbert bench: note: %s\n", pe.msg);
        }
    }
    if (rc == CLI_FAILED) fprintf(stderr, "vkbert bench: forward failed: %s\n", e.msg);
    if (rc == CLI_OK) {
        vkb_backend_bench_info(be, &bi, &e);
        qsort(ms, (size_t)iters, sizeof *ms, cmp_d);
        double med = ms[iters / 2], flops = cli_bench_flops(c, B, L);
        double sps = B / (med * 1e-3), gfs = flops / (med * 1e-3) * 1e-9;
        double kern_total = 0;
        fill_row(row, &bi, vkb_backend_device(be));
        row->speed = sps;
        row->ms = med;
        row->gflops = gfs;
        row->load_s = t_load + t_up;
        for (int k = 0; k < bi.n_kernels; k++) kern_total += bi.kernel_ms[k];
        cli_buf b = {0};
        if (o->json) {
            cb_printf(&b, "{\"mode\":\"batch\",\"model\":");
            cb_json_str(&b, o->shape ? o->shape : o->model ? o->model : "built-in");
            cb_printf(&b, ",\"batch\":%d,\"seq\":%d,\"iters\":%d,\"seq_per_s\":%.3f,"
                          "\"ms_per_batch\":%.3f,\"ms_min\":%.3f,\"ms_max\":%.3f,\"gflops\":%.2f,"
                          "\"gflop_per_batch\":%.4f,\"load_s\":%.3f,\"model_load_s\":%.3f,"
                          "\"upload_s\":%.3f,\"all_tokens\":%s",
                      B, L, iters, sps, med, ms[0], ms[iters - 1], gfs, flops * 1e-9,
                      t_load + t_up, t_load, t_up, o->all_tokens ? "true" : "false");
            put_info(&b, &bi, 1);
            put_env(&b, o, c);
            cb_puts(&b, ",\"kernels\":{");
            for (int k = 0; k < bi.n_kernels; k++)
                cb_printf(&b, "%s\"%s\":%.3f", k ? "," : "", bi.kernel[k], bi.kernel_ms[k]);
            cb_puts(&b, "},\"kernel_calls\":{");
            for (int k = 0; k < bi.n_kernels; k++)
                cb_printf(&b, "%s\"%s\":%d", k ? "," : "", bi.kernel[k], bi.kernel_calls[k]);
            cb_puts(&b, "}}\n");
        } else {
            cb_printf(&b, "model        %s: %d layers, dim %d, %d heads, hidden %d, vocab %d\n",
                      o->shape ? "random distilbert-base shape" : o->model ? o->model : "built-in",
                      c->n_layers, c->dim, c->n_heads, c->hidden_dim, c->vocab_size);
            put_info(&b, &bi, 0);
            cb_printf(&b, "load         %.3f s (model %.3f s, backend + upload %.3f s)\n",
                      t_load + t_up, t_load, t_up);
            cb_printf(&b, "batch        %d x %d, %d timed after 2 warm-up%s\n", B, L, iters,
                      o->all_tokens ? ", last layer on every token (--all-tokens)" : "");
            cb_printf(&b, "speed        %.2f seq/s, %.2f ms/batch (median; min %.2f, max %.2f), "
                          "%.1f GFLOP/s (%.2f GFLOP/batch)\n",
                      sps, med, ms[0], ms[iters - 1], gfs, flops * 1e-9);
            if (prof && bi.timestamps) {
                cb_printf(&b, "kernels      GPU ms per batch (timestamps, mean of %d):\n", bi.forwards);
                for (int k = 0; k < bi.n_kernels; k++)
                    cb_printf(&b, "  %-14s %9.2f ms %5.1f%%  %3d dispatches\n", bi.kernel[k],
                              bi.kernel_ms[k], kern_total > 0 ? 100.0 * bi.kernel_ms[k] / kern_total : 0,
                              bi.kernel_calls[k]);
                cb_printf(&b, "  %-14s %9.2f ms\n", "total", kern_total);
            }
        }
        fputs(b.p ? b.p : "", stdout);
        free(b.p);
    }
    free(ids); free(lens); free(logits); free(pooled); free(ms);
    vkb_backend_free(be);
    return rc;
}

#define MAX_BENCH_DEVICES 16

/* The side-by-side table of a multi-device run (text mode). */
static void print_table(const cli_opts *o, const bench_row *rows, char **devs, int n) {
    printf("\n%-8s  %-44s  %-4s  %12s  %10s  %9s  %9s  %7s  %s\n", "--device", "device", "prec",
           o->input ? "reviews/s" : "seq/s", o->input ? "" : "ms/batch", o->input ? "" : "GFLOP/s",
           "peak MiB", "load s", "vs first");
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        if (!r->device[0]) { printf("%-8s  (failed)\n", devs[i]); continue; }
        char ms[16] = "", gf[16] = "", mem[16] = "-", ratio[16] = "";
        if (!o->input) {
            snprintf(ms, sizeof ms, "%.2f", r->ms);
            snprintf(gf, sizeof gf, "%.1f", r->gflops);
        }
        if (r->gpu) snprintf(mem, sizeof mem, "%.1f", r->peak_mem / 1048576.0);
        if (rows[0].speed > 0) snprintf(ratio, sizeof ratio, "%.2fx", r->speed / rows[0].speed);
        printf("%-8s  %-44.44s  %-4s  %12.2f  %10s  %9s  %9s  %7.3f  %s\n", devs[i], r->device,
               r->precision, r->speed, ms, gf, mem, r->load_s, ratio);
    }
}

int cli_bench(cli_opts *o) {
    cli_install_signals();
    if (o->shape && o->model) {
        fprintf(stderr, "vkbert bench: give --model or --shape, not both\n");
        return CLI_USAGE;
    }
    /* options of the other mode would be ignored: refuse them */
    if (o->input && (o->batch || o->seq || o->iters || o->all_tokens)) {
        fprintf(stderr, "vkbert bench: --batch, --seq, --iters and --all-tokens do not apply with --input "
                        "(it scores the whole file)\n");
        return CLI_USAGE;
    }
    if (!o->input && (o->max_len || o->format || o->text_column || o->window)) {
        fprintf(stderr, "vkbert bench: --max-len, --format, --text-column and --window apply "
                        "only with --input FILE (batch mode: --seq L)\n");
        return CLI_USAGE;
    }
    /* --device all / a list: the same run on each device in turn (one JSON
     * object each with --json; else each report, then one table) */
    char *devs[MAX_BENCH_DEVICES], *storage = NULL;
    int n_dev = 1;
    devs[0] = (char *)o->device;
    if (o->device && (strchr(o->device, ',') || !strcmp(o->device, "all"))) {
        n_dev = cli_device_list(o->device, devs, MAX_BENCH_DEVICES, &storage);
        if (n_dev < 0) return CLI_USAGE;
    }
    double t0 = vkb_now_s();
    vkb_model *m = load(o);
    if (!m) { free(storage); return CLI_FAILED; }
    double t_load = vkb_now_s() - t0;
    bench_row rows[MAX_BENCH_DEVICES];
    memset(rows, 0, sizeof rows);
    int rc = CLI_OK;
    for (int i = 0; i < n_dev; i++) {
        cli_opts od = *o;
        od.device = devs[i];
        if (n_dev > 1 && !o->json) printf("%s== --device %s\n", i ? "\n" : "", devs[i]);
        fflush(stdout);
        int r = o->input ? bench_e2e(&od, m, t_load, &rows[i]) : bench_batch(&od, m, t_load, &rows[i]);
        fflush(stdout);
        if (r == CLI_INTERRUPTED || r == CLI_USAGE) { rc = r; break; }
        if (r != CLI_OK) rc = r; /* a failed device: report it, go on with the rest */
    }
    if (n_dev > 1 && !o->json && rc != CLI_INTERRUPTED && rc != CLI_USAGE) print_table(o, rows, devs, n_dev);
    free(storage);
    vkb_model_free(m);
    return rc;
}
