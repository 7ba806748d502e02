#!/usr/bin/env python3
"""Makes the IMDB benchmark workload: 2,000 held-out reviews, tokenized.

Reviews: the first --count (2000) reviews, in file order, of the held-out dev
split of ../shared/data/imdb/train.jsonl.gz, decided by tools/imdb_split.py's
is_dev() (sha256 of the review id, 10%), read straight from the source so the
workload does not depend on tools/work/ having been generated.
Tokens: tools/bert_basic_tokenizer.py (a re-implementation of HF
BertTokenizerFast, uncased) with ../shared/data/vocab/bert-base-uncased.txt,
[CLS] ... [SEP], truncated to --max-len (512).  With --vkbert BIN --model DIR
the ids are also compared with `BIN tokenize --model DIR` and any difference
stops the script (the C tokenizer must match; see the note in the README).

Writes into --out (default bench/work/imdb, git-ignored; IMDB text must never
be committed):
  ids.jsonl      one JSON array of token ids per line (the peers' input)
  reviews.jsonl  the same reviews' source lines ({"id","text","label"}), for
                 `vkbert score` end to end (tokenization included)
  meta.json      count, token length stats, source, vocab sha256, split rule
  vocab.txt      a copy of the vocab, so the directory alone (carried to the
                 GPU machine, which has no ../shared) can make the checkpoint

Usage: python3 bench/peers/make_imdb_workload.py [--src GZ] [--vocab FILE]
       [--count 2000] [--max-len 512] [--out DIR]
"""
import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TOOLS = os.path.join(ROOT, "tools")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
sys.path.insert(0, TOOLS)

import bert_basic_tokenizer  # noqa: E402
import imdb_split  # noqa: E402


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_dev(src, count):
    out = []
    opener = gzip.open if src.endswith(".gz") else open
    with opener(src, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            try:
                r = json.loads(line)
                rid, text = r["id"], r["text"]
                if not isinstance(text, str):
                    raise TypeError("text is not a string")
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"{src}:{n}: bad record: {e}")
            if imdb_split.is_dev(rid):
                out.append((line, text))
                if len(out) == count:
                    break
    if len(out) < count:
        sys.exit(f"{src}: only {len(out)} dev reviews, wanted {count}")
    return out


def vkbert_ids(binary, model, reviews_path):
    """Ids from the C tokenizer; accepts arrays or objects with ids/input_ids."""
    p = subprocess.run([binary, "tokenize", "--model", model, reviews_path],
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        sys.exit(f"{binary} tokenize failed ({p.returncode}): {p.stderr.strip()[:400]}")
    rows = []
    for line in p.stdout.splitlines():
        if line.strip():
            r = json.loads(line)
            rows.append(r if isinstance(r, list) else r.get("ids", r.get("input_ids")))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=os.path.join(SHARED, "imdb", "train.jsonl.gz"))
    ap.add_argument("--vocab", default=os.path.join(SHARED, "vocab", "bert-base-uncased.txt"))
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "work", "imdb"))
    ap.add_argument("--vkbert", default=None, help="also compare with BIN tokenize --model DIR")
    ap.add_argument("--model", default=None, help="checkpoint dir for --vkbert")
    a = ap.parse_args(argv)
    for p in (a.src, a.vocab):
        if not os.path.exists(p):
            sys.exit(f"{p}: not found (the shared IMDB data and BERT vocab live in ../shared/data)")

    reviews = read_dev(a.src, a.count)
    tok = bert_basic_tokenizer.BertTokenizer(a.vocab, max_len=a.max_len)
    ids = [tok.encode(text) for _, text in reviews]
    os.makedirs(a.out, exist_ok=True)
    paths = {k: os.path.join(a.out, k) for k in ("ids.jsonl", "reviews.jsonl", "meta.json")}
    with open(paths["reviews.jsonl"], "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line, _ in reviews)
    if a.vkbert:
        other = vkbert_ids(a.vkbert, a.model or ".", paths["reviews.jsonl"])
        bad = [i for i, (x, y) in enumerate(zip(ids, other)) if x != y]
        if len(other) != len(ids) or bad:
            sys.exit(f"vkbert tokenize differs from tools/bert_basic_tokenizer.py: {len(other)} vs "
                     f"{len(ids)} rows, {len(bad)} differing (first: review {bad[:1]})")
        print(f"vkbert tokenize agrees on all {len(ids)} reviews")
    with open(paths["ids.jsonl"], "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in ids)
    lens = sorted(len(r) for r in ids)
    meta = {"reviews": len(ids), "mean_tokens": round(sum(lens) / len(lens), 1),
            "median_tokens": lens[len(lens) // 2], "max_tokens": lens[-1],
            "truncated": sum(1 for n in lens if n == a.max_len), "max_len": a.max_len,
            "source": os.path.relpath(a.src, ROOT), "split": "tools/imdb_split.py is_dev (sha256(id) % 10 == 0)",
            "tokenizer": "tools/bert_basic_tokenizer.py", "vocab_sha256": sha256_file(a.vocab)}
    shutil.copyfile(a.vocab, os.path.join(a.out, "vocab.txt"))
    with open(paths["meta.json"], "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {a.out}: {meta['reviews']} reviews, mean {meta['mean_tokens']} tokens "
          f"(median {meta['median_tokens']}, max {meta['max_tokens']}, {meta['truncated']} truncated)")


if __name__ == "__main__":
    main()
