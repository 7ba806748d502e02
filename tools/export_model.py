#!/usr/bin/python3
"""Export a trained checkpoint (tools/work/best.pt) as an HF-format model dir.

Writes OUT/config.json (HF DistilBertConfig fields), OUT/model.safetensors
(fp16, HF tensor names), OUT/vocab.txt, OUT/tokenizer_config.json,
OUT/special_tokens_map.json and OUT/README.md (model card).  The card's
figures are measured here: the exported fp16 weights are loaded back into
the PyTorch model (strict names) and evaluated on the dev split, so the card
describes exactly the files shipped.  train.py calls this at the end.

Usage: /usr/bin/python3 tools/export_model.py [--best tools/work/best.pt]
       [--history tools/work/history.json] [--out models/default]
"""
import argparse
import json
import os
import shutil
import sys
import time

try:
    import torch
except ImportError as _e:  # a message, not a traceback
    sys.exit("%s: needs PyTorch (Debian: apt-get install python3-torch): %s"
             % (os.path.basename(__file__), _e))

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import distilbert_tensors  # noqa: E402
import safetensors_io  # noqa: E402
from bert_basic_tokenizer import BertTokenizer, SPECIALS  # noqa: E402
from distilbert_torch import DistilBertForSequenceClassification  # noqa: E402

ID2LABEL = {"0": "NEGATIVE", "1": "POSITIVE"}


def hf_config(cfg):
    return {
        "activation": "gelu",
        "architectures": ["DistilBertForSequenceClassification"],
        "attention_dropout": cfg["attention_dropout"],
        "dim": cfg["dim"],
        "dropout": cfg["dropout"],
        "hidden_dim": cfg["hidden_dim"],
        "id2label": ID2LABEL,
        "initializer_range": cfg["initializer_range"],
        "label2id": {v: int(k) for k, v in ID2LABEL.items()},
        "max_position_embeddings": cfg["max_position_embeddings"],
        "model_type": "distilbert",
        "n_heads": cfg["n_heads"],
        "n_layers": cfg["n_layers"],
        "pad_token_id": cfg["pad_token_id"],
        "qa_dropout": 0.1,
        "seq_classif_dropout": cfg["seq_classif_dropout"],
        "sinusoidal_pos_embds": False,
        "tie_weights_": True,
        "torch_dtype": "float16",
        "vocab_size": cfg["vocab_size"],
    }


def check_inventory(sd, cfg, src):
    """The state dict holds exactly the tensors vkbert loads (distilbert_tensors.TABLE), shaped as cfg says."""
    sizes = dict(cfg, num_labels=cfg.get("num_labels", len(ID2LABEL)))
    want = {name: shape for _, name, shape, _ in distilbert_tensors.tensors(sizes, cfg["n_layers"])}
    got = {k: tuple(v.shape) for k, v in sd.items()}
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(k for k in want if k in got and got[k] != want[k])
    if missing or extra or wrong:
        sys.exit(f"{src}: not the DistilBERT tensor inventory: missing {missing[:3]}, unexpected {extra[:3]}, "
                 f"wrong shape {[(k, got[k], want[k]) for k in wrong[:3]]}")


def tokenizer_config(max_len):
    return {
        "tokenizer_class": "DistilBertTokenizer",
        "do_lower_case": True,
        "model_max_length": max_len,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "clean_up_tokenization_spaces": True,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]",
    }


