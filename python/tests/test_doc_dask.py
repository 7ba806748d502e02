"""docs/python.md's Dask example, run as written, and the one output
contract: the Dask/Python output lines are byte for byte what `vkbert score`
writes for the same input.

1. The first ```python block of "## Batch scoring on Dask" is written to a
   script and run, unchanged, in a directory holding reviews/*.jsonl.gz (a
   small synthetic set) and models/default (a link to the built-in model);
   `cat scored/part-*.jsonl` must equal `vkbert score` on the same records.
2. Model.score_lines and vkbert.dask.score_bag on records with every kind of
   pass-through field, a record without text, invalid JSON and blank lines,
   with --all-scores --logits --top-k all: byte-identical to `vkbert score`.
3. Several files: error lines carry "file" as `vkbert score FILE FILE` does.

Bit-identical scores need identical batches: each comparison scores one
file as one partition, which the scorer batches as `vkbert score` does.
Skips (77) without dask/distributed; needs VKBERT_BIN (the CLI)."""
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile

from _util import REPO, SKIP, Skip, require_library

DOC = os.path.join(REPO, "docs", "python.md")
TINY = os.path.join(REPO, "tests", "data", "tiny-f32")


def doc_example():
    text = open(DOC, encoding="utf-8").read()
    sec = text[text.index("## Batch scoring on Dask"):]
    m = re.search(r"```python\n(.*?)```", sec, re.S)
    return m.group(1)


def records(n, seed):
    import random
    rnd = random.Random(seed)
    w = "the a movie film great bad good terrible plot acting was not very fun boring".split()
    out = []
    for i in range(n):
        r = {"id": "train/%d_%d.txt" % (seed, i),
             "text": " ".join(rnd.choice(w) for _ in range(rnd.randint(1, 40)))}
        if i % 3 == 0:
            r["label"] = i % 2
        if i % 5 == 0:
            r["meta"] = {"stars": [i, None, True], "lang": "fr \u00e9t\u00e9 \u2603"}
        out.append(json.dumps(r, ensure_ascii=i % 2 == 0) + "\n")
    return out


def cli(vkbert_bin, args, cwd=None):
    p = subprocess.run([vkbert_bin, "score", "--quiet"] + args, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode in (0, 1), p.stderr.decode()
    return p.stdout


def main():
    try:
        import dask  # noqa: F401
        import dask.bag as db
        import distributed  # noqa: F401
    except ImportError as e:
        print("SKIP: dask/distributed not installed (%s)" % e)
        return SKIP
    try:
        vkbert = require_library()
    except Skip as e:
        print("SKIP: %s" % e)
        return SKIP
    import vkbert.dask as vd
    vkbert_bin = os.environ.get("VKBERT_BIN", os.path.join(REPO, "build", "vkbert"))
    if not os.access(vkbert_bin, os.X_OK):
        print("SKIP: no vkbert binary at %s (set VKBERT_BIN)" % vkbert_bin)
        return SKIP
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "python")] +
                                        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]  # for the workers of part 2

    with tempfile.TemporaryDirectory() as tmp:
        # ---- 1. the documented example, as written
        os.makedirs(os.path.join(tmp, "reviews"))
        os.makedirs(os.path.join(tmp, "models"))
        os.symlink(os.path.join(REPO, "models", "default"), os.path.join(tmp, "models", "default"))
        lines = records(30, 1)
        with gzip.open(os.path.join(tmp, "reviews", "part-0.jsonl.gz"), "wt", encoding="utf-8") as f:
            f.writelines(lines)
        with open(os.path.join(tmp, "plain.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(lines)
        with open(os.path.join(tmp, "example.py"), "w", encoding="utf-8") as f:
            f.write(doc_example())
        p = subprocess.run([sys.executable, "example.py"], cwd=tmp, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
        assert p.returncode == 0, "the docs/python.md example failed:\n" + p.stdout.decode()[-3000:]
        parts = sorted(os.listdir(os.path.join(tmp, "scored")))
        got = b"".join(open(os.path.join(tmp, "scored", q), "rb").read() for q in parts)
        want = cli(vkbert_bin, ["--model", "models/default", "plain.jsonl"], cwd=tmp)
        assert got == want, "doc example output differs from vkbert score:\n%s\n---\n%s" % (
            got[:600], want[:600])
        first = json.loads(got.split(b"\n")[0])
        assert list(first)[:1] == ["id"] and "label" in first and "score" in first, first
        print("ok: the docs/python.md Dask example runs as written; %d lines == vkbert score"
              % got.count(b"\n"))

        # ---- 2. every pass-through field, errors, blank lines, all options
        odd = records(12, 2) + [
            '{"id": 7, "review": "no text field"}\n', "\n", "   \n", "{not json\n",
            '{"text": "x", "score": 3, "scores": [1], "top_k": 2, "logits": null, "error": 0}\n',
            '{"text": 5}\n', '["a list"]\n', '{"id": {"nested": [1, 2.5e-3, "\\u00e9"]}, "text": "ok"}\n',
            '{"id": 1234567890123456789, "n": 0.30000000000000004, "text": "big numbers"}\n']
        path = os.path.join(tmp, "odd.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(odd)
        opts = ["--model", TINY, "--device", "cpu", "--threads", "1"]
        for flags, kw in (([], {}),
                          (["--all-scores", "--logits", "--top-k", "all"],
                           dict(all_scores=True, with_logits=True, top_k="all"))):
            want = cli(vkbert_bin, opts + flags + [path])
            with vkbert.Model(TINY, device="cpu", threads=1) as m:
                got = "".join(l + "\n" for l in m.score_lines(
                    open(path, encoding="utf-8").read().split("\n")[:-1], **kw)).encode()
            assert got == want, "Model.score_lines %s differs:\n%s\n---\n%s" % (flags, got, want)
            bag = db.read_text(path, linedelimiter="\n")
            res = vd.score_bag(bag, path=TINY, device="cpu", threads=1, **kw).compute(
                scheduler="sync")
            got = "".join(l + "\n" for l in res).encode()
            assert got == want, "score_bag %s differs:\n%s\n---\n%s" % (flags, got, want)
        assert b'"input_score":3' in want and b'"error":"missing \\"text\\" field' in want, want
        print("ok: Model.score_lines and score_bag == vkbert score, byte for byte")

        # ---- 3. several files: "file" on error lines, as vkbert score FILE FILE
        bad = [os.path.join(tmp, "bad%d.jsonl" % i) for i in range(2)]
        for i, b in enumerate(bad):
            with open(b, "w") as f:
                f.write('{"id": %d, "text": "a"}\n{"id": %d, "txt": "a"}\n{oops\n' % (i, i))
        want = cli(vkbert_bin, opts + bad)
        outd = os.path.join(tmp, "scored_bad")
        vd.score_files(bad, outd, path=TINY, device="cpu", threads=1,
                       compute_kwargs={"scheduler": "sync"})
        got = b"".join(open(os.path.join(outd, q), "rb").read() for q in sorted(os.listdir(outd)))
        assert got == want, "several files:\n%s\n---\n%s" % (got, want)
        assert got.count(b'"file":') == 4, got
        print("ok: several files: error lines name the file as vkbert score does")
    return 0


if __name__ == "__main__":  # the guard matters: worker processes are spawned
    sys.exit(main())
