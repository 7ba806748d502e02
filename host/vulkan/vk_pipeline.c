/* vk_pipeline.c - compute pipelines from the embedded SPIR-V, descriptor
 * sets, texel-buffer views, and the kernel set a backend uses. */
#include "vk_internal.h"
#include "error.h"
#include "parallel.h"
#include <stdio.h>
#include <string.h>

int vkb_vk_pipe_create(vkb_vk_ctx *c, vkb_shader_id id, int nbind,
                       const VkDescriptorType *types, uint32_t push_size,
                       const int32_t *spec, int nspec, vkb_vk_pipe *p,
                       vkb_error *err) {
    memset(p, 0, sizeof *p);
    size_t size = 0;
    const uint32_t *code = vkb_shader_code(id, &size);
    if (!code) return vkb_fail(err, "internal: no embedded shader %d", (int)id);
    return vkb_vk_pipe_create_spirv(c, vkb_shader_name(id), code, size, nbind, types, push_size,
                                    spec, nspec, p, err);
}

int vkb_vk_pipe_create_spirv(vkb_vk_ctx *c, const char *name, const uint32_t *code,
                             size_t size, int nbind, const VkDescriptorType *types,
                             uint32_t push_size, const int32_t *spec, int nspec,
                             vkb_vk_pipe *p, vkb_error *err) {
    memset(p, 0, sizeof *p);
    char what[128];
    snprintf(what, sizeof what, "creating pipeline '%s'", name);
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = size, .pCode = code};
    VkResult r = c->d.vkCreateShaderModule(c->dev, &mi, NULL, &p->mod);
    VkDescriptorSetLayoutBinding b[VKB_VK_MAX_BIND];
    for (int i = 0; i < nbind; i++) {
        b[i] = (VkDescriptorSetLayoutBinding){.binding = (uint32_t)i, .descriptorType = types[i],
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
        p->types[i] = types[i];
    }
    p->nbind = nbind;
    p->push_size = push_size;
    VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = (uint32_t)nbind, .pBindings = b};
    if (r == VK_SUCCESS) r = c->d.vkCreateDescriptorSetLayout(c->dev, &li, NULL, &p->dsl);
    VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = push_size};
    VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1, .pSetLayouts = &p->dsl,
                                      .pushConstantRangeCount = push_size ? 1 : 0,
                                      .pPushConstantRanges = &pr};
    if (r == VK_SUCCESS) r = c->d.vkCreatePipelineLayout(c->dev, &pli, NULL, &p->layout);
    VkSpecializationMapEntry me[8];
    for (int i = 0; i < nspec && i < 8; i++)
        me[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i,
                                           .offset = (uint32_t)(i * 4), .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = (uint32_t)nspec, .pMapEntries = me,
                               .dataSize = (size_t)nspec * 4, .pData = spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = p->mod, .pName = "main",
                  .pSpecializationInfo = nspec ? &si : NULL},
        .layout = p->layout};
    if (r == VK_SUCCESS)
        r = c->d.vkCreateComputePipelines(c->dev, VK_NULL_HANDLE, 1, &ci, NULL, &p->pipe);
    if (r != VK_SUCCESS) {
        vkb_vk_pipe_destroy(c, p);
        return vkb_vk_fail(c, r, what, err);
    }
    return 0;
}

void vkb_vk_pipe_destroy(vkb_vk_ctx *c, vkb_vk_pipe *p) {
    if (p->pipe) c->d.vkDestroyPipeline(c->dev, p->pipe, NULL);
    if (p->layout) c->d.vkDestroyPipelineLayout(c->dev, p->layout, NULL);
    if (p->dsl) c->d.vkDestroyDescriptorSetLayout(c->dev, p->dsl, NULL);
    if (p->mod) c->d.vkDestroyShaderModule(c->dev, p->mod, NULL);
    memset(p, 0, sizeof *p);
}

