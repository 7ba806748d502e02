/* cli_tune.c - `vkbert tune`: times and checks every kernel configuration
 * the device can run at the model's shapes and caches the fastest correct
 * one (the library's vkb_tune); the automatic tuning on a hardware GPU's
 * first use (cli_auto_tune); where the cache lives (cli_tune_dir). */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

/* $XDG_CACHE_HOME/vkbert (an absolute XDG_CACHE_HOME, as the XDG spec
 * says), else $HOME/.cache/vkbert; "" when neither is known. */
void cli_tune_dir(cli_opts *o) {
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    o->tune_dir[0] = 0;
    if (x && x[0] == '/') snprintf(o->tune_dir, sizeof o->tune_dir, "%s/vkbert", x);
    else if (h && h[0] == '/') snprintf(o->tune_dir, sizeof o->tune_dir, "%s/.cache/vkbert", h);
}

static void tune_opts_of(const cli_opts *o, const vkb_model *m, const vkb_backend_opts *bo,
                         vkb_tune_opts *to) {
    memset(to, 0, sizeof *to);
    to->device = bo->device;
    to->validation = bo->validation;
    to->precision = bo->precision;
    vkb_tune_shape_of(m, bo->max_tokens, &to->shape);
    to->cache_dir = o->tune_dir[0] ? o->tune_dir : NULL;
    /* VKB_TUNE_TEST_FAIL=op:variant: the library's test hook (a candidate
     * whose check is made to fail; the tests show it is never chosen) */
    const char *tf = getenv("VKB_TUNE_TEST_FAIL");
    to->test_fail = tf && *tf ? tf : NULL;
}

void cli_auto_tune(const cli_opts *o, const vkb_model *m, const vkb_backend_opts *bo) {
    if (o->no_tune || !o->tune_dir[0] || !bo->device || !strcmp(bo->device, "cpu")) return;
    vkb_tune_opts to;
    tune_opts_of(o, m, bo, &to);
    to.auto_mode = 1;  /* hardware GPUs only: lavapipe is tuned by `vkbert tune` alone */
    to.warmup = 1;
    to.repeats = 3;    /* short: a few seconds on a GPU */
    vkb_tune_result *r = calloc(1, sizeof *r);
    if (!r) return;
    vkb_error e = {0};
    if (vkb_tune(&to, r, &e)) {
        if (!o->quiet)
            fprintf(stderr, "vkbert: note: automatic tuning failed (the default kernels run): %s\n", e.msg);
    } else {
        if (r->note[0] && !o->quiet) fprintf(stderr, "vkbert: note: %s\n", r->note);
        if (!r->skipped && !r->from_cache && !o->quiet)
            fprintf(stderr, "vkbert: note: tuned the kernels for %s in %.1f s (first use of this "
                            "model shape; cached in %s; `vkbert tune` shows the table, --no-tune "
                            "skips)\n", r->device, r->seconds, r->written ? r->path : "nothing");
    }
    free(r);
}

static void print_table(const vkb_tune_result *r, int tokens) {
    printf("device     %s (vendor 0x%04x, device 0x%04x, driver 0x%08x)\n", r->device, r->vendor_id,
           r->device_id, r->driver_version);
    printf("shape      %d tokens, dim %d, hidden %d, heads %d, %s; vkbert %s\n", r->shape.tokens,
           r->shape.dim, r->shape.hidden, r->shape.heads, r->precision, r->version);
    printf("%-10s %-28s %-9s %10s %10s %10s  %s\n", "op", "shape", "variant", "ms", "error", "tol",
           "result");
    for (int i = 0; i < VKB_TUNE_NOPS; i++) {
        const vkb_tune_op_result *op = &r->ops[i];
        for (int j = 0; j < op->ncand; j++) {
            const vkb_tune_cand *c = &op->cand[j];
            char ms[32], er[32];
            if (c->ms >= 0) snprintf(ms, sizeof ms, "%.4f", c->ms);
            else snprintf(ms, sizeof ms, "-");
            snprintf(er, sizeof er, "%.2e", c->error);
            printf("%-10s %-28s %-9s %10s %10s %10.1e  %s%s%s%s\n", j ? "" : vkb_tune_op_name((vkb_tune_op)i),
                   j ? "" : op->shape, c->variant, ms, er, c->tolerance, c->pass ? "pass" : "FAIL",
                   !strcmp(c->variant, op->chosen) ? "  <- chosen" : "", c->note[0] ? "  " : "", c->note);
        }
        if (!op->chosen[0])
            printf("%-10s no candidate passed: the device policy's default runs\n", "");
    }
    if (r->from_cache && r->shape.tokens != tokens)
        printf("from the cache: %s (tuned at a token budget of %d, which serves %d; nothing timed; "
               "--retune times %d)\n", r->path, r->shape.tokens, tokens, tokens);
    else if (r->from_cache) printf("from the cache: %s (nothing timed; --retune times again)\n", r->path);
    else if (r->written) printf("tuned in %.1f s; cached: %s\n", r->seconds, r->path);
    else printf("tuned in %.1f s; not cached\n", r->seconds);
}

int cli_tune(cli_opts *o) {
    if (o->device && !strcmp(o->device, "cpu")) {
        fprintf(stderr, "vkbert tune: tunes the Vulkan kernels; --device cpu has none (use gpu or gpu:N)\n");
        return CLI_USAGE;
    }
    vkb_model *m = NULL;
    vkb_error e = {0};
    if (o->shape) {
        vkb_config shape;
        if (vkb_config_named(o->shape, &shape, &e) || vkb_model_random(&shape, o->seed, &m, &e)) {
            fprintf(stderr, "vkbert tune: --shape %s: %s\n", o->shape, e.msg);
            return CLI_USAGE;
        }
    } else if (!(m = cli_load_model(o))) {
        return CLI_FAILED;
    }
    int max_len = cli_max_len(o, m);
    vkb_backend_opts bo;
    cli_backend_opts(o, max_len, &bo);
    if (!o->device || !strcmp(o->device, "auto")) bo.device = "gpu"; /* lavapipe too, when asked */
    vkb_tune_opts to;
    tune_opts_of(o, m, &bo, &to);
    to.retune = o->retune;
    vkb_tune_result *r = calloc(1, sizeof *r);
    int rc = CLI_OK;
    if (!r) { fprintf(stderr, "vkbert tune: out of memory\n"); vkb_model_free(m); return CLI_FAILED; }
    if (!o->tune_dir[0] && !o->quiet)
        fprintf(stderr, "vkbert tune: note: neither XDG_CACHE_HOME nor HOME is set: nothing is cached\n");
    if (vkb_tune(&to, r, &e)) {
        fprintf(stderr, "vkbert tune: %s\n", e.msg);
        rc = CLI_FAILED;
    } else {
        if (r->note[0]) fprintf(stderr, "vkbert tune: note: %s\n", r->note);
        if (o->json) {
            char *js = NULL;
            if (vkb_tune_json(r, &js, &e)) { fprintf(stderr, "vkbert tune: %s\n", e.msg); rc = CLI_FAILED; }
            else {
                printf("%s\n", js);
                free(js);
            }
        } else {
            print_table(r, to.shape.tokens);
        }
        for (int i = 0; i < VKB_TUNE_NOPS; i++)
            if (!r->ops[i].chosen[0]) rc = CLI_FAILED; /* an op with no correct kernel */
    }
    free(r);
    vkb_model_free(m);
    if (fflush(stdout)) rc = CLI_FAILED;
    return rc;
}
