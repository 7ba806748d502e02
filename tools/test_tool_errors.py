#!/usr/bin/python3
"""The tools/*.py scripts end in a message and a non-zero exit, never a
traceback, on missing arguments, missing or bad files, or a missing PyTorch
(issue 11 item 25: imdb_split.py without --src in a fresh clone).  Needs no
PyTorch: the torch tools must say they need it, or (with it) fail cleanly on
a missing file.  Run: /usr/bin/python3 tools/test_tool_errors.py"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(args, env=None, stdin=b""):
    p = subprocess.run([sys.executable, os.path.join(HERE, args[0])] + args[1:], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def clean_failure(what, rc, err, *needles):
    assert rc not in (0, None), "%s: exit 0" % what
    assert "Traceback" not in err, "%s: traceback:\n%s" % (what, err)
    for n in needles:
        assert n in err, "%s: %r not in %r" % (what, n, err)


def main():
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, VKB_SHARED=os.path.join(tmp, "no-shared"))
        out = os.path.join(tmp, "split")
        cases = [
            ("imdb_split without --src, no shared data",
             lambda: run(["imdb_split.py", "--out", out], env=env), ["no --src given", "--src FILE"]),
            ("imdb_split --src missing", lambda: run(["imdb_split.py", "--src", os.path.join(tmp, "x"),
                                                      "--out", out]), ["no such file"]),
        ]
        bad = os.path.join(tmp, "bad.jsonl")
        with open(bad, "w") as f:
            f.write(json.dumps({"id": "a", "text": "t", "label": 2}) + "\n")
        cases.append(("imdb_split label 2", lambda: run(["imdb_split.py", "--src", bad, "--out", out]),
                      ["bad.jsonl:1", "label 2"]))
        notgz = os.path.join(tmp, "r.jsonl.gz")
        with open(notgz, "w") as f:
            f.write("not gzip\n")
        cases.append(("imdb_split not gzip", lambda: run(["imdb_split.py", "--src", notgz, "--out", out]),
                      ["r.jsonl.gz"]))
        cases.append(("bert_basic_tokenizer without args", lambda: run(["bert_basic_tokenizer.py"]),
                      ["usage"]))
        cases.append(("bert_basic_tokenizer missing vocab",
                      lambda: run(["bert_basic_tokenizer.py", os.path.join(tmp, "nope.txt")]), ["nope.txt"]))
        cases.append(("wordpiece_vocab missing input",
                      lambda: run(["wordpiece_vocab.py", "--train", os.path.join(tmp, "nope.jsonl"),
                                   "--out", os.path.join(tmp, "v.txt")]), ["nope.jsonl"]))
        # (make_checkpoint.py is not here: its argument is an OUTPUT directory,
        # which it creates, so with numpy installed it rightly exits 0.)
        for tool, args in (("convert_pytorch_bin.py", [os.path.join(tmp, "nodir")]),
                           ("reference_logits.py", [os.path.join(tmp, "nodir")]),
                           ("export_model.py", ["--best", os.path.join(tmp, "nope.pt")]),
                           ("train.py", ["--train", os.path.join(tmp, "nope.jsonl")])):
            cases.append(("%s on a missing file" % tool, lambda t=tool, a=args: run([t] + a), []))
        for what, fn, needles in cases:
            try:
                rc, _, err = fn()
                clean_failure(what, rc, err, *needles)
                print("ok: %s: %s" % (what, err.strip().splitlines()[-1][:160] if err.strip() else ""))
            except AssertionError as e:
                print("FAIL: %s" % e)
                fails += 1
        # and it still works when the data is there
        src = os.path.join(tmp, "imdb.jsonl.gz")
        with gzip.open(src, "wt") as f:
            for i in range(50):
                f.write(json.dumps({"id": "train/%d.txt" % i, "text": "t", "label": i % 2}) + "\n")
        rc, so, err = run(["imdb_split.py", "--src", src, "--out", out])
        if rc != 0 or "dev:" not in so:
            print("FAIL: imdb_split on good data: rc %d %s" % (rc, err))
            fails += 1
        else:
            n = sum(1 for _ in open(os.path.join(out, "train.jsonl"))) + \
                sum(1 for _ in open(os.path.join(out, "dev.jsonl")))
            if n != 50:
                print("FAIL: imdb_split wrote %d of 50 lines" % n)
                fails += 1
    if fails:
        print("%d check(s) failed" % fails)
        return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
