#define _GNU_SOURCE
#include "fake_backend.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static int fake_forward(vkb_backend *self, const vkb_batch *b, vkb_outputs *out, vkb_error *err) {
    fake *f = (fake *)self;
    f->calls++;
    if (f->fail_at_call && f->calls == f->fail_at_call) {
        snprintf(err->msg, sizeof err->msg, "device lost (simulated)");
        return -1;
    }
    if (f->oom_above && b->B * b->L > f->oom_above) {
        snprintf(err->msg, sizeof err->msg, "vkCreateBuffer: out of device memory (simulated)");
        err->code = VKB_ERR_DEVICE_OOM;
        return -1;
    }
    if (f->delay_ns) {
        struct timespec ts = {0, f->delay_ns};
        nanosleep(&ts, NULL);
    }
    if (b->B * b->L > f->max_bl) f->max_bl = b->B * b->L;
    f->ok_calls++;
    f->bl_sum += (long)b->B * b->L;
    for (int i = 0; i < b->B; i++) {
        double s = 0;
        if (b->lens[i] > b->L || b->lens[i] < 1) f->bad_padding++;
        for (int p = 0; p < b->L; p++) {
            int32_t id = b->ids[i * b->L + p];
            if (p < b->lens[i]) s += id;
            else if (id != f->model.cfg.pad_token_id) f->bad_padding++;
        }
        out->logits[i * 2] = (float)s;
        out->logits[i * 2 + 1] = (float)b->lens[i];
    }
    return 0;
}

static void fake_destroy(vkb_backend *self) { (void)self; }

void fake_init(fake *f) {
    memset(f, 0, sizeof *f);
    f->model.cfg.n_labels = 2;
    f->model.w.has_head = 1; /* as the loader sets it for a model with labels */
    f->model.cfg.max_pos = 512;
    f->model.cfg.vocab_size = 1000;
    f->model.cfg.pad_token_id = 0;
    f->base.forward = fake_forward;
    f->base.destroy = fake_destroy;
    f->base.model = &f->model;
}
