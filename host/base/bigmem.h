/* bigmem.h - large buffers (weights, activations) on transparent huge pages
 * where the kernel offers them (internal; base layer).
 *
 * The CPU path's GEMM streams a 64 KB slice of packed weights per K block
 * and reads twelve activation rows 3-12 KB apart at once: on 4 KB pages
 * that is a new page every 32 k steps and twelve live ones per tile, and
 * the TLB misses cost 5-10% of the GEMM's speed (bench/cpu_gemm_bench on
 * the Xeon of issue 14, both this GEMM and OpenBLAS).  Linux distributions
 * ship transparent huge pages as "madvise" (Debian's default), so they have
 * to be asked for: a buffer of at least 2 MB is aligned to 2 MB and
 * advised MADV_HUGEPAGE.  Where that is not available (another OS, the
 * advice refused, THP off) the buffer is a plain one; nothing else differs.
 * Free with vkb_big_free (free() too works: the memory is malloc's). */
#ifndef VKB_BIGMEM_H
#define VKB_BIGMEM_H
#include <stddef.h>

/* n bytes (uninitialised), or NULL. */
void *vkb_big_alloc(size_t n);
void vkb_big_free(void *p);

#endif
