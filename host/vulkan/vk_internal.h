/* vk_internal.h - the Vulkan runtime shared by the vk_*.c files (internal).
 *
 * vk_context.c  instance, device, queue, validation messenger, VkResult text
 * vk_policy.c   device capabilities and the one decision of which precision
 *               and GEMM/LayerNorm/attention variants run; variant names
 * vk_memory.c   buffers, staging uploads and downloads, fp16 packing
 * vk_upload.c   weight upload: tensors converted straight into staging memory
 * vk_pipeline.c shader modules (by generated vkb_shader_id), specialization
 *               constants, descriptor sets, the kernel set of a policy
 * vk_coopmat.c  the cooperative-matrix GEMM: probe, pipelines, self-test,
 *               its confirmation at backend creation
 * vk_devices.c  the device report behind `vkbert devices`, --device auto
 * vk_backend.c  the forward pass: recorded once per batch shape, replayed
 * vk_ops.c      one op on host arrays (tests, op matrix, self-test, benches),
 *               including the one GEMM harness
 * vk_opcheck.c  the op test matrix behind `vkbert check --ops`
 * vk_profile.c  per-kernel timestamps and the figures of `vkbert bench`
 *
 * Device-level functions go through a per-context volk table (ctx->d), so
 * several devices can be open at once without global function pointers. */
#ifndef VKB_VK_INTERNAL_H
#define VKB_VK_INTERNAL_H
#include <volk.h>
#include "vkbert_vulkan.h"
#include "half.h"
#include "cpu_ops.h"
#include "vkb_shaders.h" /* generated: vkb_shader_id, one per variant of shaders/shaders.cmake */

/* VK_KHR_cooperative_matrix: Debian 12's Vulkan headers (1.3.239) predate it,
 * so the few names vkbert uses are declared here (values and layouts from
 * the Vulkan registry, VK_KHR_cooperative_matrix revision 2); newer headers
 * define them themselves. */
