/* fake_backend.h - a backend whose logits are a known function of each
 * sequence (logits[0] = sum of valid ids, logits[1] = length), with injected
 * faults, for testing the batch scorer without a model. */
#ifndef VKB_FAKE_BACKEND_H
#define VKB_FAKE_BACKEND_H
#include "backend.h"

typedef struct fake {
    vkb_backend base;
    vkb_model model;
    int oom_above;     /* "out of device memory" when B*L exceeds this (0 = never) */
    int fail_at_call;  /* "device lost" on this forward call, 1-based (0 = never) */
    long delay_ns;     /* sleep per forward, so that several workers get batches */
    int calls;         /* forward calls, failed ones included */
    int ok_calls;      /* forward calls that succeeded */
    long bl_sum;       /* sum of B*L over successful calls */
    int max_bl, bad_padding;
} fake;

/* A 2-label fake with max_pos 512, vocab 1000, pad id 0. */
void fake_init(fake *f);
#endif
