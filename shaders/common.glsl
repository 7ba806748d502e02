// common.glsl - storage types and the exact-erf GELU shared by the shaders.
// F16 selects 16-bit storage (VK_KHR_16bit_storage): values are stored as
// float16_t and widened to float for all arithmetic.
#ifdef F16
#extension GL_EXT_shader_16bit_storage : require
#define STYPE float16_t
#else
#define STYPE float
#endif

// erf(z) for the exact GELU.  GLSL has no erf; the usual Abramowitz-Stegun
// 7.1.26 formula is only good to 1.5e-7 *relative to 1*, too coarse near 0.
// |z| < 1: Maclaurin series to z^19 (truncation < 1.5e-8);
// |z| >= 1: erfc(|z|) = t*exp(-z^2 + P(t)), t = 1/(1+|z|/2) (Numerical
// Recipes' Chebyshev fit, relative error < 1.2e-7 of erfc <= 0.16).
float vkb_erf(float z) {
    float a = abs(z);
    if (a < 1.0) {
        float z2 = z * z;
        // sum_n (-1)^n z^(2n+1) / (n! (2n+1)), Horner in z2
        float s = 1.0 / 3628800.0 / 21.0;                // n = 10 (x z^20: tiny)
        s = -1.0 / 362880.0 / 19.0 + z2 * s;
        s =  1.0 / 40320.0 / 17.0 + z2 * s;
        s = -1.0 / 5040.0 / 15.0 + z2 * s;
        s =  1.0 / 720.0 / 13.0 + z2 * s;
        s = -1.0 / 120.0 / 11.0 + z2 * s;
        s =  1.0 / 24.0 / 9.0 + z2 * s;
        s = -1.0 / 6.0 / 7.0 + z2 * s;
        s =  1.0 / 2.0 / 5.0 + z2 * s;
        s = -1.0 / 3.0 + z2 * s;
        s =  1.0 + z2 * s;
        return 1.1283791670955126 * z * s;               // 2/sqrt(pi)
    }
    float t = 1.0 / (1.0 + 0.5 * a);
    float p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
              t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
              t * (-0.82215223 + t * 0.17087277))))))));
    float erfc_a = t * exp(-a * a + p);
    return z >= 0.0 ? 1.0 - erfc_a : erfc_a - 1.0;
}

float vkb_gelu(float x) { return 0.5 * x * (1.0 + vkb_erf(x * 0.70710678118654752)); }

#define ACT_NONE 0
#define ACT_GELU 1
#define ACT_RELU 2
float vkb_act(float x, uint act) {
    if (act == ACT_GELU) return vkb_gelu(x);
    if (act == ACT_RELU) return max(x, 0.0);
    return x;
}