int vkb_vk_pool_create(vkb_vk_ctx *c, uint32_t max_sets, uint32_t n_storage,
                       uint32_t n_texel, VkDescriptorPool *pool, vkb_error *err) {
    VkDescriptorPoolSize sz[2] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = n_storage ? n_storage : 1},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, .descriptorCount = n_texel ? n_texel : 1}};
    VkDescriptorPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                     .maxSets = max_sets, .poolSizeCount = 2, .pPoolSizes = sz};
    VkResult r = c->d.vkCreateDescriptorPool(c->dev, &ci, NULL, pool);
    return r == VK_SUCCESS ? 0 : vkb_vk_fail(c, r, "creating a descriptor pool", err);
}

int vkb_vk_set_create(vkb_vk_ctx *c, VkDescriptorPool pool, const vkb_vk_pipe *p,
                      const vkb_vk_bind *binds, VkDescriptorSet *set,
                      vkb_error *err) {
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = pool, .descriptorSetCount = 1,
                                      .pSetLayouts = &p->dsl};
    VkResult r = c->d.vkAllocateDescriptorSets(c->dev, &ai, set);
    if (r != VK_SUCCESS) return vkb_vk_fail(c, r, "allocating a descriptor set", err);
    VkWriteDescriptorSet w[VKB_VK_MAX_BIND];
    VkDescriptorBufferInfo bi[VKB_VK_MAX_BIND];
    for (int i = 0; i < p->nbind; i++) {
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = *set, .dstBinding = (uint32_t)i,
                                      .descriptorCount = 1, .descriptorType = p->types[i]};
        if (p->types[i] == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER ||
            p->types[i] == VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER) {
            w[i].pTexelBufferView = &binds[i].view;
        } else {
            bi[i] = (VkDescriptorBufferInfo){.buffer = binds[i].buf, .offset = binds[i].off,
                                             .range = binds[i].range};
            w[i].pBufferInfo = &bi[i];
        }
    }
    c->d.vkUpdateDescriptorSets(c->dev, (uint32_t)p->nbind, w, 0, NULL);
    return 0;
}

int vkb_vk_view_create(vkb_vk_ctx *c, VkBuffer buf, VkDeviceSize off,
                       VkDeviceSize range, int f16, VkBufferView *view,
                       vkb_error *err) {
    VkBufferViewCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                 .buffer = buf,
                                 .format = f16 ? VK_FORMAT_R16G16B16A16_SFLOAT
                                               : VK_FORMAT_R32G32B32A32_SFLOAT,
                                 .offset = off, .range = range};
    VkResult r = c->d.vkCreateBufferView(c->dev, &ci, NULL, view);
    return r == VK_SUCCESS ? 0 : vkb_vk_fail(c, r, "creating a texel buffer view", err);
}

void vkb_vk_dispatch(vkb_vk_ctx *c, VkCommandBuffer cmd, const vkb_vk_pipe *p,
                     VkDescriptorSet set, const void *push, uint32_t gx,
                     uint32_t gy, uint32_t gz) {
    c->d.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipe);
    c->d.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
    if (p->push_size)
        c->d.vkCmdPushConstants(cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_size, push);
    c->d.vkCmdDispatch(cmd, gx, gy, gz);
}

void vkb_vk_barrier(vkb_vk_ctx *c, VkCommandBuffer cmd) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT};
    c->d.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                              VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                              0, 1, &mb, 0, NULL, 0, NULL);
}

/* ---- the kernel set ---- */
#define SB VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
#define TB VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER

/* One pipeline to create (on its own thread). */
typedef struct pipe_job {
    vkb_shader_id id;
    int nbind;
    const VkDescriptorType *types;
    uint32_t push_size;
    const int32_t *spec;
    int nspec;
    vkb_vk_pipe *out;
    vkb_vk_ctx *c;
    int rc;
    vkb_error err;
} pipe_job;