def load_exported(out):
    with open(os.path.join(out, "config.json")) as f:
        c = json.load(f)
    model = DistilBertForSequenceClassification(c)
    sd, _ = safetensors_io.load(os.path.join(out, "model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model.eval(), c


def eval_dev(model, out, dev, max_len):
    import train  # metrics/evaluate helpers
    tok = BertTokenizer(os.path.join(out, "vocab.txt"), max_len)
    ids, labels = train.load_split(dev, tok, max_len)
    t0 = time.time()
    m = train.evaluate(model, ids, labels, tok.pad)
    m["cpu_ms_per_example"] = 1000 * (time.time() - t0) / len(ids)
    return m


def cmdline(args):
    flags = [("dim", "--dim"), ("layers", "--layers"), ("heads", "--heads"), ("hidden", "--hidden"),
             ("max_len", "--max-len"), ("epochs", "--epochs"), ("lr", "--lr"), ("batch", "--batch")]
    return "/usr/bin/python3 tools/train.py " + " ".join(f"{f} {args[k]:g}" if isinstance(args[k], float)
                                                        else f"{f} {args[k]}" for k, f in flags)


def card(c, hist, dev_m, dev_path, size_mb):
    a = hist["args"]
    best = hist["best"]
    rows = "\n".join(f"| {h['epoch']} | {h['accuracy']:.4f} | {h['f1']:.4f} | {h['minutes']:.1f} |"
                     for h in hist["history"])
    n_params = (c["vocab_size"] + c["max_position_embeddings"]) * c["dim"] + c["n_layers"] * (
        4 * (c["dim"] ** 2 + c["dim"]) + 2 * c["dim"] * c["hidden_dim"] + c["hidden_dim"] + c["dim"] + 4 * c["dim"]
    ) + 2 * c["dim"] + c["dim"] ** 2 + c["dim"] + 2 * c["dim"] + 2
    return f"""# vkbert built-in default model (small DistilBERT, IMDB sentiment)

This is **not** distilbert-base-uncased-finetuned-sst-2-english.  No pretrained
checkpoint can be downloaded where vkbert is developed, so this model was trained
**from scratch** (no pretraining) on IMDB movie reviews, on a 2-core CPU, so that
`vkbert` works out of the box.  It is much smaller and weaker than a fine-tuned
pretrained DistilBERT; it knows movie-review sentiment and little else.

## Architecture
`DistilBertForSequenceClassification` (same tensors, names and maths as Hugging Face's):
{c['n_layers']} transformer layers, dim {c['dim']}, {c['n_heads']} heads, FFN {c['hidden_dim']} (exact GELU),
learned position embeddings for {c['max_position_embeddings']} positions, pre-classifier + classifier on the first
token.  {n_params / 1e6:.2f}M parameters, stored as fp16 in `model.safetensors` ({size_mb:.1f} MB).
Labels: 0 NEGATIVE, 1 POSITIVE.

## Vocabulary
`vocab.txt`: {c['vocab_size']} uncased WordPiece tokens learned from the training split only by
`tools/wordpiece_vocab.py` (BPE-style merges with `##` continuation pieces, like the HF WordPiece
trainer).  It is not the BERT vocabulary.  (54 entries can never be produced: the
uppercase ASCII letters with and without `##`, which lowercasing removes, and U+F0B7 with and without `##`, a
private-use character the tokenizer drops; see `--keep-private-use` in `tools/wordpiece_vocab.py`.)  Tokenization is BERT's uncased pipeline (lowercase, strip accents,
split punctuation, greedy longest-match WordPiece), truncated to {c['max_position_embeddings']} tokens.

## Data
The 25,000 labeled reviews of the IMDB training set (Maas et al., 2011), split by
`tools/imdb_split.py`: a review is held out for dev when sha256(id) mod 10 == 0, giving
{len_lines(a['train'])} training and {dev_m['n']} dev reviews.  The IMDB test set was not used.

## Training
```
/usr/bin/python3 tools/imdb_split.py
/usr/bin/python3 tools/wordpiece_vocab.py --keep-private-use
{cmdline(a)}
```
AdamW (weight decay {a['wd']}), peak learning rate {a['lr']:g}, {a['warmup'] * 100:g}% linear warmup then linear decay,
batch {a['batch']} (length-bucketed), dropout {a['dropout']}, {a['threads']} torch threads.  The decay is tied both to
the {a['epochs']} planned epochs and to a wall-time budget of {a.get('budget_minutes', 95):g} minutes (`--budget-minutes`),
whichever runs out first, so the learning rate reaches zero in time on a shared machine; this run trained
{hist['history'][-1]['epoch']:g} epochs.
Training took {hist['minutes']:.0f} minutes of wall time (evaluations included) on a 2-core CPU shared with other
work.  The evaluation with the best dev accuracy is exported (after epoch {best['epoch']:g}).

| epoch | dev accuracy | dev F1 | minutes elapsed |
| --- | --- | --- | --- |
{rows}

## Evaluation (held-out dev split, PyTorch, the exported fp16 weights)
| metric | value |
| --- | --- |
| Accuracy | {dev_m['accuracy']:.4f} |
| F1 | {dev_m['f1']:.4f} |
| Precision | {dev_m['precision']:.4f} |
| Recall | {dev_m['recall']:.4f} |
| Examples | {dev_m['n']} |

Measured by `tools/export_model.py` on `{os.path.relpath(dev_path, os.path.join(HERE, '..'))}`.  The same split
can be scored with `build/vkbert eval tools/work/dev.jsonl` after running `tools/imdb_split.py`.

## Limitations
Trained on 22k movie reviews only: expect weaker results on other domains, on short or sarcastic text, and
on reviews whose sentiment comes after the first {c['max_position_embeddings'] - 2} word pieces (they are truncated).
For real use, point vkbert at a proper Hugging Face checkpoint, e.g.
`git clone https://huggingface.co/distilbert-base-uncased-finetuned-sst-2-english` and
`vkbert classify --model distilbert-base-uncased-finetuned-sst-2-english "text"`, or your own fine-tuned
DistilBERT directory (config.json, model.safetensors, vocab.txt).
"""


def len_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return sum(1 for _ in f)
    except OSError:
        return "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--best", default=os.path.join(HERE, "work", "best.pt"))
    ap.add_argument("--vocab", default=os.path.join(HERE, "work", "vocab.txt"))
    ap.add_argument("--history", default=os.path.join(HERE, "work", "history.json"))
    ap.add_argument("--dev", default=os.path.join(HERE, "work", "dev.jsonl"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "default"))
    a = ap.parse_args(argv)
    out = os.path.normpath(a.out)
    os.makedirs(out, exist_ok=True)
    best = torch.load(a.best)
    cfg = best["config"]
    with open(a.vocab, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    if vocab[:len(SPECIALS)] != SPECIALS or len(vocab) != cfg["vocab_size"]:
        sys.exit(f"{a.vocab}: does not match the checkpoint (vocab_size {cfg['vocab_size']})")

    hc = hf_config(cfg)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hc, f, indent=2)
        f.write("\n")
    sd = {k: v.half() for k, v in best["model"].items()}
    check_inventory(sd, cfg, a.best)
    safetensors_io.save(sd, os.path.join(out, "model.safetensors"), {"format": "pt"})
    shutil.copyfile(a.vocab, os.path.join(out, "vocab.txt"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(cfg["max_position_embeddings"]), f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                   "mask_token": "[MASK]"}, f, indent=2)
        f.write("\n")

    model, c = load_exported(out)
    torch.set_num_threads(2)
    dev_m = eval_dev(model, out, a.dev, c["max_position_embeddings"])
    print(f"exported fp16 model, dev: {json.dumps(dev_m)}")
    with open(a.history) as f:
        hist = json.load(f)
    size_mb = os.path.getsize(os.path.join(out, "model.safetensors")) / 1e6
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(card(c, hist, dev_m, a.dev, size_mb))
    with open(os.path.join(os.path.dirname(a.best), "export_metrics.json"), "w") as f:
        json.dump(dev_m, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:  # a missing or unreadable file: a message, not a traceback
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
