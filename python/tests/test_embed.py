"""Tests of sentence embeddings through the binding (Model.embed,
embed_from_ids, embed_lines) and the Dask recipe (vkbert.dask.embed_files):
values against the PyTorch reference (tests/data/<m>/embeddings.json,
tools/reference_embeddings.py) within 1e-4 in fp32 on the CPU path and
lavapipe and 2e-2 in fp16; sentence-transformers defaults (tests/data/base-st:
cls + Normalize); lines byte for byte what `vkbert embed` writes."""
import json
import os
import subprocess
import tempfile

from _util import REPO, library_or_exit, run, skip

vkbert = library_or_exit()
DATA = os.path.join(REPO, "tests", "data")
BASE, TINY, ST = (os.path.join(DATA, d) for d in ("base-f32", "tiny-f32", "base-st"))
TEXTS = ["the movie was good", "bad boring plot", "", "great fun film but the acting was not good",
         "Love it!!! " * 40, "hate"]
try:
    import numpy as np
except ImportError:
    np = None


def maxdiff(a, b):
    return max(abs(float(x) - float(y)) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def check_reference(m, d, tol):
    ref = json.load(open(os.path.join(d, "embeddings.json")))
    D = ref["dim"]
    assert m.dim == D
    worst = 0
    for bt in ref["batches"]:
        B, L = bt["B"], bt["L"]
        seqs = [bt["ids"][b * L:b * L + bt["lens"][b]] for b in range(B)]
        for mode in ("mean", "cls", "max"):
            for nz in (False, True):
                got = m.embed_from_ids(seqs, pooling=mode, normalize=nz)
                flat = bt[mode + ("_normalized" if nz else "")]
                want = [flat[b * D:(b + 1) * D] for b in range(B)]
                e = maxdiff(got, want)
                assert e <= tol, "%s on %s: %s%s differs from PyTorch by %g" % (
                    d, m.device, mode, " normalized" if nz else "", e)
                worst = max(worst, e)
    return worst


def test_reference_cpu():
    for d in (BASE, TINY):
        with vkbert.Model(d, device="cpu") as m:
            check_reference(m, d, 1e-4)


def test_reference_gpu():
    val = os.environ.get("VKB_VALIDATION") == "1"
    for prec, tol in (("fp32", 1e-4), ("fp16", 2e-2)):
        for d in (BASE, TINY):
            try:
                m = vkbert.Model(d, device="gpu", precision=prec, validation=val)
            except vkbert.Error as e:
                skip("no Vulkan device: %s" % e)
            with m:
                check_reference(m, d, tol)


def test_embed_defaults_and_shapes():
    with vkbert.Model(BASE, device="cpu") as m:
        assert (m.default_pooling, m.default_normalize) == ("mean", False)
        e = m.embed(TEXTS)
        if np is not None:
            assert e.shape == (len(TEXTS), 24) and e.dtype == np.float32
        assert maxdiff(e, m.embed(TEXTS, pooling="mean", normalize=False)) == 0
        one = m.embed("the movie was good")
        assert len(one) == 1 and maxdiff(one, e[:1]) == 0
        cls_n = m.embed(TEXTS, pooling="cls", normalize=True)
        for v in cls_n:
            assert abs(sum(float(x) ** 2 for x in v) - 1) < 1e-5
        try:
            m.embed(TEXTS, pooling="avg")
            raise AssertionError("pooling avg accepted")
        except ValueError:
            pass
        assert len(m.embed([])) == 0
    with vkbert.Model(ST, device="cpu") as st, vkbert.Model(BASE, device="cpu") as b:
        assert (st.default_pooling, st.default_normalize) == ("cls", True)
        assert maxdiff(st.embed(TEXTS), b.embed(TEXTS, pooling="cls", normalize=True)) == 0
    with vkbert.Model(TINY, device="cpu") as m:  # the encoder of a classifier
        assert len(m.embed(TEXTS)[0]) == 32


def test_embed_lines_match_cli():
    bin_ = os.environ.get("VKBERT_BIN") or os.path.join(REPO, "build", "vkbert")
    if not os.path.exists(bin_):
        skip("no vkbert binary")
    lines = [json.dumps({"id": i, "text": t}) for i, t in enumerate(TEXTS)]
    lines.insert(2, '{"id": 99, "text": ')  # an error line
    lines.append('{"id":7,"text":"good","embedding":1}')
    inp = "\n".join(lines) + "\n"
    for model, opts, kw in ((ST, [], {}), (BASE, ["--pooling", "max", "--normalize"],
                                           {"pooling": "max", "normalize": True})):
        cli = subprocess.run([bin_, "embed", "--model", model, "--device", "cpu", "--quiet"] + opts,
                             input=inp.encode(), stdout=subprocess.PIPE)
        assert cli.returncode == 1  # the error line
        with vkbert.Model(model, device="cpu") as m:
            got = "".join(x + "\n" for x in m.embed_lines(lines, **kw))
        assert got.encode() == cli.stdout, (got, cli.stdout)


def test_dask_embed_files():
    try:
        import dask  # noqa: F401
        import vkbert.dask as vd
    except ImportError as e:
        skip("no dask: %s" % e)
    bin_ = os.environ.get("VKBERT_BIN") or os.path.join(REPO, "build", "vkbert")
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "in.jsonl")
        with open(src, "w") as f:
            for i, x in enumerate(TEXTS * 3):
                f.write(json.dumps({"id": i, "text": x}) + "\n")
        parts = vd.embed_files(src, os.path.join(t, "out"), path=ST, device="cpu",
                               compute_kwargs={"scheduler": "sync"})
        got = b"".join(open(p, "rb").read() for p in sorted(parts))
        cli = subprocess.run([bin_, "embed", "--model", ST, "--device", "cpu", "--quiet", src],
                             stdout=subprocess.PIPE, check=True)
        assert got == cli.stdout


if __name__ == "__main__":
    run(dict(globals()))
