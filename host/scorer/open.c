/* open.c - opens the backend a device string names: "cpu" (host/cpu),
 * "gpu"/"gpu:N" (host/vulkan), or "auto" (a hardware GPU, else the CPU). */
#include "backend.h"
#include "cpu_backend.h"
#include "vk_backend.h"
#include "vkbert_vulkan.h"
#include "error.h"
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
