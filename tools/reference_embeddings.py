#!/usr/bin/python3
"""Computes reference sentence embeddings for a DistilBERT checkpoint
directory (a base DistilBertModel or the encoder of a classifier) with an
independent PyTorch implementation in float64, and writes them with their
inputs to DIR/embeddings.json.  The C, CLI and Python tests compare vkbert's
pooled outputs against that file, so CI needs no PyTorch.

The encoder is reference_logits.py's forward pass (HF modeling_distilbert
semantics on the parsed safetensors); pooling follows sentence-transformers'
Pooling module on the last hidden state x [B, L, dim] with the attention
mask m [B, L] (1 = real token):

  mean: sum(x * m) / clamp(sum(m), min=1e-9)
  cls:  x[:, 0]
  max:  max over L of x with padded positions set to -1e9

Each mode is also given L2-normalized (torch.nn.functional.normalize), as
sentence-transformers' Normalize module does.

Usage: /usr/bin/python3 tools/reference_embeddings.py DIR [--seed 11]
"""
import argparse
import json
import os
import sys

import numpy as np
try:
    import torch
except ImportError as _e:  # a message, not a traceback
    sys.exit("%s: needs PyTorch (Debian: apt-get install python3-torch): %s"
             % (os.path.basename(__file__), _e))
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_logits import make_batches, read_safetensors, forward  # noqa: E402


def pool(x, lens, mode):
    B, L, _ = x.shape
    m = (torch.arange(L)[None, :] < lens[:, None]).to(x.dtype)  # [B, L]
    if mode == "mean":
        return (x * m[..., None]).sum(1) / torch.clamp(m.sum(1), min=1e-9)[:, None]
    if mode == "cls":
        return x[:, 0]
    if mode == "max":
        y = x.clone()
        y[m == 0] = -1e9
        return y.max(1).values
    raise ValueError(mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    with open(os.path.join(a.dir, "config.json")) as f:
        cfg = json.load(f)
    sd = read_safetensors(os.path.join(a.dir, "model.safetensors"))
    if "classifier.weight" in sd:  # the encoder of a classifier
        sd = {k[len("distilbert."):]: v for k, v in sd.items() if k.startswith("distilbert.")}
    rng = np.random.default_rng(a.seed)
    out = {"model": os.path.basename(os.path.normpath(a.dir)), "dtype": "float64",
           "dim": cfg["dim"], "batches": []}
    for ids, lens in make_batches(cfg["max_position_embeddings"], cfg["vocab_size"], rng):
        lt = torch.from_numpy(lens)
        with torch.no_grad():
            x = forward(sd, cfg, torch.from_numpy(ids), lt, False)
        b = {"B": int(ids.shape[0]), "L": int(ids.shape[1]),
             "ids": ids.reshape(-1).tolist(), "lens": lens.tolist()}
        for mode in ("mean", "cls", "max"):
            y = pool(x, lt, mode)
            b[mode] = [float("%.9g" % v) for v in y.reshape(-1).tolist()]
            b[mode + "_normalized"] = [float("%.9g" % v) for v in
                                       F.normalize(y, p=2, dim=1).reshape(-1).tolist()]
        out["batches"].append(b)
    with open(os.path.join(a.dir, "embeddings.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:  # a missing or unreadable file: a message, not a traceback
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