static void pipe_job_run(void *p, int task, int slot) {
    (void)slot;
    pipe_job *j = (pipe_job *)p + task;
    j->rc = vkb_vk_pipe_create(j->c, j->id, j->nbind, j->types, j->push_size, j->spec,
                               j->nspec, j->out, &j->err);
}

/* Flash attention's tiles (attention_flash.comp): BQ queries per workgroup
 * and BK keys per tile, the largest that fit the device's shared memory.
 * The coopmat form (BQ 32, BK a multiple of 16) where the policy chose it
 * and the head dim is a multiple of 16; else the scalar form. */
static int flash_tiles(vkb_vk_ctx *c, const vkb_vk_policy *pol, int hd, vkb_vk_kernels *k,
                       int32_t spec[3], vkb_shader_id *id, vkb_error *err) {
    uint32_t smem = c->props.limits.maxComputeSharedMemorySize;
    static const int tiles[4][2] = {{32, 32}, {32, 16}, {16, 16}, {8, 8}};
    if (pol->attn_coop && hd % 16 == 0) {
        for (int i = 0; i < 2; i++) {
            uint32_t bq = (uint32_t)tiles[i][0], bk = (uint32_t)tiles[i][1], h = (uint32_t)hd;
            uint32_t need = 2u * ((bq + 2u * bk) * (h + 8u) + bq * bk) + 4u * (bq * bk + bq + bq * h);
            if (need <= smem) {
                spec[0] = hd; spec[1] = (int32_t)bq; spec[2] = (int32_t)bk;
                k->attn_bq = (int)bq;
                k->attn_coop = 1;
                *id = pol->coop_khr ? VKB_SHADER_ATTENTION_FLASH_COOPMAT_KHR_F16
                                    : VKB_SHADER_ATTENTION_FLASH_COOPMAT_F16;
                return 0;
            }
        }
    }
    for (int i = 0; i < 4; i++) {
        uint32_t bq = (uint32_t)tiles[i][0], bk = (uint32_t)tiles[i][1], h = (uint32_t)hd;
        uint32_t need = 4u * ((bq + 2u * bk) * (h + 1u) + bq * bk + bq);
        if (need <= smem) {
            spec[0] = hd; spec[1] = (int32_t)bq; spec[2] = (int32_t)bk;
            k->attn_bq = (int)bq;
            return 0;
        }
    }
    return vkb_failc(err, VKB_ERR_UNSUPPORTED, "head dim %d too large for flash attention in the "
                     "device's shared memory (%u bytes)", hd, smem);
}