#ifndef VK_KHR_cooperative_matrix
#define VK_KHR_cooperative_matrix 1
#define VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME "VK_KHR_cooperative_matrix"
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR ((VkStructureType)1000506000)
#define VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR ((VkStructureType)1000506001)
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_KHR ((VkStructureType)1000506002)
typedef enum VkComponentTypeKHR {
    VK_COMPONENT_TYPE_FLOAT16_KHR = 0,
    VK_COMPONENT_TYPE_FLOAT32_KHR = 1,
    VK_COMPONENT_TYPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkComponentTypeKHR;
typedef enum VkScopeKHR {
    VK_SCOPE_SUBGROUP_KHR = 3,
    VK_SCOPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkScopeKHR;
typedef struct VkCooperativeMatrixPropertiesKHR {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    VkComponentTypeKHR AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    VkScopeKHR scope;
} VkCooperativeMatrixPropertiesKHR;
typedef struct VkPhysicalDeviceCooperativeMatrixFeaturesKHR {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} VkPhysicalDeviceCooperativeMatrixFeaturesKHR;
typedef struct VkPhysicalDeviceCooperativeMatrixPropertiesKHR {
    VkStructureType sType;
    void *pNext;
    VkShaderStageFlags cooperativeMatrixSupportedStages;
} VkPhysicalDeviceCooperativeMatrixPropertiesKHR;
typedef VkResult(VKAPI_PTR *PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)(
    VkPhysicalDevice physicalDevice, uint32_t *pPropertyCount, VkCooperativeMatrixPropertiesKHR *pProperties);
#endif

typedef struct vkb_vk_features {
    int f16_storage;   /* storageBuffer16BitAccess */
    int f16_arith;     /* shaderFloat16 */
    int int_dot;       /* shaderIntegerDotProduct */
    int coop_nv;       /* VK_NV_cooperative_matrix (feature cooperativeMatrix) */
    int coop_khr;      /* VK_KHR_cooperative_matrix (feature cooperativeMatrix) */
    int subgroup_size;
} vkb_vk_features;

/* ---- vk_policy.c: what a device can do, and which kernels run on it ---- */
/* The facts the policy decides from, read once from the physical device. */
typedef struct vkb_vk_caps {
    int is_cpu;            /* VK_PHYSICAL_DEVICE_TYPE_CPU (lavapipe, SwiftShader) */
    int uma;               /* device-local memory is host memory (CPU, integrated) */
    int f16_storage;       /* storageBuffer16BitAccess */
    /* coopmat: can the device run the coopmat GEMM (vkb_vk_coopmat_probe; at
     * context creation also: was the device created with what it needs);
     * else coop_why says what is missing */
    int coop_ok;
    char coop_why[320];
    /* which SPIR-V forms passed their probe (VKB_VK_COOP_NV | VKB_VK_COOP_KHR);
     * coop_ok = any of them.  coop_why also names a form that failed while
     * the other passed. */
    int coop_forms;
    /* vendor quirk, set once from the vendor id: NVIDIA drivers expose both
     * extensions; there the NV form (what the kernels were written and
     * measured with) is preferred, elsewhere the KHR one */
    int quirk_coop_prefer_nv;
    int sg_size;           /* subgroup size */
    int sg_arith, sg_shuffle; /* subgroup arithmetic / shuffles in compute, size 1..64 */
    int f16_arith;         /* shaderFloat16 (the fp16-shared-memory GEMM twins) */
    /* maxComputeSharedMemorySize: a GEMM configuration needing more is never
     * run, forced or tuned (vkb_vk_gemm_smem); 0 = not known (fabricated
     * capabilities in unit tests): no limit applied */
    uint32_t max_shared;
} vkb_vk_caps;
enum { VKB_VK_COOP_NV = 1, VKB_VK_COOP_KHR = 2 };
void vkb_vk_caps_query(VkInstance inst, VkPhysicalDevice pd, const vkb_vk_features *f,
                       vkb_vk_caps *caps);

/* The decision: storage precision and the kernel variant of each op (none
 * AUTO).  gemm == COOPMAT is confirmed by a self-test when a backend is
 * created (vkb_vk_gemm_confirm), which falls back to tiled when it fails
 * unless the variant was forced (gemm_forced). */
typedef struct vkb_vk_policy {
    int f16;
    vkb_gemm_variant gemm;
    vkb_ln_variant ln;
    vkb_attn_variant attn;
    int attn_coop;         /* flash attention's inner products on coopmat fragments
                              (fp16, probed devices, head dim a multiple of 16) */
    int coop_khr;          /* coopmat kernels (GEMM, attention) in their
                              SPV_KHR_cooperative_matrix form, else NV */
    int gemm_forced;
    int mapped_weights;    /* weights converted straight into mapped device memory */
    /* the GEMM of each layer GEMM class (vkb_tune_op QKV, OUT, FFN1, FFN2):
     * gemm, unless tuning chose per class (vkb_vk_policy_tuned); the
     * classifier head runs gemm */
    vkb_gemm_variant gemm_cls[4];
    int tuned;             /* choices from the tuning cache were applied */
} vkb_vk_policy;
/* Choices from the tuning cache (vk_tune.c); AUTO = no choice. */
typedef struct vkb_vk_tuned {
    vkb_gemm_variant gemm[4];
    vkb_attn_variant attn;
    int tokens;        /* the token budget the entry was tuned at (>= the run's) */
} vkb_vk_tuned;
/* Applies t to a decided policy p where opts o force nothing (a forced
 * variant wins) and the device can run the choice. */
void vkb_vk_policy_tuned(const vkb_vk_caps *caps, const vkb_vulkan_opts *o, const vkb_vk_tuned *t,
                         vkb_vk_policy *p);
/* Does any GEMM of p (the head's or a class's) run variant v? */
int vkb_vk_policy_uses_gemm(const vkb_vk_policy *p, vkb_gemm_variant v);
/* Applies opts (NULL = all AUTO) to the device described by caps (named dev
 * in messages); fails when a forced variant or precision cannot run. */
int vkb_vk_policy_decide(const vkb_vk_caps *caps, const char *dev, vkb_precision prec,
                         const vkb_vulkan_opts *o, vkb_vk_policy *p, vkb_error *err);
/* "fp32 storage, texel GEMM, subgroup layernorm, subgroup attention": what
 * `vkbert devices` prints as "vkbert uses". */
void vkb_vk_policy_str(const vkb_vk_policy *p, char *out, size_t n);

typedef struct vkb_vk_ctx {
    VkInstance inst;
    VkDebugUtilsMessengerEXT messenger;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger; /* this instance's */
    VkPhysicalDevice pdev;
    VkDevice dev;
    struct VolkDeviceTable d;
    VkQueue queue;
    uint32_t qfam;
    VkCommandPool pool;
    VkCommandBuffer xfer;      /* one-shot uploads/downloads */
    VkFence fence;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    vkb_vk_features feat;
    vkb_vk_caps caps;          /* what the policy decides from (vk_policy.c) */
    /* validation messages seen since the last check (first one kept) */
    int val_count;
    char val_msg[700];
    /* staging buffer for uploads/downloads, created on first use */
    VkBuffer stage;
    VkDeviceMemory stage_mem;
    void *stage_map;
    VkDeviceSize stage_size;
    /* vkb_backend_opts.max_device_mem (0 = none) and the device-local bytes
     * allocated by vkb_vk_buffer_create so far: allocations past the cap
     * fail as VK_ERROR_OUT_OF_DEVICE_MEMORY, to test out-of-memory handling */
    VkDeviceSize mem_cap, mem_used;
    VkDeviceSize mem_peak;     /* highest mem_used so far (`vkbert bench`) */
} vkb_vk_ctx;

/* The policy for an open device. */
int vkb_vk_policy_for_ctx(const vkb_vk_ctx *c, vkb_precision prec, const vkb_vulkan_opts *o,
                          vkb_vk_policy *p, vkb_error *err);

/* ---- vk_context.c ---- */
/* Loads the Vulkan loader, creates an instance (with the validation layer and
 * a messenger when `validation`), picks the device named by `device` ("gpu",
 * "gpu:N"; NULL = "gpu") and creates a compute queue. */
int vkb_vk_ctx_create(const char *device, int validation, vkb_vk_ctx **out,
                      vkb_error *err);
void vkb_vk_ctx_destroy(vkb_vk_ctx *c);
/* Destroys the device (and everything on it) but keeps the instance and
 * messenger, so messages about leaked objects can still be checked. */
void vkb_vk_ctx_release_device(vkb_vk_ctx *c);
/* Fails with the first validation message seen since the last call. */
int vkb_vk_ctx_check_validation(vkb_vk_ctx *c, vkb_error *err);
/* Turns a failed VkResult into a message naming what was being done. */
int vkb_vk_fail(vkb_vk_ctx *c, VkResult r, const char *what, vkb_error *err);
const char *vkb_vk_result_str(VkResult r);
/* The physical device named by spec ("gpu": the best; "gpu:N") into
 * c->pdev, c->props and c->mem (after vkb_vk_instance_create). */
int vkb_vk_pick_device(vkb_vk_ctx *c, const char *spec, vkb_error *err);
/* Loader + instance without validation, for listing devices. */
int vkb_vk_instance_create(int validation, vkb_vk_ctx *c, vkb_error *err);
/* Optional features of a device; returns its extension list (free it). */
VkExtensionProperties *vkb_vk_query_features(VkPhysicalDevice pd, vkb_vk_features *f,
                                             uint32_t *n_ext);
/* Submits cmd and waits for it at most timeout_ns ("device timed out"). */
int vkb_vk_submit_wait(vkb_vk_ctx *c, VkCommandBuffer cmd, uint64_t timeout_ns,
                       const char *what, vkb_error *err);

/* ---- vk_memory.c ---- */
typedef struct vkb_vk_buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;                 /* host-visible buffers stay mapped */
    VkDeviceSize mem_bytes;    /* allocated, counted in ctx->mem_used */
} vkb_vk_buffer;

/* Buffer memory: device-local; host-visible coherent (staging, readback);
 * or device-local and also mapped where the device shares host memory
 * (CPU implementations, integrated GPUs; b->map set), else plain device-local. */
typedef enum { VKB_MEM_DEVICE = 0, VKB_MEM_HOST = 1, VKB_MEM_DEVICE_MAPPED = 2 } vkb_vk_mem;
/* A buffer usable as storage/texel buffer and transfer source/destination. */
int vkb_vk_buffer_create(vkb_vk_ctx *c, VkDeviceSize size, vkb_vk_mem mode,
                         const char *what, vkb_vk_buffer *b, vkb_error *err);
void vkb_vk_buffer_destroy(vkb_vk_ctx *c, vkb_vk_buffer *b);
/* Copies host memory into / out of a device buffer through the staging
 * buffer (chunked; one submit per chunk). */
int vkb_vk_upload(vkb_vk_ctx *c, vkb_vk_buffer *dst, VkDeviceSize off,
                  const void *src, VkDeviceSize n, vkb_error *err);
int vkb_vk_download(vkb_vk_ctx *c, vkb_vk_buffer *src, VkDeviceSize off,
                    void *dst, VkDeviceSize n, vkb_error *err);
/* The staging buffer (created on first use), and one submit copying regions. */
int vkb_vk_stage_ready(vkb_vk_ctx *c, vkb_error *err);
int vkb_vk_copy_regions(vkb_vk_ctx *c, VkBuffer src, VkBuffer dst, const VkBufferCopy *regions,
                        uint32_t n, const char *what, vkb_error *err);
/* ---- vk_upload.c: weights converted straight into staging/mapped memory ---- */
struct vkb_tensor;
#define VKB_UPLOAD_REGIONS 256
typedef struct vkb_vk_uploader {
    vkb_vk_ctx *c;
    vkb_vk_buffer *dst;
    int f16, threads;          /* storage precision; conversion threads */
    VkDeviceSize used;         /* bytes of the staging buffer filled */
    uint32_t nreg;
    VkBufferCopy reg[VKB_UPLOAD_REGIONS]; /* pending copies staging -> dst */
} vkb_vk_uploader;
/* threads <= 0: one per online CPU (vkb_parallel_slots). */
void vkb_vk_uploader_init(vkb_vk_uploader *u, vkb_vk_ctx *c, vkb_vk_buffer *dst, int f16,
                          int threads);
/* Converts all of t into dst at byte offset off (queued: the copy may
 * happen at a later put or at flush). */
int vkb_vk_uploader_put(vkb_vk_uploader *u, const struct vkb_tensor *t, VkDeviceSize off,
                        vkb_error *err);
int vkb_vk_uploader_flush(vkb_vk_uploader *u, vkb_error *err);

/* Host float array -> storage bytes (fp32 copy or fp16 conversion). */
void vkb_vk_pack(const float *src, void *dst, size_t n, int f16);
void vkb_vk_unpack(const void *src, float *dst, size_t n, int f16);

/* ---- vk_pipeline.c ---- */
#define VKB_VK_MAX_BIND 8
typedef struct vkb_vk_pipe {
    VkShaderModule mod;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipeline pipe;
    int nbind;
    VkDescriptorType types[VKB_VK_MAX_BIND];
    uint32_t push_size;
} vkb_vk_pipe;

/* One binding: a buffer range, or a texel-buffer view. */
typedef struct vkb_vk_bind {
    VkBuffer buf;
    VkDeviceSize off, range;
    VkBufferView view;
} vkb_vk_bind;

/* Builds a compute pipeline from an embedded SPIR-V variant, with the given
 * binding types, push-constant size and int specialization constants (ids
 * 0..nspec-1). */
int vkb_vk_pipe_create(vkb_vk_ctx *c, vkb_shader_id id, int nbind,
                       const VkDescriptorType *types, uint32_t push_size,
                       const int32_t *spec, int nspec, vkb_vk_pipe *p,
                       vkb_error *err);
/* The same from SPIR-V words in memory (the GEMM micro-benchmark loads
 * candidate shaders from files with it); `name` is used in messages. */
int vkb_vk_pipe_create_spirv(vkb_vk_ctx *c, const char *name, const uint32_t *code,
                             size_t size, int nbind, const VkDescriptorType *types,
                             uint32_t push_size, const int32_t *spec, int nspec,
                             vkb_vk_pipe *p, vkb_error *err);
void vkb_vk_pipe_destroy(vkb_vk_ctx *c, vkb_vk_pipe *p);
/* Allocates a set for p from pool and writes its bindings. */
int vkb_vk_set_create(vkb_vk_ctx *c, VkDescriptorPool pool, const vkb_vk_pipe *p,
                      const vkb_vk_bind *binds, VkDescriptorSet *set,
                      vkb_error *err);
int vkb_vk_pool_create(vkb_vk_ctx *c, uint32_t max_sets, uint32_t n_storage,
                       uint32_t n_texel, VkDescriptorPool *pool, vkb_error *err);
int vkb_vk_view_create(vkb_vk_ctx *c, VkBuffer buf, VkDeviceSize off,
                       VkDeviceSize range, int f16, VkBufferView *view,
                       vkb_error *err);
/* Records bind + push + dispatch. */
void vkb_vk_dispatch(vkb_vk_ctx *c, VkCommandBuffer cmd, const vkb_vk_pipe *p,
                     VkDescriptorSet set, const void *push, uint32_t gx,
                     uint32_t gy, uint32_t gz);
/* Compute-to-compute (and transfer) memory barrier. */
void vkb_vk_barrier(vkb_vk_ctx *c, VkCommandBuffer cmd);

/* ---- the kernels: pipelines, push constants, dispatch sizes ---- */
/* res: add the residual (binding 4, rows ldy apart) after the activation */
typedef struct { uint32_t M, N, K, lda, ldy, act, res; } vkb_vk_gemm_pc;
typedef struct { uint32_t rows, dim, L; float eps; } vkb_vk_ln_pc;
typedef struct { uint32_t L, ld, qoff, koff, voff, ldo; float scale; } vkb_vk_attn_pc;

typedef struct vkb_vk_kernels {
    int f16;
    vkb_ln_variant ln_form;     /* the forms embed/add_ln and attn were built in */
    vkb_attn_variant attn_form;
    /* GEMMs (5 bindings: X, W, bias, Y, residual): gemm_tiled always (the
     * texel GEMM's fallback), gemm_tiled_s only when the policy picks it;
     * ln = LayerNorm without residual input (the forward pass) */
    vkb_vk_pipe embed, add_ln, ln, gemm_tiled, gemm_tiled_s, gemm_texel, attn;
    /* the scalar twins of coopmat_s / coopmat_l (fp16): only when the policy
     * picks them, or vkb_vk_gemm_pipe_ensure */
    vkb_vk_pipe gemm_tiled_cs, gemm_tiled_cl;
    /* coopmat 128x128, 64x64 and 256x128 tiles: created only by
     * vkb_vk_coopmat_pipes_create (zero otherwise; gemm_coop_l also zero
     * where the device's shared memory cannot hold it or its self-test
     * failed) */
    vkb_vk_pipe gemm_coop, gemm_coop_s, gemm_coop_l;
    int hd;            /* head dim attn was specialized for */
    int attn_bq;       /* queries per attention workgroup */
    int attn_coop;     /* attn is the coopmat flash form */
    int coop_khr;      /* coopmat pipelines from the KHR SPIR-V (policy coop_khr) */
} vkb_vk_kernels;
/* The kernels of a policy's precision and LayerNorm/attention forms. */
int vkb_vk_kernels_create(vkb_vk_ctx *c, const vkb_vk_policy *p, int head_dim,
                          vkb_vk_kernels *k, vkb_error *err);
void vkb_vk_kernels_destroy(vkb_vk_ctx *c, vkb_vk_kernels *k);
/* Can the texel GEMM run this shape (K, lda multiples of 4, within the
 * device's texel-buffer limits)? */
int vkb_vk_texel_ok(int K, int lda);
/* The GEMM variants' builds (vk_pipeline.c).  The shader of a variant at a
 * precision (f16) and coopmat form (khr): 0, or -1 when it has none there
 * (coopmat and the twins: fp16 only).  COOPMAT: its 128x128 tile. */
int vkb_vk_gemm_shader(vkb_gemm_variant v, int f16, int khr, vkb_shader_id *id);
/* Bytes of shared memory the variant's workgroup declares (0: texel, or no
 * build at that precision); COOPMAT: its larger tile's. */
uint32_t vkb_vk_gemm_smem(vkb_gemm_variant v, int f16);
/* The output tile (rows BM, columns BN) of a fixed-tile variant (not COOPMAT,
 * whose tile depends on the shape: vkb_vk_coopmat_pipe). */
void vkb_vk_gemm_tile(vkb_gemm_variant v, int *bm, int *bn);
/* Creates the pipeline(s) of variant v in k unless they exist (the coopmat
 * ones through vkb_vk_coopmat_pipes_create); fails when the device cannot
 * run it (precision, coopmat, shared memory). */
int vkb_vk_gemm_pipe_ensure(vkb_vk_ctx *c, vkb_vk_kernels *k, vkb_gemm_variant v, vkb_error *err);
/* The pipeline a GEMM of variant v on an M x N output dispatches (NULL when
 * k lacks it), and its workgroup counts. */
const vkb_vk_pipe *vkb_vk_gemm_pipe(const vkb_vk_kernels *k, vkb_gemm_variant v, int M, int N);
void vkb_vk_gemm_groups(vkb_gemm_variant variant, int M, int N, uint32_t g[3]);
void vkb_vk_rows_groups(int rows, uint32_t g[3]);
void vkb_vk_attn_groups(const vkb_vk_kernels *k, int B, int L, int H, uint32_t g[3]);

/* ---- vk_coopmat.c: the cooperative-matrix GEMM (VK_NV_ / VK_KHR_cooperative_matrix) ---- */
/* Can linear.comp's coopmat form run on pd through extension `form`
 * (VKB_VK_COOP_NV or VKB_VK_COOP_KHR)?  Needs Vulkan 1.2, the extension with
 * a subgroup-scope fp16 x fp16 -> fp32 16x16x16 entry for compute,
 * shaderFloat16, 16-bit storage, vulkanMemoryModel and subgroup size 32.
 * Returns 1, or 0 with the reason in why. */
int vkb_vk_coopmat_probe(VkInstance inst, VkPhysicalDevice pd, const vkb_vk_features *f, int form,
                         char *why, size_t n);
/* Creates k->gemm_coop / gemm_coop_s, and gemm_coop_l where the device's
 * shared memory holds it (fp16 kernels on a coop_ok device). */
int vkb_vk_coopmat_pipes_create(vkb_vk_ctx *c, vkb_vk_kernels *k, vkb_error *err);
/* The coopmat pipeline (tile size) used for an M x N output, and its groups. */
const vkb_vk_pipe *vkb_vk_coopmat_pipe(const vkb_vk_kernels *k, int M, int N);
void vkb_vk_coopmat_groups(int M, int N, uint32_t g[3]);
/* Runs the coopmat GEMM on random fp16 operands at odd sizes (both tiles, both
 * load paths, lda > K, bias and every activation) and compares it with the
 * CPU reference (vkb_cpu_linear) on the same operands.  0: they agree; 1: mismatch (why says how much, where);
 * -1: a Vulkan error (err). */
int vkb_vk_coopmat_selftest(vkb_vk_ctx *c, const vkb_vk_kernels *k, char *why, size_t n,
                            vkb_error *err);
/* The same for the 256x128 tiles (k->gemm_coop_l, which must exist). */
int vkb_vk_coopmat_l_selftest(vkb_vk_ctx *c, const vkb_vk_kernels *k, char *why, size_t n,
                              vkb_error *err);
/* After the kernels exist, for a policy that picked a coopmat variant
 * (COOPMAT, COOPMAT_S, COOPMAT_L) in any of the nv entries of vars: creates
 * the coopmat pipelines and self-tests them; on failure rewrites those
 * entries to tiled (only coopmat_l failing: coopmat_l -> coopmat) with the
 * reason in note, or fails if the variant was forced.  Does nothing when
 * no entry is a coopmat variant. */
int vkb_vk_gemm_confirm(vkb_vk_ctx *c, vkb_vk_kernels *k, int forced, vkb_gemm_variant *vars, int nv,
                        char *note, size_t n, vkb_error *err);
/* Is v one of the cooperative-matrix GEMM variants? */
int vkb_vk_gemm_is_coop(vkb_gemm_variant v);

/* ---- vk_ops.c: one op on host arrays (slow, allocates) ---- */
/* The one GEMM harness (shader tests, op matrix, coopmat self-test,
 * bench/coopmat_check): Y[M x N] = act(X W^T + b) with the kernels k
 * (variant TILED, TILED_S, TEXEL or COOPMAT, whose pipelines k must have), X being
 * M rows of lda values of which K are used (lda 0 = K), b NULL = no bias.
 * COOPMAT: tile 64 or 128 forces a tile size, 0 = the one the backend would
 * pick (the other variants have one tile each).  With rounds > 0, ms[r] gets the mean wall-clock ms per GEMM of
 * round r: `reps` dispatches in one submit, after the first (result) run. */
typedef struct vkb_vk_gemm_case {
    int M, N, K, lda; vkb_act act; int tile;
    const float *res;  /* M x N residual added after the activation; NULL = none */
} vkb_vk_gemm_case;
int vkb_vk_gemm_host(vkb_vk_ctx *c, const vkb_vk_kernels *k, vkb_gemm_variant variant,
                     const vkb_vk_gemm_case *t, const float *X, const float *W, const float *b,
                     float *Y, int rounds, int reps, double *ms, vkb_error *err);
/* The same with ms[r] from Vulkan timestamps around round r's dispatch
 * (wall clock when the queue has none), not submit + wait (vk_tune.c). */
int vkb_vk_gemm_time(vkb_vk_ctx *c, const vkb_vk_kernels *k, vkb_gemm_variant variant,
                     const vkb_vk_gemm_case *t, const float *X, const float *W, const float *b,
                     float *Y, int rounds, double *ms, vkb_error *err);
/* variant/form AUTO = what the device policy picks for that precision. */
int vkb_vk_op_linear(vkb_vk_ctx *c, int f16, vkb_gemm_variant variant, const float *X,
                     const float *W, const float *b, float *Y, int M, int N,
                     int K, vkb_act act, vkb_error *err);
/* r NULL: the LayerNorm kernel without residual input (k.ln). */
int vkb_vk_op_add_layernorm(vkb_vk_ctx *c, int f16, vkb_ln_variant form, const float *x,
                            const float *r, const float *g, const float *beta,
                            float *y, int rows, int dim, float eps, vkb_error *err);
int vkb_vk_op_embed(vkb_vk_ctx *c, int f16, vkb_ln_variant form, const int32_t *ids, const float *word,
                    const float *pos, const float *g, const float *beta, float *x,
                    int B, int L, int dim, int vocab, int max_pos, float eps,
                    vkb_error *err);
int vkb_vk_op_attention(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                        const float *v, float *ctx, int B, int L, int H, int hd,
                        const int32_t *lens, vkb_error *err);
/* The same with timing (bench/attn_bench): with rounds > 0, ms[r] gets the
 * mean wall-clock ms per dispatch of round r (`reps` in one submit). */
int vkb_vk_attention_host(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                          const float *v, float *ctx, int B, int L, int H, int hd, const int32_t *lens,
                          int rounds, int reps, double *ms, vkb_error *err);

/* The same timed by Vulkan timestamps around the dispatches (vk_tune.c). */
int vkb_vk_attention_time(vkb_vk_ctx *c, int f16, vkb_attn_variant form, const float *q, const float *k,
                          const float *v, float *ctx, int B, int L, int H, int hd, const int32_t *lens,
                          int rounds, double *ms, vkb_error *err);

/* ---- vk_opcheck.c: the op matrix's error measure and tolerances, shared
 * with tuning (vk_tune.c) ---- */
/* max(e, max |a - b| / (1 + |b|)) over n values; NaN gives inf */
double vkb_vk_norm_error(const float *a, const float *b, size_t n, double e);
/* op: "linear" (K = the inner dimension) or "attention" */
double vkb_vk_op_tolerance(const char *op, int K, int f16);

/* ---- vk_tune.c: the tuning cache as the backend reads it ---- */
/* The entry that serves ctx's device, precision f16 and shape s in dir
 * (vkbert_vulkan.h states the rule: s's own token budget, else the entry
 * tuned at the smallest larger budget): 0 and *t filled when one exists,
 * parses and matches; else -1 (t all AUTO). */
int vkb_vk_tune_lookup(const char *dir, const vkb_vk_ctx *c, int f16, const vkb_tune_shape *s,
                       vkb_vk_tuned *t);

/* The entries of dir for one device (`vkbert devices`): each a line in sb
 * (text) or an object in the JSON array arr; returns how many. */
struct cJSON;
struct vkb_strbuf;
int vkb_vk_tune_describe(const char *dir, const VkPhysicalDeviceProperties *p, struct vkb_strbuf *sb,
                         struct cJSON *arr);

/* ---- vk_profile.c: per-kernel GPU times from timestamp queries ---- */
/* Kernel categories of the forward pass, in the order `vkbert bench`
 * reports them (names: vkb_vk_prof_name). */
enum { VKB_K_EMBED, VKB_K_QKV, VKB_K_ATTN, VKB_K_ATTN_OUT, VKB_K_LN, VKB_K_FFN1,
       VKB_K_FFN2, VKB_K_HEAD, VKB_K_OTHER, VKB_K_COUNT };
#define VKB_PROF_MAX 512 /* timestamps per recorded pass; later marks are dropped */
typedef struct vkb_vk_prof {
    int on;                   /* record timestamps into newly recorded passes */
    VkQueryPool pool;
    double period_ns;         /* timestampPeriod */
    uint64_t mask;            /* from timestampValidBits */
    double ms[VKB_K_COUNT];   /* summed over `forwards` batches (a batch over
                                 the token budget is several passes) */
    uint32_t calls[VKB_K_COUNT];
    int forwards;
} vkb_vk_prof;
/* What one recorded pass measures: the category of each interval. */
typedef struct vkb_vk_marks { uint32_t n; uint8_t cat[VKB_PROF_MAX]; } vkb_vk_marks;
const char *vkb_vk_prof_name(int cat);
/* Creates the query pool; fails when the queue has no timestamps. */
int vkb_vk_prof_enable(vkb_vk_ctx *c, vkb_vk_prof *p, vkb_error *err);
void vkb_vk_prof_destroy(vkb_vk_ctx *c, vkb_vk_prof *p);
/* Recording: begin resets the queries and writes the first timestamp; mark
 * closes the interval since the previous timestamp as category `cat`. */
void vkb_vk_prof_begin(vkb_vk_ctx *c, vkb_vk_prof *p, VkCommandBuffer cmd, vkb_vk_marks *m);
void vkb_vk_prof_mark(vkb_vk_ctx *c, vkb_vk_prof *p, VkCommandBuffer cmd, vkb_vk_marks *m,
                      int cat);
/* After the pass completed: adds its intervals to p->ms. */
int vkb_vk_prof_collect(vkb_vk_ctx *c, vkb_vk_prof *p, const vkb_vk_marks *m, vkb_error *err);

/* ---- vk_backend.c test hooks ---- */
/* The context a Vulkan backend runs on (NULL for other backends). */
vkb_vk_ctx *vkb_vk_backend_ctx(vkb_backend *be);
/* Frees the backend and fails if the validation layer reported anything
 * since the last forward (vkb_backend_free cannot report errors). */
int vkb_vk_backend_close(vkb_backend *be, vkb_error *err);
/* Which precision / GEMM variant a backend chose (for reports and tests). */
int vkb_vk_backend_f16(const vkb_backend *be);
vkb_gemm_variant vkb_vk_backend_gemm_variant(const vkb_backend *be);
vkb_ln_variant vkb_vk_backend_ln_variant(const vkb_backend *be);
vkb_attn_variant vkb_vk_backend_attn_variant(const vkb_backend *be);
/* Profiling hooks for vk_profile.c: the backend's timestamp state (after
 * turning p->on on or off, call vkb_vk_backend_rerecord), and the bytes of
 * its weight buffer and of its activation buffers. */
vkb_vk_prof *vkb_vk_backend_prof(vkb_backend *be);
void vkb_vk_backend_rerecord(vkb_backend *be);
void vkb_vk_backend_bytes(const vkb_backend *be, uint64_t *weights, uint64_t *activations);
/* Whether a backend's weights are in mapped memory (see
 * vkb_vulkan_opts.staging_upload). */
int vkb_vk_backend_weights_mapped(const vkb_backend *be);
/* The token budget one device pass holds, and how many passes the last
 * forward took. */
void vkb_vk_backend_passes(const vkb_backend *be, int *token_budget, int *last_passes);
#endif
