/* test_vk_opcheck.c - the whole op test matrix (vkb_op_check, the library
 * side of `vkbert check --ops`) on the Vulkan device, with the validation
 * layer when VKB_VALIDATION=1:
 *  - no case fails;
 *  - every op ran (passed) with every LayerNorm and attention form the
 *    device supports - on lavapipe that is the shared-memory forms GPUs use
 *    as well as the subgroup forms lavapipe itself uses - and with the tiled,
 *    tiled_s and texel GEMMs (with and without the residual epilogue), the
 *    scalar twins of the coopmat_s / coopmat_l tiles (tiled_cs, tiled_cl:
 *    fp16, also at M and N spanning several 256x128 tiles), and
 *    flash attention at every attention shape, in fp32 and (with 16-bit
 *    storage) fp16;
 *  - a case is skipped only for a reason the device states (coopmat without
 *    its probe, the texel GEMM at K % 4 != 0, the fp16-only twins in fp32);
 *  - filters select, and unknown filter names are errors.
 * Skips (77) when there is no Vulkan device. */
#include "testutil.h"
#include "vk_internal.h"
#include <math.h>
#include <string.h>

typedef struct tally {
    int pass[4][11][2]; /* op x variant x precision */
    int rows, skip_other;
} tally;

static int op_index(const char *s) {
    static const char *const n[] = {"linear", "add_layernorm", "embed", "attention"};
    for (int i = 0; i < 4; i++) if (!strcmp(s, n[i])) return i;
    return -1;
}
static int var_index(const char *s) {
    static const char *const n[] = {"tiled", "texel", "coopmat", "shared", "subgroup", "flash", "tiled_s",
                                    "coopmat_s", "coopmat_l", "tiled_cs", "tiled_cl"};
    for (int i = 0; i < 11; i++) if (!strcmp(s, n[i])) return i;
    return -1;
}

static int on_result(void *ctx, const vkb_op_result *r) {
    tally *t = ctx;
    t->rows++;
    int o = op_index(r->op), v = var_index(r->variant), p = !strcmp(r->precision, "fp16");
    CHECK(o >= 0 && v >= 0 && (p || !strcmp(r->precision, "fp32")), "bad row %s/%s/%s", r->op,
          r->variant, r->precision);
    if (o < 0 || v < 0) return 0;
    printf("%-14s %-9s %-5s %-32s %10.3g %8.1e %s %s\n", r->op, r->variant, r->precision, r->shape,
           r->error, r->tolerance, r->status == VKB_OP_PASS ? "pass" : r->status == VKB_OP_FAIL ? "FAIL" : "skip",
           r->note);
    CHECK(r->status != VKB_OP_FAIL, "%s %s %s %s: error %.3g > %.3g %s", r->op, r->variant, r->precision,
          r->shape, r->error, r->tolerance, r->note);
    CHECK(r->status != VKB_OP_PASS || r->error <= r->tolerance, "pass beyond tolerance");
    if (r->status == VKB_OP_PASS) t->pass[o][v][p]++;
    if (r->status == VKB_OP_SKIP) {
        CHECK(r->note[0], "%s %s %s %s skipped without a reason", r->op, r->variant, r->precision, r->shape);
        int expected = !strncmp(r->variant, "coopmat", 7) || (!strcmp(r->variant, "texel") && strstr(r->note, "K")) ||
                       (!strncmp(r->variant, "tiled_c", 7) && !p && strstr(r->note, "needs fp16"));
        if (!expected) t->skip_other++;
    }
    return 0;
}

