#!/usr/bin/env python3
"""Merge the outputs of `vkbert score --shard I/N` back into input order.

usage: merge_shards.py SHARD0 SHARD1 ... SHARD{N-1} > merged.jsonl

Shard I holds, in input order, the lines for input records k with
k mod N == I (k counts parsed records from 0, error lines included), so
record k is line k // N of shard k % N: the merge takes one line from each
shard in turn.  The shard files must be given in order 0..N-1 and be
complete (shard I has ceil((total - I) / N) lines); anything else is refused
rather than merged wrongly.  Needs only the standard library.
"""
import sys


def merge(paths, out):
    shards = []
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            raise SystemExit("merge_shards: %s ends with an incomplete line "
                             "(finish it with vkbert score --resume)" % p)
        shards.append(data.splitlines(keepends=True))
    counts = [len(s) for s in shards]
    total = sum(counts)
    n = len(shards)
    want = [(total - i + n - 1) // n for i in range(n)]
    if counts != want:
        raise SystemExit("merge_shards: line counts %s do not fit %d interleaved shards "
                         "of %d records (expected %s): a shard is missing, incomplete "
                         "or out of order" % (counts, n, total, want))
    for k in range(total):
        out.write(shards[k % n][k // n])


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if len(argv) >= 2 else 2
    merge(argv[1:], sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
