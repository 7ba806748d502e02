/* cpu_pool.c - pooling the last hidden state (cpu_pool.h). */
#include "cpu_pool.h"
#include <math.h>
#include <stddef.h>

void vkb_cpu_pool(const float *x, const int32_t *lens, float *out, int B, int L, int dim,
                  int mode) {
    for (int b = 0; b < B; b++) {
        const float *seq = x + (size_t)b * L * dim;
        float *o = out + (size_t)b * dim;
        int n = lens[b];
        if (mode == 2) {
            for (int j = 0; j < dim; j++) o[j] = seq[j];
        } else if (mode == 3) {
            for (int j = 0; j < dim; j++) {
                float m = seq[j];
                for (int p = 1; p < n; p++) {
                    float v = seq[(size_t)p * dim + j];
                    if (v > m) m = v;
                }
                o[j] = m;
            }
        } else {
            for (int j = 0; j < dim; j++) {
                double s = 0;
                for (int p = 0; p < n; p++) s += seq[(size_t)p * dim + j];
                o[j] = (float)(s / n);
            }
        }
    }
}
