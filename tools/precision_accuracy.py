#!/usr/bin/python3
"""Accuracy of vkbert's CPU reduced precision (--precision bf16 / int8)
against fp32 on IMDB reviews.

Dev split: the first N (default 2,000) reviews, in file order, of the
built-in model's held-out dev split (tools/imdb_split.py: sha256(id) mod 10
== 0; the model never trained on them).  Each precision scores them with
`vkbert score --logits --device cpu` (same batching); the tool prints per
mode the max |logit - fp32 logit|, the mean of it, label agreement with
fp32, and accuracy against the gold labels, and exits 1 when agreement is
below --min-agree (default 99.5%).

Usage: /usr/bin/python3 tools/precision_accuracy.py [--vkbert build/vkbert]
       [--model models/default] [--src train.jsonl.gz] [-n 2000]
       [--threads 2] [--precisions fp32,bf16,int8] [--json OUT]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from imdb_split import DEFAULT_SRC, is_dev  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vkbert", default=os.path.join(HERE, "..", "build", "vkbert"))
    ap.add_argument("--model", default=None, help="model directory (default: the built-in model)")
    ap.add_argument("--src", default=DEFAULT_SRC)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precisions", default="fp32,bf16,int8")
    ap.add_argument("--min-agree", type=float, default=0.995)
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    if not os.path.exists(a.src):
        print("precision_accuracy: no %s" % a.src, file=sys.stderr)
        return 77
    rows = []
    op = gzip.open if a.src.endswith(".gz") else open
    with op(a.src, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if is_dev(r["id"]):
                rows.append({"text": r["text"], "label": int(r["label"])})
                if len(rows) >= a.n:
                    break
    precs = a.precisions.split(",")
    if precs[0] != "fp32":
        precs.insert(0, "fp32")
    out = {}
    with tempfile.TemporaryDirectory() as td:
        inp = os.path.join(td, "dev.jsonl")
        with open(inp, "w") as f:
            for r in rows:
                f.write(json.dumps({"text": r["text"]}) + "\n")
        for p in precs:
            cmd = [a.vkbert, "score", "--device", "cpu", "--precision", p, "--logits", "--quiet",
                   "--threads", str(a.threads), inp]
            if a.model:
                cmd[2:2] = ["--model", a.model]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                print("precision_accuracy: %s failed: %s" % (" ".join(cmd), res.stderr), file=sys.stderr)
                return 1
            out[p] = [json.loads(l) for l in res.stdout.splitlines()]
            assert len(out[p]) == len(rows), (p, len(out[p]))
    ref = out["fp32"]
    gold = [r["label"] for r in rows]
    labels_of = lambda res: [max(range(len(o["logits"])), key=lambda k: o["logits"][k]) for o in res]
    ref_lab = labels_of(ref)
    report = {"reviews": len(rows), "split": "first %d of tools/imdb_split.py's dev split" % len(rows), "modes": {}}
    ok = True
    print("%-5s %14s %15s %16s %9s" % ("mode", "max |dlogit|", "mean |dlogit|", "agree with fp32", "accuracy"))
    for p in precs:
        lab = labels_of(out[p])
        errs = [abs(x - y) for o, r in zip(out[p], ref) for x, y in zip(o["logits"], r["logits"])]
        agree = sum(x == y for x, y in zip(lab, ref_lab))
        acc = sum(x == g for x, g in zip(lab, gold)) / len(rows)
        m = {"max_logit_err": max(errs), "mean_logit_err": sum(errs) / len(errs), "agree": agree,
             "agree_frac": agree / len(rows), "accuracy": acc}
        report["modes"][p] = m
        print("%-5s %14.3e %15.3e %10d/%d %8.2f%%" % (p, m["max_logit_err"], m["mean_logit_err"], agree,
                                                   len(rows), 100 * acc))
        if agree < a.min_agree * len(rows):
            ok = False
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