int main(void) {
    if (!vkb_test_have_vulkan("test_vk_opcheck")) return VKB_SKIP;
    const char *val = getenv("VKB_VALIDATION");
    vkb_error err = {0};
    vkb_vk_ctx *c = NULL;
    REQUIRE(vkb_vk_ctx_create("gpu", 0, &c, &err) == 0, "device: %s", err.msg);
    vkb_vk_caps caps = c->caps;
    vkb_vk_ctx_destroy(c);

    vkb_op_check_opts o = {"gpu", val && atoi(val), NULL, NULL, NULL, VKB_COOPMAT_AUTO};
    tally t;
    memset(&t, 0, sizeof t);
    int n[3];
    REQUIRE(vkb_op_check(&o, on_result, &t, n, &err) == 0, "op check: %s", err.msg);
    printf("%d passed, %d failed, %d skipped\n", n[0], n[1], n[2]);
    CHECK(n[0] + n[1] + n[2] == t.rows && n[1] == 0, "counts %d/%d/%d, rows %d", n[0], n[1], n[2], t.rows);
    int nprec = caps.f16_storage ? 2 : 1;
    for (int p = 0; p < nprec; p++) {
        const char *pn = p ? "fp16" : "fp32";
        CHECK(t.pass[0][0][p] >= 5, "linear tiled %s: %d cases passed", pn, t.pass[0][0][p]);
        CHECK(t.pass[0][1][p] >= 4, "linear texel %s: %d cases passed", pn, t.pass[0][1][p]);
        /* linear.comp's second scalar configuration (32x32 tiles, one stage) */
        CHECK(t.pass[0][6][p] >= 5, "linear tiled_s %s: %d cases passed", pn, t.pass[0][6][p]);
        if (caps.coop_ok && p) CHECK(t.pass[0][2][p] >= 5, "linear coopmat: %d cases passed", t.pass[0][2][p]);
        if (caps.coop_ok && p) CHECK(t.pass[0][7][p] >= 5, "linear coopmat_s: %d cases passed", t.pass[0][7][p]);
        /* the coopmat tiles' scalar twins (fp16 shared memory, shaderFloat16):
         * every linear case, the one spanning several 256x128 tiles included */
        if (p && caps.f16_arith) {
            CHECK(t.pass[0][9][p] >= 10, "linear tiled_cs: %d cases passed", t.pass[0][9][p]);
            CHECK(t.pass[0][10][p] >= 10, "linear tiled_cl: %d cases passed", t.pass[0][10][p]);
        }
        for (int op = 1; op < 4; op++) {
            /* the shared-memory forms run everywhere, lavapipe included */
            CHECK(t.pass[op][3][p] >= 2, "op %d shared %s: %d cases passed", op, pn, t.pass[op][3][p]);
            int sg = op == 3 ? caps.sg_shuffle : caps.sg_arith;
            if (sg) CHECK(t.pass[op][4][p] >= 2, "op %d subgroup %s: %d cases passed", op, pn, t.pass[op][4][p]);
        }
        /* flash attention (its scalar form here; coopmat on fp16 tensor-core
         * devices) at every attention case: odd L, padding, hd 16..128, L 512 */
        CHECK(t.pass[3][5][p] >= 8, "attention flash %s: %d cases passed", pn, t.pass[3][5][p]);
    }
    CHECK(t.skip_other == 0, "%d cases skipped for an unexpected reason", t.skip_other);
    if (!caps.coop_ok) printf("coopmat cases skipped: %s\n", caps.coop_why);

    /* filters select; an unknown name is an error, not "0 failed" */
    memset(&t, 0, sizeof t);
    o.op = "add_layernorm";
    o.variant = "shared";
    o.precision = "fp32";
    REQUIRE(vkb_op_check(&o, on_result, &t, n, &err) == 0, "filtered op check: %s", err.msg);
    CHECK(t.rows == 6 && n[0] == 6 && t.pass[1][3][0] == 6, "filter add_layernorm/shared/fp32: %d rows", t.rows);
    o.op = "layernorm";
    CHECK(vkb_op_check(&o, on_result, &t, n, &err) != 0 && strstr(err.msg, "layernorm"),
          "unknown op name accepted");
    o.op = NULL;
    o.variant = "shared,fast";
    CHECK(vkb_op_check(&o, on_result, &t, n, &err) != 0 && strstr(err.msg, "fast"),
          "unknown variant name accepted");
    return vkb_test_done("test_vk_opcheck");
}
