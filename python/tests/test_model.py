"""Tests of the ctypes binding (vkbert.Model) on the committed test
checkpoints (tests/data): struct layouts against the PyTorch reference
logits, tokenizer ids, scores vs logits, order and batching, the HF-style
classify output, errors, lifetime and the numpy-free path.  Needs only
libvkbert.so (VKBERT_LIBRARY); numpy is optional; the GPU part runs when a
Vulkan device exists."""
import json
import math
import re
import os
import subprocess
import sys

from _util import REPO, library_or_exit, run, skip

vkbert = library_or_exit()
TINY = os.path.join(REPO, "tests", "data", "tiny-f32")
ODD = os.path.join(REPO, "tests", "data", "odd-f16")  # 3 labels, F16 weights
try:
    import numpy as np
except ImportError:
    np = None

TEXTS = ["the movie was good", "bad boring plot", "", "great fun film but the acting was not good",
         "Love it!!! " * 40, "hate", "the story is very boring and the scene ... " * 5]


def vocab_ids(words):
    with open(os.path.join(TINY, "vocab.txt")) as f:
        vocab = {w.rstrip("\n"): i for i, w in enumerate(f)}
    return [vocab[w] for w in words]


def maxdiff(a, b):
    return max(abs(float(x) - float(y)) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def test_reference_logits():
    # Scoring ids through the binding must reproduce the independent PyTorch
    # reference: this checks the ctypes struct layouts end to end.
    for d, tol in ((TINY, 1e-4), (ODD, 1e-4)):
        ref = json.load(open(os.path.join(d, "reference.json")))
        with vkbert.Model(d, device="cpu") as m:
            for bt in ref["batches"]:
                B, L = bt["B"], bt["L"]
                seqs = [bt["ids"][b * L:b * L + bt["lens"][b]] for b in range(B)]
                got = m.logits_from_ids(seqs)
                want = [bt["logits"][b * m.n_labels:(b + 1) * m.n_labels] for b in range(B)]
                assert len(got) == B
                e = maxdiff(got, want)
                assert e <= tol, "%s: logits differ from reference by %g" % (d, e)


def test_structs_match_header():
    # The ctypes structs must list vkbert.h's fields in the same order (a
    # field added to the header and not here shifts or truncates the layout
    # C sees).  Types are checked by the reference-logits test end to end.
    from vkbert import _lib
    # vkbert.h gathers the public header of each layer (vkbert_<layer>.h)
    top = os.path.join(REPO, "host", "vkbert.h")
    hdr = open(top).read()
    for inc in re.findall(r'#include "(vkbert_\w+\.h)"', hdr):
        hits = [os.path.join(d, inc) for d, _, fs in os.walk(REPO) if inc in fs and "build" not in d]
        assert len(hits) == 1, "%s: %s" % (inc, hits)
        hdr += open(hits[0]).read()
    hdr = re.sub(r"/\*.*?\*/", "", hdr, flags=re.S)
    for cname, py in (("vkb_config", _lib.vkb_config), ("vkb_backend_opts", _lib.vkb_backend_opts),
                      ("vkb_vulkan_opts", _lib.vkb_vulkan_opts),
                      ("vkb_scorer_opts", _lib.vkb_scorer_opts), ("vkb_score", _lib.vkb_score),
                      ("vkb_error", _lib.vkb_error), ("vkb_default_values", _lib.vkb_default_values),
                      ("vkb_st_pooling", _lib.vkb_st_pooling)):
        m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (cname, cname), hdr, re.S)
        assert m, "%s not found in vkbert.h" % cname
        names = []
        for decl in m.group(1).split(";"):
            decl = decl.strip()
            if not decl:
                continue
            f = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", decl)  # function pointer
            if f:
                names.append(f.group(1))
            else:
                for part in decl.split(","):
                    names.append(re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", part.strip()).group(1))
        want = [n for n, _ in py._fields_]
        assert names == want, "%s: vkbert.h has %s, the binding %s" % (cname, names, want)


def test_config_labels_device():
    with vkbert.Model(TINY, device="cpu", threads=1) as m:
        assert m.labels == ["NEGATIVE", "POSITIVE"], m.labels
        assert m.n_labels == 2 and m.config["dim"] == 32 and m.config["max_pos"] == 64
        assert m.max_len == 64  # max_len=512 clipped to model_max_length
        assert "CPU" in m.device, m.device
        # the defaults are the library's (vkb_defaults), as in the CLI
        from vkbert import _lib
        d = _lib.lib().vkb_defaults().contents
        assert (d.max_len, d.batch_tokens, d.max_tokens, d.window) == (512, 8192, 16384, 2048)
        assert m.batch_tokens == d.batch_tokens and m._sopts["window"] == d.window, m._sopts
    with vkbert.Model(TINY, device="cpu", max_len=40, batch_tokens=100, window=7) as m:
        assert (m.max_len, m.batch_tokens, m._sopts["window"]) == (40, 100, 7)
    with vkbert.Model(TINY, device="cpu", max_len=10 ** 12) as m:
        assert m.max_len == 64  # clipped to max_position_embeddings
    with vkbert.Model(ODD, device="cpu") as m:
        assert m.n_labels == 3 and len(m.labels) == 3


def test_tokenize():
    with vkbert.Model(TINY, device="cpu") as m:
        ids = m.tokenize("The movie was GOOD")
        assert ids == [2] + vocab_ids(["the", "movie", "was", "good"]) + [3], ids
        assert m.convert_ids_to_tokens(ids) == ["[CLS]", "the", "movie", "was", "good", "[SEP]"]
        assert m.tokenize("") == [2, 3]
        long = m.tokenize("good " * 100)
        assert len(long) == 64 and long[0] == 2 and long[-1] == 3
        assert len(m.tokenize("good " * 100, max_len=8)) == 8
        assert m.tokenize(b"good") == m.tokenize("good")
        # Invalid UTF-8 and lone surrogates are tolerated, not fatal.
        assert m.tokenize(b"good \xff\xfe bad")[0] == 2
        assert m.tokenize("good \udcff bad")[-1] == 3


def test_score_matches_logits():
    with vkbert.Model(TINY, device="cpu") as m:
        lg = m.logits(TEXTS)
        res = m.score(TEXTS, all_scores=True, with_logits=True)
        assert len(res) == len(TEXTS)
        for i, r in enumerate(res):
            row = [float(v) for v in lg[i]]
            assert r["logits"] == row  # same run, same numbers
            z = [math.exp(v - max(row)) for v in row]
            p = [v / sum(z) for v in z]
            best = max(range(2), key=lambda k: (row[k], -k))
            assert r["label"] == m.labels[best]
            assert abs(r["score"] - p[best]) < 1e-6
            assert abs(sum(r["scores"].values()) - 1) < 1e-6
            assert r["scores"][r["label"]] == r["score"]
            assert r["n_tokens"] == len(m.tokenize(TEXTS[i]))
        # A single string counts as one text (scored alone: the same bits as
        # in the batch above).
        one = m.score(TEXTS[0])
        assert len(one) == 1 and set(one[0]) == {"label", "score", "n_tokens"}
        assert one[0]["label"] == res[0]["label"] and one[0]["score"] == res[0]["score"]


def test_reduced_precision():
    # precision="bf16" / "int8": the CPU's linear layers on oneDNN (fp32
    # where the CPU lacks the instructions); logits near fp32's (tolerances
    # of `vkbert check` on these checkpoints), same labels.
    with vkbert.Model(TINY, device="cpu") as m:
        ref = m.logits(TEXTS)
    for p, tol in (("bf16", 0.15), ("int8", 0.25)):
        with vkbert.Model(TINY, device="cpu", precision=p) as m:
            got = m.logits(TEXTS)
        e = maxdiff(got, ref)
        assert e <= tol, "%s: logits differ from fp32 by %g" % (p, e)
        for a, b in zip(got, ref):
            assert max(range(2), key=lambda k: a[k]) == max(range(2), key=lambda k: b[k])


def test_precision_fallback_note():
    # bf16 / int8 where oneDNN lacks the instructions (capped at AVX2 by its
    # own ONEDNN_MAX_CPU_ISA, read once per process: hence a subprocess):
    # fp32 with the backend's note as Model.note and a vkbert.Note warning,
    # logits identical to fp32.  Without the fallback, no note, no warning.
    code = r"""if 1:
        import sys, warnings, vkbert
        texts = %r
        with vkbert.Model(%r, device="cpu") as m:
            ref = m.logits(texts)
            assert m.note == "", m.note
        for p, lacks in (("bf16", "AVX512-BF16"), ("int8", "VNNI")):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                m = vkbert.Model(%r, device="cpu", precision=p)
            with m:
                assert "--precision %%s needs %%s" %% (p, lacks) in m.note and "running fp32" in m.note, m.note
                notes = [x for x in w if issubclass(x.category, vkbert.Note)]
                assert len(notes) == 1 and m.note in str(notes[0].message), [str(x.message) for x in w]
                assert notes[0].filename == "<string>", notes[0].filename  # the caller's line
                got = m.logits(texts)
                assert [list(r) for r in got] == [list(r) for r in ref], (p, got, ref)
        print("fallback ok")
    """ % (TEXTS, TINY, TINY)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"), ONEDNN_MAX_CPU_ISA="AVX2")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "fallback ok" in r.stdout, r.stdout + r.stderr
    # natively (this machine's CPU; elsewhere it falls back, as above)
    import warnings
    for p in ("bf16", "int8"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m = vkbert.Model(TINY, device="cpu", precision=p)
        with m:
            assert bool(m.note) == any(issubclass(x.category, vkbert.Note) for x in w), (m.note, w)
            assert ("oneDNN" in m.device) != bool(m.note), (m.device, m.note)


def test_order_and_batching():
    # Results come back in input order whatever the batching: each text
    # alone, all together, and in tiny token budgets (many batches, length-
    # sorted windows of 3).  In both modes the CPU path computes a sequence
    # the same way in any batch, so the logits are identical (fp32 too: its
    # GEMM sums every output in one fixed order).
    texts = [TEXTS[i % len(TEXTS)] + " good" * (i % 9) for i in range(40)]
    for fp64, tol in ((True, 0.0), (False, 0.0)):
        with vkbert.Model(TINY, device="cpu", fp64_accum=fp64) as m:
            alone = [list(m.logits([t])[0]) for t in texts]
            together = m.logits(texts)
        with vkbert.Model(TINY, device="cpu", fp64_accum=fp64, batch_tokens=64, window=3) as m:
            small = m.logits(texts)
        e1, e2 = maxdiff(alone, together), maxdiff(alone, small)
        assert e1 <= tol and e2 <= tol, "fp64=%s: batching changes logits by %g / %g" % (fp64, e1, e2)


def test_classify_pipeline_style():
    with vkbert.Model(ODD, device="cpu") as m:
        one = m.classify("good film")
        assert isinstance(one, list) and len(one) == 1 and set(one[0]) == {"label", "score"}
        many = m.classify(["good film", "bad", "x"])
        assert len(many) == 3 and all(isinstance(d, dict) for d in many)
        full = m.classify(["good film", "bad"], top_k=None)
        assert len(full) == 2 and all(len(x) == 3 for x in full)
        for x in full:
            s = [d["score"] for d in x]
            assert s == sorted(s, reverse=True) and abs(sum(s) - 1) < 1e-5
        # the CPU path computes a sequence the same way whatever its batch
        # (to the bit)
        assert many[0]["label"] == full[0][0]["label"]
        assert many[0]["score"] == full[0][0]["score"]
        assert len(m.classify("good", top_k=2)) == 2
        assert m.score("good film")[0]["label"] == one[0]["label"]


def test_numpy_and_empty():
    with vkbert.Model(TINY, device="cpu") as m:
        lg = m.logits(["good", "bad"])
        if np is not None:
            assert isinstance(lg, np.ndarray) and lg.dtype == np.float32 and lg.shape == (2, 2)
        assert m.score([]) == []
        assert len(m.logits([])) == 0


def test_without_numpy():
    # numpy is optional: logits() falls back to lists of lists.
    code = ("import sys; sys.modules['numpy'] = None; import vkbert; "
            "m = vkbert.Model(%r, device='cpu'); l = m.logits(['good', 'bad']); "
            "assert isinstance(l, list) and len(l) == 2 and len(l[0]) == 2, l; "
            "print(l)" % TINY)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_errors():
    for path, needle in (("/nonexistent/model", "/nonexistent/model"),
                         (os.path.join(REPO, "tests", "data"), "config.json")):
        try:
            vkbert.Model(path, device="cpu")
            raise AssertionError("loading %s did not fail" % path)
        except vkbert.Error as e:
            assert needle in str(e), str(e)
    try:
        vkbert.Model(TINY, device="tpu")
        raise AssertionError("device tpu accepted")
    except vkbert.Error as e:
        assert "tpu" in str(e), str(e)
    try:
        vkbert.Model(TINY, device="cpu", precision="fp8")
        raise AssertionError("precision fp8 accepted")
    except ValueError:
        pass
    # options out of range or of the wrong type are refused, not taken silently
    for kw in (dict(threads=-3), dict(window=0), dict(tokenizer_threads=-1), dict(max_len=1),
               dict(max_len=-1), dict(max_len=True), dict(batch_tokens=-1), dict(threads=1.5)):
        try:
            vkbert.Model(TINY, device="cpu", **kw)
            raise AssertionError("Model(%s) accepted" % kw)
        except (ValueError, TypeError) as e:
            assert list(kw)[0] in str(e), str(e)
    m = vkbert.Model(TINY, device="cpu")
    for k in (0, -2, "3"):
        try:
            m.classify(["a"], top_k=k)
            raise AssertionError("classify top_k=%r accepted" % (k,))
        except (ValueError, TypeError) as e:
            assert "top_k" in str(e), str(e)
    try:
        m.score_lines(['{"text": "a"}'], top_k=-5)
        raise AssertionError("score_lines top_k=-5 accepted")
    except ValueError:
        pass
    try:
        m.logits_from_ids([[2, 100000, 3]])
        raise AssertionError("out-of-vocabulary id accepted")
    except vkbert.Error as e:
        assert "100000" in str(e), str(e)
    try:
        m.score([1234])
        raise AssertionError("non-text accepted")
    except TypeError:
        pass
    m.close()
    m.close()  # idempotent
    try:
        m.score(["good"])
        raise AssertionError("closed model scored")
    except vkbert.Error as e:
        assert "closed" in str(e)


def test_gpu_matches_cpu():
    # On a Vulkan device (lavapipe in CI) the binding gives the CPU
    # reference's results within fp32 tolerance.
    try:
        g = vkbert.Model(TINY, device="gpu", validation=os.environ.get("VKB_VALIDATION") == "1")
    except vkbert.Error as e:
        skip("no Vulkan device: %s" % e)
    with g, vkbert.Model(TINY, device="cpu", fp64_accum=True) as c:
        e = maxdiff(g.logits(TEXTS), c.logits(TEXTS))
        assert e <= 1e-4, "gpu (%s) differs from cpu by %g" % (g.device, e)
        assert [r["label"] for r in g.score(TEXTS)] == [r["label"] for r in c.score(TEXTS)]


if __name__ == "__main__":
    run(dict(globals()))
