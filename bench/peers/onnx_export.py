#!/usr/bin/python3
"""Exports a DistilBERT checkpoint directory to ONNX for the ONNX Runtime peer.

The model is tools/distilbert_torch.py loaded by torch_peer.py (the same
module and weights the PyTorch peer times), exported with torch.onnx.export:
opset 14, inputs input_ids and attention_mask (int64, [batch, sequence]),
output logits ([batch, num_labels]), batch and sequence axes dynamic.
Debian's PyTorch 1.13 exports without the `onnx` Python package.

Also writes OUT.config.json (the checkpoint's config, for ort_peer.mjs's
GFLOP/s and id range) and OUT.check.json: a few padded inputs and PyTorch's logits for them,
which `ort_peer.mjs --verify` compares with ONNX Runtime's, so an export that
computes something else is caught before it is timed.

Usage: /usr/bin/python3 bench/peers/onnx_export.py --model DIR --out model.onnx
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import torch_peer  # noqa: E402


class Wrapped(torch.nn.Module):
    """Names the graph's inputs as HF exports do and returns plain logits."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids, attention_mask)


def check_inputs(vocab, seed=1):
    """Three sequences of lengths 7, 12, 3 padded to 12, plus one full 1x12."""
    g = torch.Generator().manual_seed(seed)
    lens = [7, 12, 3]
    ids = torch.zeros(3, 12, dtype=torch.long)
    mask = torch.zeros(3, 12, dtype=torch.long)
    for i, n in enumerate(lens):
        ids[i, :n] = torch.randint(1000, vocab, (n,), generator=g)
        ids[i, 0], ids[i, n - 1] = 101 if vocab > 102 else 1, 102 if vocab > 102 else 2
        mask[i, :n] = 1
    return ids, mask


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=14)
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    model, cfg, _ = torch_peer.load_own(a.model)
    model.eval()
    w = Wrapped(model).eval()
    vocab = cfg.get("vocab_size", 30522)
    ids, mask = check_inputs(vocab)
    tmp = a.out + ".tmp"
    with torch.inference_mode():
        ref = w(ids, mask)
    with torch.no_grad():
        torch.onnx.export(w, (ids, mask), tmp, opset_version=a.opset,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"},
                                        "logits": {0: "batch"}},
                          do_constant_folding=True)
    os.replace(tmp, a.out)
    with open(a.out + ".check.json", "w", encoding="utf-8") as f:
        json.dump({"input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                   "logits": ref.tolist(), "model": os.path.abspath(a.model)}, f)
    with open(a.out + ".config.json", "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=1)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 2**20:.1f} MiB, opset {a.opset}) and {a.out}.check.json")


if __name__ == "__main__":
    main()
