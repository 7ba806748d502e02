/* vkbert.h - the one public header of libvkbert: the CLI, the Python binding
 * and any other front end include this and nothing else.  It gathers the
 * public part of each layer, bottom to top (the folders are the layers:
 * loader/ < host/base < host/ops, host/backend, host/io < host/cpu,
 * host/vulkan < host/scorer < this header < host/cli; tests/layering.py).
 *
 * Data flows one way: text -> tokenizer -> batch of ids -> backend (CPU
 * reference or Vulkan) -> logits.  Every function that can fail takes a
 * vkb_error* and returns 0 on success, non-zero on failure with a message
 * that names the file, field or tensor at fault.  The library has no global
 * mutable state and never prints. */
#ifndef VKBERT_H
#define VKBERT_H

#include "vkbert_loader.h"   /* errors, config, tokenizer, model */
#include "vkbert_backend.h"  /* backend options, batches, outputs */
#include "vkbert_io.h"       /* input readers, the output line */
#include "vkbert_vulkan.h"   /* devices, device policy, op test matrix */
#include "vkbert_scorer.h"   /* the batch scorer */

#endif
