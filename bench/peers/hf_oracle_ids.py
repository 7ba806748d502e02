#!/usr/bin/env python3
"""The gold oracle on vkbert's own token ids.

HF transformers' DistilBertForSequenceClassification (loaded from the same
checkpoint directory) runs on the ids that `vkbert tokenize` printed, one
sequence at a time without padding, and its logits are compared with the
`"logits"` of `vkbert score --logits` outputs (same inputs, same order).
Separately, HF's Rust tokenizer (the `tokenizers` package, BertWordPiece,
lowercase) encodes the same texts and its ids are compared with vkbert's.

  hf_oracle_ids.py --model DIR --texts IN.jsonl --ids IDS.jsonl \
                   --compare OUT.jsonl:TOL [--compare ...]
Prints one JSON line per comparison; exits 1 if any is over tolerance, has a
label mismatch, or the tokenizers disagree.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--compare", action="append", default=[])
    ap.add_argument("--max-len", type=int, default=512)
    a = ap.parse_args()

    import torch
    import transformers
    texts = [json.loads(l).get("text", "") for l in open(a.texts, encoding="utf-8") if l.strip()]
    ids = [json.loads(l) for l in open(a.ids, encoding="utf-8") if l.strip()]
    ok = len(ids) == len(texts)
    print(json.dumps({"texts": len(texts), "id_lines": len(ids)}))

    # 1. HF's Rust tokenizer vs vkbert's ids
    try:
        from tokenizers import BertWordPieceTokenizer
        tk = BertWordPieceTokenizer(os.path.join(a.model, "vocab.txt"), lowercase=True,
                                    strip_accents=None, clean_text=True, handle_chinese_chars=True)
        tk.enable_truncation(a.max_len)
        mism = [i for i, (t, v) in enumerate(zip(texts, ids)) if tk.encode(t).ids != v]
        print(json.dumps({"check": "tokenizer", "impl": "tokenizers (Rust) BertWordPieceTokenizer",
                          "n": len(texts), "mismatches": len(mism), "first": mism[:5]}))
        ok &= not mism
    except Exception as e:  # noqa: BLE001 - reported, counts as failure
        print(json.dumps({"check": "tokenizer", "error": str(e)[:300]}))
        ok = False

    # 2. HF model on vkbert's ids
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    model = transformers.DistilBertForSequenceClassification.from_pretrained(a.model).float().eval()
    gold = []
    with torch.inference_mode():
        for v in ids:
            t = torch.tensor([v])
            gold.append(model(input_ids=t, attention_mask=torch.ones_like(t)).logits[0].double().tolist())
    for spec in a.compare:
        path, tol = (spec.rsplit(":", 1) + ["1e-3"])[:2]
        got = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
        n = min(len(got), len(gold))
        diff, lab = 0.0, 0
        for g, o in zip(gold, got):
            lg = o.get("logits") or [float("nan")] * len(g)
            diff = max(diff, max(abs(x - y) for x, y in zip(g, lg)))
            lab += max(range(len(g)), key=g.__getitem__) != max(range(len(lg)), key=lg.__getitem__)
        good = n == len(gold) and diff <= float(tol) and lab == 0
        ok &= good
        print(json.dumps({"check": "logits", "file": os.path.basename(path), "n": n, "tol": float(tol),
                          "max_abs_logit_diff": diff, "label_mismatches": lab, "ok": good}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
