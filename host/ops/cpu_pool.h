/* cpu_pool.h - pooling of the last hidden state into one vector per
 * sequence (sentence embeddings) (internal; the CPU
 * backend pools its activations with it, the Vulkan backend the last layer
 * it reads back). */
#ifndef VKB_CPU_POOL_H
#define VKB_CPU_POOL_H
#include <stdint.h>

/* out[b*dim + j] from x ([B*L, dim], row b*L+p): mode 1 = mean over the
 * positions p < lens[b], 2 = row b*L (the first token), 3 = element-wise max
 * over p < lens[b] (vkb_pooling's values).  Sums in double.  lens[b] must be
 * in [1, L]. */
void vkb_cpu_pool(const float *x, const int32_t *lens, float *out, int B, int L, int dim,
                  int mode);
#endif
