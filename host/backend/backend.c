/* backend.c - the calls every backend answers, through its vtable (backend.h). */
#include "backend.h"
#include "error.h"

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
