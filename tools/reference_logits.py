#!/usr/bin/python3
"""Computes reference outputs for a DistilBERT checkpoint directory with an
independent PyTorch implementation, in float64, and writes them with their
inputs to DIR/reference.json.  CI's C tests compare the CPU (and GPU)
backends against that file, so CI needs no PyTorch.

Independent means: the safetensors file is parsed here (not by the C
loader), and the forward pass is written from HF's modeling_distilbert.py
semantics with plain torch functional ops on the state dict (eval mode, no
dropout):

  x = LayerNorm(word[ids] + pos[arange(L)], eps=1e-12)
  per layer: q = (x Wq^T + bq) / sqrt(head_dim); k, v likewise unscaled
             scores = q k^T; scores[key >= len] = finfo.min; softmax; @ v
             x = sa_layer_norm(out_lin(ctx) + x)
             x = output_layer_norm(lin2(gelu_erf(lin1(x))) + x)
  classifier models: logits = classifier(relu(pre_classifier(x[:, 0])))
  base models:       the last hidden state x, [B, L, dim]

The batches (token ids, padded with pad_token_id 0, and lengths) are random
but deterministic (--seed), with mixed lengths including 1 and max_pos.

Usage: /usr/bin/python3 tools/reference_logits.py DIR [--seed 7]
"""
import argparse
import json
import math
import os
import sys
import struct

import numpy as np
try:
    import torch
except ImportError as _e:  # a message, not a traceback
    sys.exit("%s: needs PyTorch (Debian: apt-get install python3-torch): %s"
             % (os.path.basename(__file__), _e))
import torch.nn.functional as F

DT = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2)}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_dt, size = DT[info["dtype"]]
        s, e = info["data_offsets"]
        raw = np.frombuffer(data[base + s:base + e], dtype=np_dt)
        if info["dtype"] == "BF16":  # bf16 = the high half of an f32
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(raw.astype(np.float64).reshape(info["shape"]))
    return out


def layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps=1e-12)


def forward(sd, cfg, ids, lens, head):
    p = "distilbert." if head else ""
    B, L = ids.shape
    dim, H = cfg["dim"], cfg["n_heads"]
    hd = dim // H
    x = sd[p + "embeddings.word_embeddings.weight"][ids] + \
        sd[p + "embeddings.position_embeddings.weight"][torch.arange(L)][None]
    x = layer_norm(x, sd[p + "embeddings.LayerNorm.weight"], sd[p + "embeddings.LayerNorm.bias"])
    keymask = torch.arange(L)[None, :] >= lens[:, None]  # [B, L] True = padded key
    for i in range(cfg["n_layers"]):
        q_ = f"{p}transformer.layer.{i}."

        def lin(name, t):
            return F.linear(t, sd[q_ + name + ".weight"], sd[q_ + name + ".bias"])

        def heads(t):
            return t.view(B, L, H, hd).transpose(1, 2)  # [B, H, L, hd]

        q = heads(lin("attention.q_lin", x)) / math.sqrt(hd)
        k = heads(lin("attention.k_lin", x))
        v = heads(lin("attention.v_lin", x))
        scores = q @ k.transpose(2, 3)
        scores = scores.masked_fill(keymask[:, None, None, :], torch.finfo(scores.dtype).min)
        ctx = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, L, dim)
        x = layer_norm(lin("attention.out_lin", ctx) + x,
                       sd[q_ + "sa_layer_norm.weight"], sd[q_ + "sa_layer_norm.bias"])
        f = lin("ffn.lin2", F.gelu(lin("ffn.lin1", x)))  # exact erf GELU
        x = layer_norm(f + x, sd[q_ + "output_layer_norm.weight"], sd[q_ + "output_layer_norm.bias"])
    if not head:
        return x
    h = F.relu(F.linear(x[:, 0], sd["pre_classifier.weight"], sd["pre_classifier.bias"]))
    return F.linear(h, sd["classifier.weight"], sd["classifier.bias"])


def make_batches(max_pos, vocab, rng):
    """Mixed-length padded batches; every sequence is [CLS] ... [SEP]."""
    shapes = [
        [1, 5, 17, max_pos],                           # L = max_pos
        [3, 9, 2, 9, 1],                               # tight padding
        [12],                                          # one sequence, no padding
        sorted(rng.integers(1, max_pos + 1, 6).tolist()),  # random, L = longest
    ]
    batches = []
    for lens in shapes:
        L = max(lens)
        ids = np.zeros((len(lens), L), dtype=np.int64)  # pad_token_id 0
        for b, n in enumerate(lens):
            seq = rng.integers(1, vocab, n)
            seq[0] = 2  # [CLS]
            if n > 1:
                seq[-1] = 3  # [SEP]
            ids[b, :n] = seq
        batches.append((ids, np.array(lens, dtype=np.int64)))
    return batches


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    with open(os.path.join(a.dir, "config.json")) as f:
        cfg = json.load(f)
    sd = read_safetensors(os.path.join(a.dir, "model.safetensors"))
    head = "classifier.weight" in sd
    rng = np.random.default_rng(a.seed)
    out = {"model": os.path.basename(os.path.normpath(a.dir)),
           "output": "logits" if head else "last_hidden_state",
           "dtype": "float64", "batches": []}
    for ids, lens in make_batches(cfg["max_position_embeddings"], cfg["vocab_size"], rng):
        with torch.no_grad():
            y = forward(sd, cfg, torch.from_numpy(ids), torch.from_numpy(lens), head)
        out["batches"].append({
            "B": int(ids.shape[0]), "L": int(ids.shape[1]),
            "ids": ids.reshape(-1).tolist(), "lens": lens.tolist(),
            out["output"]: [float("%.9g" % v) for v in y.reshape(-1).tolist()],
        })
    with open(os.path.join(a.dir, "reference.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:  # a missing or unreadable file: a message, not a traceback
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
