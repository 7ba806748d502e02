/* st_config.h - sentence-transformers files of a model directory (internal):
 * modules.json and the Pooling module's config.json, which give the default
 * pooling and normalization of `vkbert embed`. */
#ifndef VKB_ST_CONFIG_H
#define VKB_ST_CONFIG_H
#include "vkbert_loader.h"
#include <stddef.h>

/* modules.json text: a JSON array of modules {"idx", "name", "path", "type"}:
 * a Transformer first, then one Pooling module and optionally a Normalize
 * module; any other module type (Dense, ...) is refused, not ignored.
 * pool_dir gets the Pooling module's folder, which must be a plain name
 * "<digits>_Pooling" (never a path); *normalize whether Normalize follows. */
int vkb_st_parse_modules(const char *text, size_t len, const char *fname, char *pool_dir,
                         size_t pool_dir_n, int *normalize, vkb_error *err);
/* The Pooling module's config.json: exactly one of pooling_mode_cls_token,
 * pooling_mode_mean_tokens, pooling_mode_max_tokens true (the others
 * sentence-transformers knows false or absent); word_embedding_dimension
 * must equal dim.  *pooling: 1 mean, 2 cls, 3 max (vkb_pooling's values). */
int vkb_st_parse_pooling(const char *text, size_t len, const char *fname, int dim, int *pooling,
                         vkb_error *err);
#endif
