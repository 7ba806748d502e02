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

d = sys.argv[1]


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.path.join(d, 'pwned')}",))


if len(sys.argv) > 2 and sys.argv[2] == "evil":
    torch.save({"x": Evil()}, os.path.join(d, "pytorch_model.bin"))
    sys.exit(0)

c = json.load(open(os.path.join(d, "config.json")))
D, H, n_lab = c["dim"], c["hidden_dim"], len(c.get("id2label", {}))


def val(name, shape, dtype=torch.float32):
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.int64)
    v = ((7 * i + len(name)) % 101 - 50).to(torch.float32) / 128
    return v.reshape(shape).to(dtype)


sd = {}
p = "distilbert."
sd[p + "embeddings.word_embeddings.weight"] = val(p + "embeddings.word_embeddings.weight",
                                                  [c["vocab_size"], D], torch.bfloat16)
sd[p + "embeddings.position_embeddings.weight"] = val(p + "embeddings.position_embeddings.weight",
                                                      [c["max_position_embeddings"], D])
for n in ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]:
    sd[p + n] = val(p + n, [D])
for l in range(c["n_layers"]):
    q = f"{p}transformer.layer.{l}."
    for lin in ["q_lin", "k_lin", "v_lin", "out_lin"]:
        sd[q + f"attention.{lin}.weight"] = val(q + f"attention.{lin}.weight", [D, D])
        sd[q + f"attention.{lin}.bias"] = val(q + f"attention.{lin}.bias", [D])
    for n in ["sa_layer_norm", "output_layer_norm"]:
        sd[q + n + ".weight"] = val(q + n + ".weight", [D])
        sd[q + n + ".bias"] = val(q + n + ".bias", [D])
    sd[q + "ffn.lin1.weight"] = val(q + "ffn.lin1.weight", [H, D], torch.float16)
    sd[q + "ffn.lin1.bias"] = val(q + "ffn.lin1.bias", [H])
    # stored transposed: the .bin holds a non-contiguous view
    sd[q + "ffn.lin2.weight"] = val(q + "ffn.lin2.weight", [D, H]).t().contiguous().t()
    sd[q + "ffn.lin2.bias"] = val(q + "ffn.lin2.bias", [D])
for n, shape in [("pre_classifier.weight", [D, D]), ("pre_classifier.bias", [D]),
                 ("classifier.weight", [n_lab, D]), ("classifier.bias", [n_lab])]:
    sd[n] = val(n, shape)
sd[p + "embeddings.position_ids"] = torch.arange(c["max_position_embeddings"]).unsqueeze(0)
sd["vocab_projector.weight"] = sd[p + "embeddings.word_embeddings.weight"]  # tied
torch.save(sd, os.path.join(d, "pytorch_model.bin"))
