/* half.h - IEEE binary16 and bfloat16 conversions (host side, so results do
 * not depend on F16C or other CPU features). */
#ifndef VKB_HALF_H
#define VKB_HALF_H
#include <stddef.h>
#include <stdint.h>

/* f32 -> f16, round to nearest even; overflow -> inf, NaN -> quiet NaN. */
uint16_t vkb_f32_to_f16(float f);
/* f16 -> f32, exact for every input (NaN keeps its payload). */
float vkb_f16_to_f32(uint16_t h);
/* n values from little-endian F32 bytes (any alignment) to f16. */
void vkb_f32le_to_f16(const unsigned char *src, uint16_t *dst, size_t n);
#endif
