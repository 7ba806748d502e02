/* backend.c - picks a backend from the device string and forwards calls. */
#include "backend.h"
#include "error.h"
#include <math.h>
#include <string.h>

int vkb_backend_create(const vkb_model *m, const vkb_backend_opts *opts,
                       vkb_backend **out, vkb_error *err) {
    vkb_backend_opts def = {0};
    if (!opts) opts = &def;
    const char *dev = opts->device ? opts->device : "gpu";
    *out = NULL;
    vkb_backend_opts resolved;
    if (strcmp(dev, "auto") == 0) {
        resolved = *opts;
        dev = resolved.device = vkb_auto_device(NULL, 0);
        opts = &resolved;
    }
    if (strcmp(dev, "cpu") == 0) return vkb_cpu_backend_create(m, opts, out, err);
    if (strncmp(dev, "gpu", 3) == 0) return vkb_vk_backend_create(m, opts, out, err);
    return vkb_fail(err, "unknown device '%s' (expected cpu, gpu, gpu:N or auto)", dev);
}

int vkb_forward(vkb_backend *be, const vkb_batch *b, vkb_outputs *out, vkb_error *err) {
    if (b->B <= 0 || b->L <= 0)
        return vkb_fail(err, "empty batch (B=%d, L=%d)", b->B, b->L);
    if (b->L > be->model->cfg.max_pos)
        return vkb_fail(err, "sequence length %d exceeds max_position_embeddings %d",
                        b->L, be->model->cfg.max_pos);
    return be->forward(be, b, out, err);
}

void vkb_backend_free(vkb_backend *be) {
    if (be) be->destroy(be);
}

const char *vkb_backend_device(const vkb_backend *be) { return be->device; }

void vkb_softmax(float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++) if (x[i] > mx) mx = x[i];
    double s = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - mx); s += x[i]; }
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] / s);
}
