#!/usr/bin/python3
"""Deterministic train/dev split of the shared IMDB training reviews.

A review goes to dev when the first 8 bytes of sha256(id), read as a big-endian
integer, are 0 mod 10 (about 10%).  sha256 rather than hash(): Python's str
hash is randomized per process, so it would give a different split each run.
The split depends only on the review id, so it is stable under reordering.

Usage: /usr/bin/python3 tools/imdb_split.py [--src ../shared/data/imdb/train.jsonl.gz] [--out tools/work]
Writes OUT/train.jsonl and OUT/dev.jsonl (the input's lines, unchanged).
--src defaults to $VKB_SHARED/data/imdb/train.jsonl.gz, else
../shared/data/imdb/train.jsonl.gz beside the checkout, when present.
"""
import argparse
import gzip
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("VKB_SHARED") or os.path.join(HERE, "..", "..", "shared")
DEFAULT_SRC = os.path.normpath(os.path.join(SHARED, "data", "imdb", "train.jsonl.gz"))
DEFAULT_OUT = os.path.join(HERE, "work")
DEV_MOD = 10


def is_dev(review_id: str) -> bool:
    h = hashlib.sha256(review_id.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") % DEV_MOD == 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", help="JSON lines (.gz or plain) with id, text and label (0/1); "
                                  "default: %s when present" % DEFAULT_SRC)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    prog = os.path.basename(sys.argv[0]) if argv is None else "imdb_split.py"
    src = a.src or DEFAULT_SRC
    if not os.path.isfile(src):
        if a.src:
            sys.exit(f"{prog}: --src {src}: no such file")
        sys.exit(f"{prog}: no --src given and the default {src} is absent (the IMDB reviews "
                 "come with ../shared beside a vkbert checkout, or set VKB_SHARED); "
                 "pass --src FILE: JSON lines (.gz or plain) with id, text and label")
    counts = {"train": [0, 0], "dev": [0, 0]}
    paths = {k: os.path.join(a.out, k + ".jsonl") for k in counts}
    opener = gzip.open if src.endswith(".gz") else open
    n = 0
    try:
        os.makedirs(a.out, exist_ok=True)
        with opener(src, "rt", encoding="utf-8") as f, \
                open(paths["train"] + ".tmp", "w", encoding="utf-8") as ft, \
                open(paths["dev"] + ".tmp", "w", encoding="utf-8") as fd:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line:
                    continue
                try:
                    r = json.loads(line)
                    rid, label = r["id"], r["label"]
                    if not isinstance(rid, str):
                        raise TypeError("id %r is not a string" % (rid,))
                    if label not in (0, 1) or isinstance(label, bool):
                        raise ValueError("label %r is not 0 or 1" % (label,))
                except (ValueError, KeyError, TypeError) as e:
                    raise SystemExit(f"{prog}: {src}:{n}: bad record: {e!r}")
                which = "dev" if is_dev(rid) else "train"
                (fd if which == "dev" else ft).write(line + "\n")
                counts[which][label] += 1
        for k in paths:
            os.replace(paths[k] + ".tmp", paths[k])
    except (OSError, EOFError, UnicodeDecodeError) as e:
        sys.exit(f"{prog}: {src}" + (f":{n}" if n else "") + f": {e}")
    finally:
        for k in paths:
            if os.path.exists(paths[k] + ".tmp"):
                os.remove(paths[k] + ".tmp")
    for k in paths:
        neg, pos = counts[k]
        print(f"{k}: {neg + pos} reviews ({pos} positive, {neg} negative) -> {paths[k]}")
    dev = os.path.relpath(paths["dev"])
    print("evaluate the built-in model on the held-out split with:")
    print(f"  build/vkbert eval {dev}")
    print(f"  build/vkbert eval --balanced 100 {dev}")


if __name__ == "__main__":
    main()