int vkb_vk_kernels_create(vkb_vk_ctx *c, const vkb_vk_policy *pol, int head_dim,
                          vkb_vk_kernels *k, vkb_error *err) {
    memset(k, 0, sizeof *k);
    int f16 = pol->f16;
    k->f16 = f16;
    k->coop_khr = pol->coop_khr;
    k->hd = head_dim;
    k->ln_form = pol->ln;
    k->attn_form = pol->attn;
    if (f16 && !c->feat.f16_storage)
        return vkb_fail(err, "fp16 storage requested but device %s lacks "
                        "storageBuffer16BitAccess (use --precision fp32)", c->props.deviceName);
    static const VkDescriptorType ln_t[6] = {SB, SB, SB, SB, SB, SB};
    static const VkDescriptorType tiled_t[5] = {SB, SB, SB, SB, SB};
    static const VkDescriptorType texel_t[5] = {TB, TB, SB, SB, SB};
    static const VkDescriptorType attn_t[3] = {SB, SB, SB};
    /* keys per attention tile: K and V tiles must fit in shared memory */
    int tk = (int)(c->props.limits.maxComputeSharedMemorySize / (2u * 4u * (uint32_t)head_dim));
    if (tk > 32) tk = 32;
    if (tk < 1) return vkb_fail(err, "head dim %d too large for the device's shared memory", head_dim);
    /* the LayerNorm and attention forms are the policy's (vk_policy.c) */
    if ((pol->ln != VKB_LN_SHARED && pol->ln != VKB_LN_SUBGROUP) ||
        (pol->attn != VKB_ATTN_SHARED && pol->attn != VKB_ATTN_SUBGROUP && pol->attn != VKB_ATTN_FLASH))
        return vkb_fail(err, "internal: kernels created without a decided LayerNorm/attention form");
    if ((pol->ln == VKB_LN_SUBGROUP && !c->caps.sg_arith) ||
        (pol->attn == VKB_ATTN_SUBGROUP && !c->caps.sg_shuffle))
        return vkb_fail(err, "internal: subgroup kernels on device %s without subgroup support",
                        c->props.deviceName);
    int ln_sg = pol->ln == VKB_LN_SUBGROUP, attn_sg = pol->attn == VKB_ATTN_SUBGROUP;
    int32_t sgsize = (int32_t)c->caps.sg_size;
    /* attention_sg: keys broadcast through register shuffles instead of
     * loaded by every lane (3.4 s -> 0.37 s per 8x128 distilbert-base pass) */
    int32_t aspec[3] = {head_dim, tk, sgsize};
    k->attn_bq = 64;
    vkb_shader_id flash_id = f16 ? VKB_SHADER_ATTENTION_FLASH_F16 : VKB_SHADER_ATTENTION_FLASH_F32;
    if (pol->attn == VKB_ATTN_FLASH && flash_tiles(c, pol, head_dim, k, aspec, &flash_id, err)) return -1;
    /* the variant of each op for (form, precision): [subgroup][f16] */
    static const vkb_shader_id embed_id[2][2] = {{VKB_SHADER_EMBED_F32, VKB_SHADER_EMBED_F16},
                                                 {VKB_SHADER_EMBED_SG_F32, VKB_SHADER_EMBED_SG_F16}};
    static const vkb_shader_id ln_id[2][2] = {{VKB_SHADER_ADD_LAYERNORM_F32, VKB_SHADER_ADD_LAYERNORM_F16},
                                              {VKB_SHADER_ADD_LAYERNORM_SG_F32, VKB_SHADER_ADD_LAYERNORM_SG_F16}};
    static const vkb_shader_id lnr_id[2][2] = {{VKB_SHADER_LAYERNORM_F32, VKB_SHADER_LAYERNORM_F16},
                                               {VKB_SHADER_LAYERNORM_SG_F32, VKB_SHADER_LAYERNORM_SG_F16}};
    static const vkb_shader_id attn_id[2][2] = {{VKB_SHADER_ATTENTION_F32, VKB_SHADER_ATTENTION_F16},
                                                {VKB_SHADER_ATTENTION_SG_F32, VKB_SHADER_ATTENTION_SG_F16}};
    static const vkb_shader_id tiled_id[2] = {VKB_SHADER_LINEAR_TILED_F32, VKB_SHADER_LINEAR_TILED_F16};
    static const vkb_shader_id tiled_s_id[2] = {VKB_SHADER_LINEAR_TILED_S_F32, VKB_SHADER_LINEAR_TILED_S_F16};
    static const vkb_shader_id texel_id[2] = {VKB_SHADER_LINEAR_TEXEL_F32, VKB_SHADER_LINEAR_TEXEL_F16};
#define JOB(i, nb, t, ps, sp, ns, o) \
    {.id = (i), .nbind = (nb), .types = (t), .push_size = (ps), .spec = (sp), .nspec = (ns), .out = (o)}
    pipe_job jobs[9] = {
        JOB(embed_id[ln_sg][f16], 6, ln_t, sizeof(vkb_vk_ln_pc), &sgsize, ln_sg, &k->embed),
        JOB(ln_id[ln_sg][f16], 5, ln_t, sizeof(vkb_vk_ln_pc), &sgsize, ln_sg, &k->add_ln),
        JOB(lnr_id[ln_sg][f16], 4, ln_t, sizeof(vkb_vk_ln_pc), &sgsize, ln_sg, &k->ln),
        JOB(tiled_id[f16], 5, tiled_t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_tiled),
        JOB(texel_id[f16], 5, texel_t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_texel),
        JOB(pol->attn == VKB_ATTN_FLASH ? flash_id : attn_id[attn_sg][f16], 3, attn_t, sizeof(vkb_vk_attn_pc),
            aspec, attn_sg || pol->attn == VKB_ATTN_FLASH ? 3 : 2, &k->attn),
        JOB(tiled_s_id[f16], 5, tiled_t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_tiled_s),
        JOB(VKB_SHADER_LINEAR_TILED_CS_F16, 5, tiled_t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_tiled_cs),
        JOB(VKB_SHADER_LINEAR_TILED_CL_F16, 5, tiled_t, sizeof(vkb_vk_gemm_pc), NULL, 0, &k->gemm_tiled_cl),
    };
#undef JOB
    /* tiled_s and the twins (fp16 builds only): only when they run */
    int nj = 6;
    if (vkb_vk_policy_uses_gemm(pol, VKB_GEMM_TILED_S)) jobs[nj++] = jobs[6];
    if (f16 && vkb_vk_policy_uses_gemm(pol, VKB_GEMM_TILED_CS)) jobs[nj++] = jobs[7];
    if (f16 && vkb_vk_policy_uses_gemm(pol, VKB_GEMM_TILED_CL)) jobs[nj++] = jobs[8];
    /* Drivers compile SPIR-V to machine code here (llvmpipe: ~40 ms per
     * shader), and pipeline creation is thread-safe, so the kernels compile
     * on one thread each. */
    for (int i = 0; i < nj; i++) jobs[i].c = c;
    vkb_parallel_run(nj, nj, pipe_job_run, jobs);
    for (int i = 0; i < nj; i++)
        if (jobs[i].rc) {
            *err = jobs[i].err;
            vkb_vk_kernels_destroy(c, k);
            return -1;
        }
    return 0;
}

