#!/usr/bin/python3
"""Test helper: writes DIR/pytorch_model.bin for the DistilBERT shape in
DIR/config.json, or with `evil` a pickle that would create DIR/pwned when
unpickled without weights_only.  Values follow test_convert_pytorch.c's
formula: v[i] = ((7 * i + len(name)) % 101 - 50) / 128, exact in F32/F16/BF16.
Mixed on purpose: BF16 word embeddings, F16 FFN weights, a non-contiguous
tensor, an I64 extra and a tied (shared-storage) tensor."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import distilbert_tensors  # noqa: E402

d = sys.argv[1]


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.path.join(d, 'pwned')}",))


if len(sys.argv) > 2 and sys.argv[2] == "evil":
    torch.save({"x": Evil()}, os.path.join(d, "pytorch_model.bin"))
    sys.exit(0)

c = json.load(open(os.path.join(d, "config.json")))
n_lab = len(c.get("id2label", {}))


def val(name, shape, dtype=torch.float32):
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.int64)
    v = ((7 * i + len(name)) % 101 - 50).to(torch.float32) / 128
    return v.reshape(shape).to(dtype)


# Every tensor of the inventory (tools/distilbert_tensors.py), in table order.
DTYPES = {"WORD_EMB": torch.bfloat16, "FFN1_W": torch.float16}
sizes = dict(c, num_labels=n_lab)
sd = {}
for role, name, shape, _ in distilbert_tensors.tensors(sizes, c["n_layers"]):
    if role == "FFN2_W":  # stored transposed: the .bin holds a non-contiguous view
        sd[name] = val(name, list(shape)).t().contiguous().t()
    else:
        sd[name] = val(name, list(shape), DTYPES.get(role, torch.float32))
p = distilbert_tensors.ENCODER_PREFIX
sd[p + "embeddings.position_ids"] = torch.arange(c["max_position_embeddings"]).unsqueeze(0)
sd["vocab_projector.weight"] = sd[p + "embeddings.word_embeddings.weight"]  # tied
torch.save(sd, os.path.join(d, "pytorch_model.bin"))
