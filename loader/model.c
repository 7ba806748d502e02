/* STUB: replaced by the loader work */
#include "model.h"
#include "../host/error.h"
int vkb_model_load(const char *dir, vkb_model **out, vkb_error *err) { (void)dir; *out = 0; return vkb_fail(err, "not implemented"); }
void vkb_model_free(vkb_model *m) { (void)m; }
const vkb_config *vkb_model_config(const vkb_model *m) { return &m->cfg; }
const vkb_tokenizer *vkb_model_tokenizer(const vkb_model *m) { return m->tok; }
int vkb_model_random(const vkb_config *s, uint64_t seed, vkb_model **out, vkb_error *err) { (void)s;(void)seed; *out = 0; return vkb_fail(err, "not implemented"); }
void vkb_tensor_to_f32(const vkb_tensor *t, float *dst) { (void)t;(void)dst; }