void vkb_vk_kernels_destroy(vkb_vk_ctx *c, vkb_vk_kernels *k) {
    vkb_vk_pipe_destroy(c, &k->embed);
    vkb_vk_pipe_destroy(c, &k->add_ln);
    vkb_vk_pipe_destroy(c, &k->ln);
    vkb_vk_pipe_destroy(c, &k->gemm_tiled);
    vkb_vk_pipe_destroy(c, &k->gemm_tiled_s);
    vkb_vk_pipe_destroy(c, &k->gemm_texel);
    vkb_vk_pipe_destroy(c, &k->attn);
    vkb_vk_pipe_destroy(c, &k->gemm_tiled_cs);
    vkb_vk_pipe_destroy(c, &k->gemm_tiled_cl);
    vkb_vk_pipe_destroy(c, &k->gemm_coop);   /* coopmat (vk_coopmat.c) */
    vkb_vk_pipe_destroy(c, &k->gemm_coop_s);
    vkb_vk_pipe_destroy(c, &k->gemm_coop_l);
}

int vkb_vk_texel_ok(int K, int lda) { return K % 4 == 0 && lda % 4 == 0; }

static uint32_t cdiv(int a, int b) { return (uint32_t)((a + b - 1) / b); }

/* ---- the GEMM variants' builds: shaders, tiles, shared memory ---- */

int vkb_vk_gemm_is_coop(vkb_gemm_variant v) {
    return v == VKB_GEMM_COOPMAT || v == VKB_GEMM_COOPMAT_S || v == VKB_GEMM_COOPMAT_L;
}

