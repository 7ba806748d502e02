/* test_errcode.c - errors carry a code (vkb_errcode) next to the message, and
 * the code, never the text, is what callers act on: a broken checkpoint is
 * VKB_ERR_INPUT; on a Vulkan device with a memory cap, activations that do
 * not fit are VKB_ERR_DEVICE_OOM (vkb_backend_create_fit halves the token
 * budget and succeeds), weights that do not fit are VKB_ERR_WEIGHTS_OOM (no
 * retry can help); vkb_fail keeps the code of the error it wraps. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "error.h"
#include <string.h>

static int notes;
static void on_note(void *ctx, const char *msg) { (void)ctx; (void)msg; notes++; }

int main(void) {
    /* names: every code has a distinct stable name */
    const char *seen[16] = {0};
    for (int c = VKB_ERR_NONE; c <= VKB_ERR_INTERRUPTED; c++) {
        seen[c] = vkb_errcode_name((vkb_errcode)c);
        for (int d = 0; d < c; d++) CHECK(strcmp(seen[c], seen[d]) != 0, "name %s twice", seen[c]);
    }

    /* vkb_fail: FAILED when no code was set; a wrapped error keeps its code */
    vkb_error e = {0};
    vkb_fail(&e, "plain");
    CHECK(e.code == VKB_ERR_FAILED, "vkb_fail code %s", vkb_errcode_name(e.code));
    vkb_error w = {0};
    vkb_failc(&w, VKB_ERR_DEVICE_LOST, "inner");
    vkb_fail(&w, "outer: %s", w.msg);
    CHECK(w.code == VKB_ERR_DEVICE_LOST && strcmp(w.msg, "outer: inner") == 0, "wrap: %s %s",
          vkb_errcode_name(w.code), w.msg);
    vkb_failc(&w, VKB_ERR_NONE, "x");
    CHECK(w.code == VKB_ERR_FAILED, "failc(NONE) gives %s", vkb_errcode_name(w.code));

    /* a checkpoint that is not one: bad input */
    vkb_model *m = NULL;
    vkb_error le = {0};
    CHECK(vkb_model_load("data/no-such-model", &m, &le) != 0 && le.code == VKB_ERR_INPUT,
          "missing model: code %s (%s)", vkb_errcode_name(le.code), le.msg);

    if (!vkb_test_have_vulkan("test_errcode")) return vkb_test_done("test_errcode");
    vkb_error me = {0};
    REQUIRE(vkb_model_load("data/tiny-f32", &m, &me) == 0, "%s", me.msg);

    /* weights (a few hundred KiB) fit a 1 MiB cap, 16384 tokens of activations
     * do not: DEVICE_OOM inside, a smaller budget that fits outside */
    vkb_backend_opts o = {.device = "gpu", .validation = 1, .max_device_mem = 1 << 20};
    vkb_backend *be = NULL;
    vkb_error oe = {0};
    int T = 0;
    notes = 0;
    CHECK(vkb_backend_create_fit(m, &o, on_note, NULL, &be, &T, &oe) == 0,
          "fit under a 1 MiB cap: %s", oe.msg);
    CHECK(notes > 0 && T < 16384, "no halving under the cap (%d notes, budget %d)", notes, T);
    vkb_backend_free(be);
    be = NULL;

    /* the same without retries: the activations' own error is DEVICE_OOM */
    o.max_tokens = 16384;
    vkb_error de = {0};
    CHECK(vkb_backend_create(m, &o, &be, &de) != 0 && de.code == VKB_ERR_DEVICE_OOM,
          "activations over the cap: code %s (%s)", vkb_errcode_name(de.code), de.msg);
    if (be) vkb_backend_free(be);
    be = NULL;

    /* weights over the cap: WEIGHTS_OOM, and create_fit gives up at once */
    o.max_device_mem = 20 << 10;
    vkb_error we = {0};
    notes = 0;
    CHECK(vkb_backend_create_fit(m, &o, on_note, NULL, &be, &T, &we) != 0 &&
          we.code == VKB_ERR_WEIGHTS_OOM && notes == 0,
          "weights over the cap: code %s, %d notes (%s)", vkb_errcode_name(we.code), notes, we.msg);
    if (be) vkb_backend_free(be);
    vkb_model_free(m);
    return vkb_test_done("test_errcode");
}
