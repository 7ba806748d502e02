#!/usr/bin/env python3
"""Gold logits from HF transformers, and comparison of other outputs with them.

Compute mode (--model DIR --texts FILE): tokenizes each line's "text" with
transformers' BertTokenizer over DIR/vocab.txt (uncased, truncation at
--max-len) and runs DistilBertForSequenceClassification.from_pretrained(DIR)
in fp32 on the CPU, one text per batch (no padding at all), writing one JSON
line per text {"i", "n_tokens", "logits", "label"} to --out.  It also reports
how many texts tools/bert_basic_tokenizer.py (the tokenizer the C one is held
to) tokenizes differently from HF.  --impl own uses tools/distilbert_torch.py
and bert_basic_tokenizer instead (for machines without transformers).

Compare mode (--reference FILE, or the file just computed): each --compare
FILE[:TOL] is JSON lines in the same order, with "logits" (as `vkbert score
--logits` writes) or at least "label"; reports max |logit difference|, and
the number of texts whose argmax label differs.  Exit status 1 if any
compared file has a different line count, a logit difference above TOL
(default 1e-3) or a different label.

Prints one JSON summary line per compared file.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.normpath(os.path.join(HERE, "..", "..", "tools"))


def read_jsonl(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                out.append({"error": f"{path}:{n}: {e}"})
    return out


def argmax(xs):
    return max(range(len(xs)), key=xs.__getitem__)


def hf_tokenizer(vocab, model_dir, fallback):
    """HF's own BERT tokenizer over vocab.txt; the class names moved between
    transformers 4 and 5, so try them in turn, else fall back (and say so)."""
    import transformers
    errs = []
    for name in ("BertTokenizerFast", "BertTokenizer", "AutoTokenizer"):
        cls = getattr(transformers, name, None)
        if cls is None:
            continue
        try:
            tok = cls.from_pretrained(model_dir) if name == "AutoTokenizer" else \
                cls(vocab_file=vocab, do_lower_case=True)
            return lambda t, m: tok(t, truncation=True, max_length=m)["input_ids"], f"transformers.{name}"
        except Exception as e:  # noqa: BLE001 - try the next one; all errors are reported
            errs.append(f"{name}: {e}")
    print(f"note: no HF tokenizer usable ({'; '.join(errs)[:300]}); using tools/bert_basic_tokenizer.py",
          file=sys.stderr)
    return fallback, "tools/bert_basic_tokenizer.py (HF tokenizer unusable)"


def compute(a):
    import torch
    sys.path.insert(0, TOOLS)
    import bert_basic_tokenizer

    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    texts = [r.get("text", "") for r in read_jsonl(a.texts)][: a.count]
    vocab = os.path.join(a.model, "vocab.txt")
    ours = bert_basic_tokenizer.BertTokenizer(vocab, max_len=a.max_len)
    if a.impl == "hf":
        import transformers
        encode, tok_name = hf_tokenizer(vocab, a.model, lambda t, m: ours.encode(t, m))
        model = transformers.DistilBertForSequenceClassification.from_pretrained(a.model).float().eval()
        fwd = lambda ids: model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits  # noqa: E731
    else:
        sys.path.insert(0, HERE)
        import torch_peer
        encode, tok_name = (lambda t, m: ours.encode(t, m)), "tools/bert_basic_tokenizer.py"
        model = torch_peer.load_own(a.model)[0].float().eval()
        fwd = lambda ids: model(ids, torch.ones_like(ids))  # noqa: E731
    tok_diff = 0
    with torch.inference_mode(), open(a.out, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            ids = list(encode(t, a.max_len))
            tok_diff += ids != ours.encode(t, a.max_len)
            logits = fwd(torch.tensor([ids]))[0].tolist()
            f.write(json.dumps({"i": i, "n_tokens": len(ids), "logits": logits, "label": argmax(logits)}) + "\n")
    print(json.dumps({"oracle": a.impl, "tokenizer": tok_name, "texts": len(texts),
                      "tokenizer_mismatches_vs_bert_basic_tokenizer": tok_diff, "out": a.out}), flush=True)


def compare(ref_path, spec, max_n):
    path, tol = spec, 1e-3
    if ":" in spec and not os.path.exists(spec):
        path, t = spec.rsplit(":", 1)
        tol = float(t)
    ref = read_jsonl(ref_path)[:max_n]
    try:
        got = read_jsonl(path)[:max_n] if max_n else read_jsonl(path)
    except OSError as e:
        return {"file": path, "ok": False, "error": str(e)}
    res = {"file": path, "reference": ref_path, "tol": tol, "n_ref": len(ref), "n": len(got)}
    max_diff, label_diff, errors, first = 0.0, 0, 0, None
    for i, (r, g) in enumerate(zip(ref, got)):
        if "error" in g or ("logits" not in g and "label" not in g):
            errors += 1
            continue
        if "logits" in g and "logits" in r:
            d = max(abs(x - y) for x, y in zip(r["logits"], g["logits"])) if len(r["logits"]) == len(g["logits"]) \
                else float("inf")
            max_diff = max(max_diff, d)
            if d > tol and first is None:
                first = i
            same = argmax(r["logits"]) == argmax(g["logits"])
        else:
            same = r.get("label") == g.get("label")
        label_diff += not same
    res.update(max_abs_logit_diff=max_diff, label_mismatches=label_diff, error_lines=errors)
    if first is not None:
        res["first_over_tol"] = first
    res["ok"] = len(ref) > 0 and len(ref) == len(got) and errors == 0 and label_diff == 0 and max_diff <= tol
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="checkpoint dir (compute mode)")
    ap.add_argument("--texts", help="JSONL with a 'text' per line (compute mode)")
    ap.add_argument("--count", type=int, default=None, help="only the first N texts")
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--impl", choices=("hf", "own"), default="hf")
    ap.add_argument("--out", help="where compute mode writes the gold logits")
    ap.add_argument("--reference", help="existing gold/reference JSONL (compare mode)")
    ap.add_argument("--compare", action="append", default=[], help="FILE[:TOL], repeatable")
    a = ap.parse_args(argv)
    if a.model:
        if not (a.texts and a.out):
            sys.exit("compute mode needs --texts and --out")
        compute(a)
        ref = a.out
    elif a.reference:
        ref = a.reference
        if not os.path.exists(ref):
            sys.exit(f"--reference {ref}: not found")
        if not a.compare:
            sys.exit("--reference needs at least one --compare FILE")
    else:
        sys.exit("give --model/--texts/--out (compute) or --reference (compare)")
    ok = True
    for spec in a.compare:
        r = compare(ref, spec, a.count)
        print(json.dumps(r), flush=True)
        ok &= r["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