int vkb_vk_gemm_shader(vkb_gemm_variant v, int f16, int khr, vkb_shader_id *id) {
    f16 = f16 != 0;
    switch (v) {
    case VKB_GEMM_TILED: *id = f16 ? VKB_SHADER_LINEAR_TILED_F16 : VKB_SHADER_LINEAR_TILED_F32; return 0;
    case VKB_GEMM_TILED_S: *id = f16 ? VKB_SHADER_LINEAR_TILED_S_F16 : VKB_SHADER_LINEAR_TILED_S_F32; return 0;
    case VKB_GEMM_TEXEL: *id = f16 ? VKB_SHADER_LINEAR_TEXEL_F16 : VKB_SHADER_LINEAR_TEXEL_F32; return 0;
    case VKB_GEMM_TILED_CS: *id = VKB_SHADER_LINEAR_TILED_CS_F16; return f16 ? 0 : -1;
    case VKB_GEMM_TILED_CL: *id = VKB_SHADER_LINEAR_TILED_CL_F16; return f16 ? 0 : -1;
    case VKB_GEMM_COOPMAT:
        *id = khr ? VKB_SHADER_LINEAR_COOPMAT_KHR_F16 : VKB_SHADER_LINEAR_COOPMAT_F16;
        return f16 ? 0 : -1;
    case VKB_GEMM_COOPMAT_S:
        *id = khr ? VKB_SHADER_LINEAR_COOPMAT_KHR_S_F16 : VKB_SHADER_LINEAR_COOPMAT_S_F16;
        return f16 ? 0 : -1;
    case VKB_GEMM_COOPMAT_L:
        *id = khr ? VKB_SHADER_LINEAR_COOPMAT_KHR_L_F16 : VKB_SHADER_LINEAR_COOPMAT_L_F16;
        return f16 ? 0 : -1;
    default: return -1;
    }
}

/* shared memory of linear.comp's declarations (As, Bs; coopmat also Cs) */
uint32_t vkb_vk_gemm_smem(vkb_gemm_variant v, int f16) {
    vkb_shader_id id;
    int cfg[8];
    if (vkb_vk_gemm_shader(v, f16, 0, &id) || vkb_shader_linear_cfg(id, cfg)) return 0;
    uint32_t bm = (uint32_t)cfg[0], bn = (uint32_t)cfg[1], bk = (uint32_t)cfg[2], wm = (uint32_t)cfg[3],
             wn = (uint32_t)cfg[4], st = (uint32_t)cfg[5];
    if (cfg[6]) return st * (bm + bn) * (bk + 8u) * 2u + (bm / wm) * (bn / wn) * 256u * 4u;
    if (cfg[7]) return st * (bm + bn) * (bk + 8u) * 2u;
    return st * (bm + bn) * (bk + 1u) * 4u;
}

void vkb_vk_gemm_tile(vkb_gemm_variant v, int *bm, int *bn) {
    vkb_shader_id id;
    int cfg[8];
    if (v == VKB_GEMM_TEXEL) { *bm = 128; *bn = 64; return; }  /* 8x8 invocations x 16x8 outputs */
    if (v == VKB_GEMM_COOPMAT) v = VKB_GEMM_COOPMAT_S;          /* (the shape picks: vk_coopmat.c) */
    if (vkb_vk_gemm_shader(v, 1, 0, &id) || vkb_shader_linear_cfg(id, cfg)) { *bm = *bn = 64; return; }
    *bm = cfg[0];
    *bn = cfg[1];
}

