/* cpu_backend.h - opening the CPU reference backend (host/cpu/cpu_backend.c). */
#ifndef VKB_CPU_BACKEND_H
#define VKB_CPU_BACKEND_H
#include "backend.h"
int vkb_cpu_backend_create(const vkb_model *m, const vkb_backend_opts *o,
                           vkb_backend **out, vkb_error *err);
#endif
