#!/usr/bin/env python3
"""Makes the benchmarks' checkpoint: random weights, real BERT vocab, HF layout.

tools/make_checkpoint.py writes the random DistilBERT checkpoints of the tests
(every tensor random, scaled so attention is far from uniform, which makes
logit comparisons meaningful) but with a made-up ~150-word vocab.  The
benchmarks need the real vocab (30522 ids: the IMDB workload is tokenized
with bert-base-uncased), so this script runs tools/make_checkpoint.py with the
wanted shape and then swaps the vocab: vocab.txt becomes the BERT vocab and
distilbert.embeddings.word_embeddings.weight is redrawn as [30522, dim] with
the same N(0, 1) scale (seeded); config.json's vocab_size follows.

--init hf skips tools/make_checkpoint.py and draws every tensor with HF's
initialisation (normal(0, 0.02), zero biases, unit LayerNorms) from
tools/distilbert_torch.py; the scripts fall back to it when make_checkpoint.py
is missing or fails.  Note that HF-init logits are all close to zero, which
makes them a weak check of correctness.

Default shape: distilbert-base (6 layers, dim 768, 12 heads, hidden 3072, 512
positions, 2 labels); fp32 weights (~265 MB).  Keep it in bench/work/ (git-ignored).

Usage: bench_checkpoint.py --out DIR [--dim 768 --layers 6 --heads 12
       --hidden 3072 --max-pos 512] [--vocab FILE] [--init make|hf] [--seed 1]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.normpath(os.path.join(HERE, "..", "..", "tools"))
DEFAULT_VOCAB = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data", "vocab",
                                              "bert-base-uncased.txt"))
sys.path.insert(0, TOOLS)


def count_lines(path):
    with open(path, encoding="utf-8") as f:
        toks = [line.rstrip("\n") for line in f]
    while toks and toks[-1] == "":
        toks.pop()
    return len(toks)


def via_make_checkpoint(a, n_vocab):
    import torch
    import safetensors_io

    cmd = [sys.executable, os.path.join(TOOLS, "make_checkpoint.py"), a.out, "--dim", str(a.dim),
           "--layers", str(a.layers), "--heads", str(a.heads), "--hidden", str(a.hidden),
           "--labels", "2", "--max-pos", str(a.max_pos), "--dtype", "F32", "--seed", str(a.seed)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"tools/make_checkpoint.py failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    st = os.path.join(a.out, "model.safetensors")
    sd, meta = safetensors_io.load(st)
    name = "distilbert.embeddings.word_embeddings.weight"
    if name not in sd:
        raise RuntimeError(f"{st}: no {name}")
    g = torch.Generator().manual_seed(a.seed + 1000)
    sd[name] = torch.randn(n_vocab, a.dim, generator=g)
    meta = dict(meta or {})
    meta["format"] = "pt"  # transformers refuses safetensors without it
    safetensors_io.save(sd, st + ".tmp", meta)
    os.replace(st + ".tmp", st)
    cfg_path = os.path.join(a.out, "config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["vocab_size"] = n_vocab
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def via_hf_init(a, n_vocab):
    import torch
    import distilbert_torch
    import safetensors_io

    torch.manual_seed(a.seed)
    cfg = {"architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert",
           "activation": "gelu", "dim": a.dim, "n_layers": a.layers, "n_heads": a.heads,
           "hidden_dim": a.hidden, "vocab_size": n_vocab, "max_position_embeddings": a.max_pos,
           "dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2,
           "initializer_range": 0.02, "pad_token_id": 0, "qa_dropout": 0.1,
           "sinusoidal_pos_embds": False, "tie_weights_": True,
           "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}, "label2id": {"NEGATIVE": 0, "POSITIVE": 1},
           "torch_dtype": "float32"}
    model = distilbert_torch.DistilBertForSequenceClassification(
        {k: cfg[k] for k in ("vocab_size", "max_position_embeddings", "dim", "n_layers", "n_heads",
                             "hidden_dim")})
    os.makedirs(a.out, exist_ok=True)
    safetensors_io.save(model.state_dict(), os.path.join(a.out, "model.safetensors"), {"format": "pt"})
    with open(os.path.join(a.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", default=DEFAULT_VOCAB)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=3072)
    ap.add_argument("--max-pos", type=int, default=512)
    ap.add_argument("--init", choices=("make", "hf"), default="make")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        n_vocab = count_lines(a.vocab)
    except OSError as e:
        sys.exit(f"--vocab: {e}")
    init = a.init
    if init == "make":
        try:
            via_make_checkpoint(a, n_vocab)
        except (RuntimeError, OSError, ValueError) as e:
            print(f"note: {e}; falling back to --init hf", file=sys.stderr)
            init = "hf"
    if init == "hf":
        via_hf_init(a, n_vocab)
    shutil.copyfile(a.vocab, os.path.join(a.out, "vocab.txt"))
    print(f"wrote {a.out} ({init} init): dim {a.dim}, {a.layers} layers, {a.heads} heads, "
          f"hidden {a.hidden}, max_pos {a.max_pos}, vocab {n_vocab}")


if __name__ == "__main__":
    main()
