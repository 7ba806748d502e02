/* cli_check_ops.c - `vkbert check --ops [FILTER...]`: the library's op test
 * matrix (vkb_op_check) on the chosen Vulkan device, printed as a table
 * (op, variant, precision, shape, error, tolerance, result) with a summary.
 * Each argument filters by op (linear, add_layernorm, embed, attention),
 * variant (tiled, tiled_s, texel, coopmat, coopmat_s, coopmat_l, tiled_cs, tiled_cl,
 * shared, subgroup, flash) or precision (fp32,
 * fp16); arguments of the same kind are alternatives.  Exit 1 when any case
 * fails; a variant the device cannot run is listed as skipped, with why. */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const ops_known = "linear,add_layernorm,embed,attention";
static const char *const variants_known =
    "tiled,tiled_s,texel,coopmat,coopmat_s,coopmat_l,tiled_cs,tiled_cl,shared,subgroup,flash";

static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

static void add(char *buf, size_t cap, const char *name) {
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%s", len ? "," : "", name);
}

static int print_row(void *ctx, const vkb_op_result *r) {
    (void)ctx;
    static const char *const st[] = {"pass", "FAIL", "skip"};
    char e[16] = "-", t[16];
    if (r->status != VKB_OP_SKIP) {
        if (isinf(r->error)) snprintf(e, sizeof e, "inf");
        else snprintf(e, sizeof e, "%.2e", r->error);
    }
    snprintf(t, sizeof t, "%.1e", r->tolerance);
    printf("%-14s %-9s %-5s %-32s %9s %8s  %s%s%s\n", r->op, r->variant, r->precision, r->shape, e, t,
           st[r->status], r->note[0] ? ": " : "", r->note);
    fflush(stdout);
    return 0;
}

int cli_check_ops(cli_opts *o) {
    char ops[128] = "", vars[128] = "", precs[32] = "";
    for (int i = 0; i < o->nargs; i++) {
        const char *a = o->args[i];
        if (listed(ops_known, a)) add(ops, sizeof ops, a);
        else if (listed(variants_known, a)) add(vars, sizeof vars, a);
        else if (!strcmp(a, "fp32") || !strcmp(a, "fp16")) add(precs, sizeof precs, a);
        else {
            fprintf(stderr, "vkbert check --ops: '%s' is no op (%s), variant (%s) or precision "
                    "(fp32, fp16)\n", a, ops_known, variants_known);
            return CLI_USAGE;
        }
    }
    if (o->precision == VKB_PREC_FP32) add(precs, sizeof precs, "fp32");
    if (o->precision == VKB_PREC_FP16) add(precs, sizeof precs, "fp16");
    /* a Vulkan device, also where `auto` would pick the CPU reference */
    const char *dev = o->device && strcmp(o->device, "auto") ? o->device : "gpu";
    if (!strcmp(dev, "cpu")) {
        fprintf(stderr, "vkbert check --ops: runs the Vulkan kernels: --device gpu or gpu:N\n");
        return CLI_USAGE;
    }
    cli_opts od = *o;
    od.device = dev;
    vkb_backend_opts bo;
    cli_backend_opts(&od, 0, &bo); /* VKB_VALIDATION, VKB_COOPMAT as every command */
    if ((int)bo.vulkan.coopmat < 0) return CLI_USAGE; /* a bad VKB_COOPMAT, reported */
    vkb_op_check_opts co = {dev, bo.validation, ops[0] ? ops : NULL, vars[0] ? vars : NULL,
                            precs[0] ? precs : NULL, bo.vulkan.coopmat};
    printf("%-14s %-9s %-5s %-32s %9s %8s  %s\n", "op", "variant", "prec", "shape", "error", "tol",
           "result");
    int n[3] = {0, 0, 0};
    vkb_error e = {0};
    if (vkb_op_check(&co, print_row, NULL, n, &e)) {
        fprintf(stderr, "vkbert check --ops: %s\n", e.msg);
        return CLI_FAILED;
    }
    printf("%d passed, %d failed, %d skipped (error: max |gpu - cpu| / (1 + |cpu|) vs the fp64 "
           "CPU op)\n", n[0], n[1], n[2]);
    if (n[0] + n[1] == 0) {
        fprintf(stderr, "vkbert check --ops: no case ran\n");
        return CLI_FAILED;
    }
    return n[1] ? CLI_FAILED : CLI_OK;
}
