/* STUB: replaced by the Vulkan work */
#include "backend.h"
#include "error.h"
int vkb_vk_backend_create(const vkb_model *m, const vkb_backend_opts *o, vkb_backend **out, vkb_error *err) { (void)m;(void)o; *out = 0; return vkb_fail(err, "Vulkan backend not implemented"); }