int vkb_vk_gemm_pipe_ensure(vkb_vk_ctx *c, vkb_vk_kernels *k, vkb_gemm_variant v, vkb_error *err) {
    static const VkDescriptorType t[5] = {SB, SB, SB, SB, SB};
    vkb_vk_pipe *p = v == VKB_GEMM_TILED      ? &k->gemm_tiled
                     : v == VKB_GEMM_TILED_S  ? &k->gemm_tiled_s
                     : v == VKB_GEMM_TILED_CS ? &k->gemm_tiled_cs
                     : v == VKB_GEMM_TILED_CL ? &k->gemm_tiled_cl
                                              : NULL;
    if (vkb_vk_gemm_is_coop(v)) {
        if (vkb_vk_coopmat_pipes_create(c, k, err)) return -1;
        if (v == VKB_GEMM_COOPMAT_L && !k->gemm_coop_l.pipe)
            return vkb_failc(err, VKB_ERR_UNSUPPORTED, "GEMM variant coopmat_l needs %u bytes of shared "
                             "memory; device %s has %u", vkb_vk_gemm_smem(v, 1), c->props.deviceName,
                             c->props.limits.maxComputeSharedMemorySize);
        return 0;
    }
    if (v == VKB_GEMM_TEXEL) return k->gemm_texel.pipe ? 0 : vkb_fail(err, "internal: no texel GEMM");
    if (!p) return vkb_fail(err, "internal: GEMM variant %d", (int)v);
    if (p->pipe) return 0;
    vkb_shader_id id;
    if (vkb_vk_gemm_shader(v, k->f16, 0, &id))
        return vkb_failc(err, VKB_ERR_UNSUPPORTED, "GEMM variant %s needs fp16 precision",
                         vkb_gemm_variant_name(v));
    uint32_t need = vkb_vk_gemm_smem(v, k->f16);
    if (need > c->props.limits.maxComputeSharedMemorySize)
        return vkb_failc(err, VKB_ERR_UNSUPPORTED, "GEMM variant %s needs %u bytes of shared memory; "
                         "device %s has %u", vkb_gemm_variant_name(v), need, c->props.deviceName,
                         c->props.limits.maxComputeSharedMemorySize);
    return vkb_vk_pipe_create(c, id, 5, t, sizeof(vkb_vk_gemm_pc), NULL, 0, p, err);
}

const vkb_vk_pipe *vkb_vk_gemm_pipe(const vkb_vk_kernels *k, vkb_gemm_variant v, int M, int N) {
    const vkb_vk_pipe *p;
    switch (v) {
    case VKB_GEMM_TILED: p = &k->gemm_tiled; break;
    case VKB_GEMM_TILED_S: p = &k->gemm_tiled_s; break;
    case VKB_GEMM_TEXEL: p = &k->gemm_texel; break;
    case VKB_GEMM_TILED_CS: p = &k->gemm_tiled_cs; break;
    case VKB_GEMM_TILED_CL: p = &k->gemm_tiled_cl; break;
    case VKB_GEMM_COOPMAT: p = vkb_vk_coopmat_pipe(k, M, N); break; /* vk_coopmat.c */
    case VKB_GEMM_COOPMAT_S: p = &k->gemm_coop_s; break;
    case VKB_GEMM_COOPMAT_L: p = &k->gemm_coop_l; break;
    default: return NULL;
    }
    return p->pipe ? p : NULL;
}

void vkb_vk_gemm_groups(vkb_gemm_variant variant, int M, int N, uint32_t g[3]) {
    if (variant == VKB_GEMM_COOPMAT) { vkb_vk_coopmat_groups(M, N, g); return; } /* vk_coopmat.c */
    int bm, bn;
    vkb_vk_gemm_tile(variant, &bm, &bn);
    g[0] = cdiv(N, bn);
    g[1] = cdiv(M, bm);
    g[2] = 1;
}

void vkb_vk_rows_groups(int rows, uint32_t g[3]) {
    g[0] = rows < 65535 ? (uint32_t)rows : 65535u;
    g[1] = cdiv(rows, 65535);
    g[2] = 1;
}

void vkb_vk_attn_groups(const vkb_vk_kernels *k, int B, int L, int H, uint32_t g[3]) {
    g[0] = cdiv(L, k->attn_bq > 0 ? k->attn_bq : 64);
    g[1] = (uint32_t)H;
    g[2] = (uint32_t)B;
}
