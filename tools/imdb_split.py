#!/usr/bin/python3
"""Deterministic train/dev split of the shared IMDB training reviews.

A review goes to dev when the first 8 bytes of sha256(id), read as a big-endian
integer, are 0 mod 10 (about 10%).  sha256 rather than hash(): Python's str
hash is randomized per process, so it would give a different split each run.
The split depends only on the review id, so it is stable under reordering.

Usage: /usr/bin/python3 tools/imdb_split.py [--src ../shared/data/imdb/train.jsonl.gz] [--out tools/work]
Writes OUT/train.jsonl and OUT/dev.jsonl (the input's lines, unchanged).
"""
import argparse
import gzip
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, "..", "..", "shared", "data", "imdb", "train.jsonl.gz")
DEFAULT_OUT = os.path.join(HERE, "work")
DEV_MOD = 10


def is_dev(review_id: str) -> bool:
    h = hashlib.sha256(review_id.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") % DEV_MOD == 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=DEFAULT_SRC)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    counts = {"train": [0, 0], "dev": [0, 0]}
    paths = {k: os.path.join(a.out, k + ".jsonl") for k in counts}
    opener = gzip.open if a.src.endswith(".gz") else open
    with opener(a.src, "rt", encoding="utf-8") as f, \
            open(paths["train"] + ".tmp", "w", encoding="utf-8") as ft, \
            open(paths["dev"] + ".tmp", "w", encoding="utf-8") as fd:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            try:
                r = json.loads(line)
                rid, label = r["id"], int(r["label"])
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"{a.src}:{n}: bad record: {e}")
            which = "dev" if is_dev(rid) else "train"
            (fd if which == "dev" else ft).write(line + "\n")
            counts[which][label] += 1
    for k in paths:
        os.replace(paths[k] + ".tmp", paths[k])
        neg, pos = counts[k]
        print(f"{k}: {neg + pos} reviews ({pos} positive, {neg} negative) -> {paths[k]}")
    dev = os.path.relpath(paths["dev"])
    print("evaluate the built-in model on the held-out split with:")
    print(f"  build/vkbert eval {dev}")
    print(f"  build/vkbert eval --balanced 100 {dev}")


if __name__ == "__main__":
    main()
