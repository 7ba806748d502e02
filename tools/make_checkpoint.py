#!/usr/bin/python3
"""Writes a synthetic Hugging Face checkpoint directory for
DistilBertForSequenceClassification (or, with --base, a bare DistilBertModel)
with random weights, so tests can exercise every shape and dtype without
downloading anything:

  config.json            HF DistilBertConfig fields (activation gelu, pad 0)
  model.safetensors      written here by hand: 8-byte LE header length, JSON
                         header, raw little-endian data (F32, F16 or BF16)
  vocab.txt              a made-up WordPiece vocab (NOT the BERT vocab)
  tokenizer_config.json  do_lower_case, model_max_length

Every tensor is random, LayerNorm weights and all biases included, so that a
forward pass that ignores any of them is caught.  Weights are scaled so that
attention is far from uniform and GELU sees both signs.

Usage: /usr/bin/python3 tools/make_checkpoint.py OUT_DIR --dim 32 --layers 2
           --heads 4 --hidden 64 --labels 2 --max-pos 64 --dtype F32 --seed 1
"""
import argparse
import json
import os
import sys
import struct

import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distilbert_tensors  # noqa: E402
try:
    import torch
except ImportError as _e:  # a message, not a traceback
    sys.exit("%s: needs PyTorch (Debian: apt-get install python3-torch): %s"
             % (os.path.basename(__file__), _e))

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "movie", "film", "good", "bad", "great", "not", "was", "is",
         "plot", "actor", "acting", "story", "very", "boring", "fun", "love",
         "hate", "and", "but", "this", "that", "it", "of", "to", "in", "i",
         "watch", "scene", "end", "best", "worst", "ever", "seen"]
PIECES = ["##s", "##ing", "##ed", "##ly", "##er", "##est", "##able", "##ness",
          "##a", "##e", "##i", "##o", "##u", "##t", "##n"]


def make_vocab():
    vocab = list(SPECIALS)
    vocab += list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    vocab += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab += [str(d) for d in range(10)]
    vocab += WORDS + PIECES
    vocab += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    return list(dict.fromkeys(vocab))  # drop repeats ("a" is a letter and a word), keep order


def tensor_bytes(t, dtype):
    """Little-endian bytes of a float32 tensor stored as dtype."""
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name, t in tensors:
        b = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # HF pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_tensors(a, vocab_size, g):
    """Every tensor of distilbert_tensors.TABLE, random, in table order."""
    def rn(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * scale

    sizes = {"dim": a.dim, "hidden_dim": a.hidden, "vocab_size": vocab_size,
             "max_position_embeddings": a.max_pos, "num_labels": a.labels}
    ts = []
    for role, name, shape, kind in distilbert_tensors.tensors(sizes, a.layers, head=not a.base,
                                                              prefix="" if a.base else "distilbert."):
        if kind == "embedding":
            t = rn(*shape, scale=0.5 if role == "POS_EMB" else 1.0)
        elif kind == "weight":
            t = rn(*shape, scale=1.5 / shape[1] ** 0.5)  # activations keep unit scale, scores spread out
        elif kind == "ln_weight":
            t = 1.0 + rn(*shape, scale=0.2)
        else:  # bias, ln_bias
            t = rn(*shape, scale=0.2)
        ts.append((name, t))
    return ts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--labels", type=int, default=2)
    ap.add_argument("--max-pos", type=int, default=64)
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--base", action="store_true", help="base DistilBertModel, no classifier head")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.dim % a.heads:
        ap.error("--heads must divide --dim")

    os.makedirs(a.out, exist_ok=True)
    vocab = make_vocab()
    g = torch.Generator().manual_seed(a.seed)
    write_safetensors(os.path.join(a.out, "model.safetensors"), make_tensors(a, len(vocab), g), a.dtype)

    labels = ["NEGATIVE", "POSITIVE"] if a.labels == 2 else [f"LABEL_{i}" for i in range(a.labels)]
    cfg = {
        "_name_or_path": os.path.basename(os.path.normpath(a.out)),
        "activation": "gelu",
        "architectures": ["DistilBertModel" if a.base else "DistilBertForSequenceClassification"],
        "attention_dropout": 0.1,
        "dim": a.dim,
        "dropout": 0.1,
        "hidden_dim": a.hidden,
        "initializer_range": 0.02,
        "max_position_embeddings": a.max_pos,
        "model_type": "distilbert",
        "n_heads": a.heads,
        "n_layers": a.layers,
        "pad_token_id": 0,
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "sinusoidal_pos_embds": False,
        "tie_weights_": True,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[a.dtype],
        "transformers_version": "4.30.2",
        "vocab_size": len(vocab),
    }
    if not a.base:
        cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
        cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    tc = {"do_lower_case": True, "model_max_length": a.max_pos, "tokenizer_class": "DistilBertTokenizer",
          "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
          "mask_token": "[MASK]", "strip_accents": None, "tokenize_chinese_chars": True}
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:  # a missing or unreadable file: a message, not a traceback
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
