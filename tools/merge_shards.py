#!/usr/bin/env python3
"""Merge the outputs of `vkbert score --shard I/N -o FILE` back into input order.

usage: merge_shards.py SHARD_FILE... > merged.jsonl

Shard I holds, in input order, the lines for input records k with
k mod N == I (k counts parsed records from 0, error lines included), so
record k is line k // N of shard I = k % N.  Each shard must have been
written with -o FILE: the run record FILE.vkbert.json beside it names the
shard I/N, the options, fingerprints of the input, the input's record count
and FILE's line count.  The files may be given in any order (a shell glob
puts part.10 before part.2); the merge sorts them by I and refuses, rather
than merging wrongly: a missing, duplicated or unfinished shard, shards of
different N, inputs or options, a shard whose line count is not the one its
run record and the record count call for, or a file without a run record.
Arguments ending in .vkbert.json (the run records themselves, as a glob
such as part.* also lists them) are ignored.  Needs only the standard library.
"""
import json
import os
import sys

# run record fields every shard must share (all but "shard", "output" and
# the counts)
SAME = ("model", "format", "text_column", "label_column", "max_len", "precision",
        "all_scores", "logits", "input", "records")


def fail(msg):
    raise SystemExit("merge_shards: " + msg)


def load(path):
    rec_path = path + ".vkbert.json"
    try:
        with open(rec_path, "rb") as f:
            rec = json.load(f)
    except FileNotFoundError:
        fail("%s has no run record %s: write each shard with "
             "vkbert score --shard I/N -o FILE so that the merge can be checked"
             % (path, rec_path))
    except ValueError as e:
        fail("%s: not a valid run record (%s)" % (rec_path, e))
    if not isinstance(rec, dict) or not isinstance(rec.get("shard"), list) or len(rec["shard"]) != 2:
        fail("%s: not a vkbert run record" % rec_path)
    if rec.get("complete") is not True:
        fail("%s is not finished (its run was interrupted or failed): complete it with "
             "vkbert score --shard %d/%d -o %s --resume ..." % (path, rec["shard"][0],
                                                               rec["shard"][1], path))
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        fail("%s ends with an incomplete line (finish it with vkbert score --resume)" % path)
    lines = data.splitlines(keepends=True)
    if len(lines) != rec.get("lines"):
        fail("%s has %d lines but its run record says %s: the file was changed after the run"
             % (path, len(lines), rec.get("lines")))
    return rec, lines


def merge(paths, out):
    paths = [p for p in paths if not p.endswith(".vkbert.json")]
    if not paths:
        fail("no shard files given")
    shards = [(p,) + load(p) for p in paths]
    p0, r0, _ = shards[0]
    n = r0["shard"][1]
    by_i = {}
    for p, r, lines in shards:
        i, ni = r["shard"]
        if ni != n:
            fail("%s is shard %d/%d but %s is shard %d/%d: shards of different runs"
                 % (p, i, ni, p0, r0["shard"][0], n))
        for k in SAME:
            if r.get(k) != r0.get(k):
                fail("%s and %s differ in %s (%s vs %s): shards of different runs"
                     % (p, p0, k, json.dumps(r.get(k)), json.dumps(r0.get(k))))
        if i in by_i:
            fail("shard %d/%d given twice (%s and %s)" % (i, n, by_i[i][0], p))
        by_i[i] = (p, lines)
    missing = [i for i in range(n) if i not in by_i]
    if missing:
        fail("shard(s) %s of %d missing" % (", ".join("%d/%d" % (i, n) for i in missing), n))
    total = r0["records"]
    for i in range(n):
        p, lines = by_i[i]
        want = (total - i + n - 1) // n if total > i else 0
        if len(lines) != want:
            fail("%s (shard %d/%d) has %d lines, expected %d of %d records"
                 % (p, i, n, len(lines), want, total))
    for k in range(total):
        out.write(by_i[k % n][1][k // n])


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if len(argv) >= 2 else 2
    try:
        merge(argv[1:], sys.stdout.buffer)
    except OSError as e:
        fail(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
