"""vkbert.Model: a DistilBERT classifier on a Vulkan GPU or the CPU reference.

Scoring goes through the library's batch scorer (vkb_scorer_* in vkbert.h):
texts are tokenized by C threads, grouped by length into batches of at most
`batch_tokens` padded tokens, run on the backend and delivered back in input
order.  A Model owns one backend; calls on it from several Python threads are
serialized by a lock (the backend is single-user), and the GIL is released
while C works.
"""
import ctypes
import os
import threading
import warnings

from . import _lib
from ._lib import Error

try:  # numpy is optional: logits() returns lists of lists without it
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the installation
    _np = None

DEVICES_HELP = ('device must be "auto", "cpu", "gpu" (the best Vulkan device) or "gpu:N"')


def default_model_path():
    """The built-in model: <repo>/models/default."""
    return os.path.join(_lib.repo_root(), "models", "default")


def _encode(text):
    if isinstance(text, bytes):
        return text
    if not isinstance(text, str):
        raise TypeError("texts must be str or bytes, not %s" % type(text).__name__)
    # Lone surrogates (possible in JSON input) pass through as invalid UTF-8,
    # which the tokenizer tolerates like HF does with replacement.
    return text.encode("utf-8", "surrogatepass")


def _int_opt(name, v, lo, none_ok=False):
    """An integer option >= lo (bool and float refused: max_len=True or
    threads=-3 would otherwise be taken silently)."""
    if v is None and none_ok:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s must be an int%s, not %r" % (name, " or None" if none_ok else "", v))
    if v < lo:
        raise ValueError("%s must be at least %d, got %d" % (name, lo, v))
    return v


def _encode_line(line):
    # A line read as text with errors="surrogateescape" gets its raw bytes
    # back, so invalid UTF-8 reaches the library as `vkbert score` reads it.
    if not isinstance(line, str):
        raise TypeError("lines must be str or bytes, not %s" % type(line).__name__)
    return line.encode("utf-8", "surrogateescape")


class Model:
    """A model directory (HF DistilBertForSequenceClassification layout)
    loaded on a device.

    path:         model directory; None = the built-in models/default
    device:       "auto" (a hardware Vulkan GPU if there is one, else the CPU
                  reference, which is faster than a CPU Vulkan such as
                  lavapipe), "gpu" (best Vulkan device), "gpu:N" or "cpu"
    precision:    GPU storage: None/"auto", "fp32" or "fp16"; CPU linear
                  layers: "bf16" or "int8" (fp32 where the CPU lacks the
                  instructions: then `note` says so, and opening warns it
                  as a vkbert.Note)
    max_len:      truncate inputs to this many ids (clipped to the model's
                  max_position_embeddings); None = the library's default
                  (512) clipped to the tokenizer's model_max_length too
    batch_tokens: padded tokens (B*L) per forward; None = the library's
                  default (8192)
    threads:      CPU backend threads (0 = all cores)
    fp64_accum:   CPU backend: accumulate in double (the verification
                  mode), at a cost in speed.  Results then do not depend on
                  how inputs are batched (bit for bit); in fp32 neither
                  (bit for bit too).
    tokenizer_threads: C threads tokenizing ahead of the backend
    validation:   Vulkan: enable the Khronos validation layer
    """

    def __init__(self, path=None, device="auto", precision=None, max_len=None,
                 batch_tokens=None, threads=0, fp64_accum=False,
                 tokenizer_threads=1, window=None, validation=False):
        self._model = None
        self._be = None
        self._lock = threading.Lock()
        if precision not in _lib.PRECISIONS:
            raise ValueError('precision must be None, "auto", "fp32", "fp16", "bf16" or "int8", not %r'
                             % (precision,))
        if not isinstance(device, str):
            raise TypeError(DEVICES_HELP)
        max_len = _int_opt("max_len", max_len, 2, none_ok=True)
        batch_tokens = _int_opt("batch_tokens", batch_tokens, 2, none_ok=True)
        threads = _int_opt("threads", threads, 0)
        tokenizer_threads = _int_opt("tokenizer_threads", tokenizer_threads, 1)
        window = _int_opt("window", window, 1, none_ok=True)
        self.path = os.fspath(path) if path is not None else default_model_path()
        self._L = L = _lib.lib()
        err = _lib.vkb_error()
        m = ctypes.c_void_p()
        _lib.check(L.vkb_model_load(os.fsencode(self.path), ctypes.byref(m),
                                    ctypes.byref(err)), err)
        self._model = m
        cfg = L.vkb_model_config(m).contents
        self.n_labels = cfg.n_labels
        self.dim = cfg.dim
        st = L.vkb_model_st_pooling(m).contents
        # embed()'s defaults: the sentence-transformers files, else mean
        self.default_pooling = {1: "mean", 2: "cls", 3: "max"}[st.pooling] if st.present else "mean"
        self.default_normalize = bool(st.present and st.normalize)
        self.max_pos = cfg.max_pos
        self.vocab_size = cfg.vocab_size
        self.pad_token_id = cfg.pad_token_id
        self.labels = [(cfg.labels[i].decode("utf-8", "replace")
                        if cfg.labels and cfg.labels[i] else "LABEL_%d" % i)
                       for i in range(cfg.n_labels)]
        self.config = {k: getattr(cfg, k) for k, _ in _lib.vkb_config._fields_ if k != "labels"}
        self.config["labels"] = list(self.labels)
        self._tok = L.vkb_model_tokenizer(m)
        # The scorer's clipping (vkb_model_max_len), so that tokenize()
        # shows exactly the ids that score() runs; defaults: vkb_defaults().
        defaults = L.vkb_defaults().contents
        self.max_len = L.vkb_model_max_len(m, min(max_len or 0, cfg.max_pos))
        if batch_tokens is None:
            batch_tokens = defaults.batch_tokens
        if window is None:
            window = defaults.window
        self.batch_tokens = max(int(batch_tokens), self.max_len)
        self._sopts = dict(max_len=self.max_len, batch_tokens=self.batch_tokens,
                           window=int(window), threads=int(tokenizer_threads))
        opts = _lib.vkb_backend_opts(device=device.encode(),
                                     precision=_lib.PRECISIONS[precision],
                                     threads=int(threads), fp64_accum=int(bool(fp64_accum)),
                                     max_tokens=self.batch_tokens, max_len=self.max_len,
                                     validation=int(bool(validation)))
        be = ctypes.c_void_p()
        try:
            _lib.check(L.vkb_backend_create(m, ctypes.byref(opts), ctypes.byref(be),
                                            ctypes.byref(err)), err)
        except Error:
            self.close()
            raise
        self._be = be
        self.device = L.vkb_backend_device(be).decode("utf-8", "replace")
        self.device_request = device
        # "" or what the backend does otherwise than asked (the note the CLI
        # prints), e.g. bf16/int8 run as fp32 on a CPU without the instructions
        self.note = (L.vkb_backend_note(be) or b"").decode("utf-8", "replace")
        if self.note:
            warnings.warn("vkbert: " + self.note, _lib.Note, stacklevel=2)

    # ---- lifetime -------------------------------------------------------
    def close(self):
        """Frees the backend and the model; later calls raise Error."""
        with self._lock:
            if self._be:
                self._L.vkb_backend_free(self._be)
                self._be = None
            if self._model:
                self._L.vkb_model_free(self._model)
                self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "vkbert.Model(%r, device=%r: %s)" % (self.path, self.device_request,
                                                   self.device if self._be else "closed")

    def __reduce__(self):
        raise TypeError("a vkbert.Model holds C handles and cannot be pickled; "
                        "load it where it is used (vkbert.dask.worker_model on a worker)")

    def _live(self):
        if not self._be:
            raise Error("vkbert.Model is closed")

    # ---- tokenizer ------------------------------------------------------
    def tokenize(self, text, max_len=None):
        """Token ids of a text as the model sees it: [CLS] ... [SEP],
        truncated to max_len (default: the model's) like HF does."""
        self._live()
        if not self._tok:
            raise Error("%s: the model has no tokenizer (vocab.txt)" % self.path)
        n = int(max_len) if max_len else self.max_len
        if n < 2:
            raise ValueError("max_len must be at least 2")
        b = _encode(text)
        ids = (ctypes.c_int32 * n)()
        k = self._L.vkb_tokenize(self._tok, b, len(b), n, ids)
        if k < 0 or k > n:
            raise Error("tokenizer failed (returned %d)" % k)
        return list(ids[:k])

    def convert_ids_to_tokens(self, ids):
        """Token strings of ids (None for an id outside the vocabulary)."""
        self._live()
        out = []
        for i in ids:
            s = self._L.vkb_token_str(self._tok, int(i)) if self._tok else None
            out.append(s.decode("utf-8", "replace") if s is not None else None)
        return out

    # ---- scoring ----------------------------------------------------------
    def _run(self, items, as_ids, pooling=0, normalize=False):
        """Logits of every item (or with pooling, a vkb_pooling value, its
        embedding), in order, as a flat ctypes float array, and the number
        of ids each item had after truncation."""
        n, nl = len(items), (self.dim if pooling else self.n_labels)
        buf = (ctypes.c_float * max(n * nl, 1))()
        ntok = [0] * n
        got = [0]
        if n == 0:
            return buf, ntok
        L = self._L
        fail = []
        row_bytes = nl * ctypes.sizeof(ctypes.c_float)
        base = ctypes.addressof(buf)

        def on_result(_ctx, sp):  # runs on the scorer's C thread (holds the GIL)
            try:
                s = sp.contents
                i = s.index
                v, k = (s.embedding, s.dim) if pooling else (s.logits, s.n_labels)
                if not v or k != nl or i >= n:
                    raise Error("scorer delivered an unexpected result (index %d)" % i)
                ctypes.memmove(base + i * row_bytes, v, row_bytes)
                ntok[i] = s.n_tokens
                got[0] += 1
                return 0
            except BaseException as e:  # never let an exception cross into C
                fail.append(e)
                return 1

        cb = _lib.SCORE_FN(on_result)
        opts = _lib.vkb_scorer_opts(pooling=pooling, normalize=int(bool(normalize)), **self._sopts)
        err = _lib.vkb_error()
        with self._lock:
            self._live()
            sc = ctypes.c_void_p()
            _lib.check(L.vkb_scorer_create(self._be, ctypes.byref(opts), cb, None,
                                           ctypes.byref(sc), ctypes.byref(err)), err)
            try:
                rc = 0
                for x in items:
                    if as_ids:
                        ids = [int(v) for v in x]
                        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
                        rc = L.vkb_scorer_add_ids(sc, arr, len(ids), None, ctypes.byref(err))
                    else:
                        b = _encode(x)
                        rc = L.vkb_scorer_add_text(sc, b, len(b), None, ctypes.byref(err))
                    if rc:
                        break
                ferr = _lib.vkb_error()
                frc = L.vkb_scorer_finish(sc, ctypes.byref(ferr))
            finally:
                L.vkb_scorer_free(sc)
        if fail:
            raise fail[0]
        # A failed forward stops the scorer; finish() has the real reason.
        _lib.check(frc, ferr)
        _lib.check(rc, err)
        if got[0] != n:
            raise Error("scorer delivered %d of %d results" % (got[0], n))
        return buf, ntok

    @staticmethod
    def _as_list(texts):
        if isinstance(texts, (str, bytes)):
            return [texts]
        return list(texts)

    def _rows(self, buf, n):
        nl = self.n_labels
        if _np is not None:
            return _np.frombuffer(buf, dtype=_np.float32, count=n * nl).reshape(n, nl)
        return [list(buf[i * nl:(i + 1) * nl]) for i in range(n)]

    def logits(self, texts):
        """Raw classifier logits: a float32 numpy array [n, n_labels] (a list
        of lists when numpy is absent).  A single str counts as one text."""
        items = self._as_list(texts)
        buf, _ = self._run(items, as_ids=False)
        return self._rows(buf, len(items))

    def logits_from_ids(self, sequences):
        """Logits of already-tokenized sequences (lists of ids, each
        truncated to max_len)."""
        items = [list(s) for s in sequences]
        buf, _ = self._run(items, as_ids=True)
        return self._rows(buf, len(items))

    # ---- embeddings ---------------------------------------------------------
    def _pool_opts(self, pooling, normalize):
        if pooling is None:
            pooling = self.default_pooling
        if pooling not in _lib.POOLINGS:
            raise ValueError('pooling must be None, "mean", "cls" or "max", not %r' % (pooling,))
        if normalize is None:
            normalize = self.default_normalize
        return _lib.POOLINGS[pooling], bool(normalize)

    def _vectors(self, buf, n):
        d = self.dim
        if _np is not None:
            return _np.frombuffer(buf, dtype=_np.float32, count=n * d).reshape(n, d)
        return [list(buf[i * d:(i + 1) * d]) for i in range(n)]

    def embed(self, texts, pooling=None, normalize=None):
        """Sentence embeddings: the encoder's last hidden state pooled per
        text, a float32 numpy array [n, dim] (lists without numpy), in
        order; the same numbers as `vkbert embed`.  Works on base
        DistilBertModel checkpoints and on the encoder of a classifier.
        pooling: "mean" (over the real tokens, padding ignored, as
        sentence-transformers), "cls" or "max"; normalize: L2-normalize.
        None = the model's sentence-transformers files (modules.json,
        1_Pooling/config.json) when it has them, else mean and no
        normalization (self.default_pooling, self.default_normalize)."""
        p, nz = self._pool_opts(pooling, normalize)
        items = self._as_list(texts)
        buf, _ = self._run(items, as_ids=False, pooling=p, normalize=nz)
        return self._vectors(buf, len(items))

    def embed_from_ids(self, sequences, pooling=None, normalize=None):
        """embed() of already-tokenized sequences (lists of ids, each
        truncated to max_len)."""
        p, nz = self._pool_opts(pooling, normalize)
        items = [list(s) for s in sequences]
        buf, _ = self._run(items, as_ids=True, pooling=p, normalize=nz)
        return self._vectors(buf, len(items))

    def embed_lines(self, lines, text_key="text", pooling=None, normalize=None, source=None,
                    first_line=1):
        """`vkbert embed` for JSON lines: one output line (str, no newline)
        per record, byte for byte what `vkbert embed` writes for the same
        input and options ({<pass-through>,"embedding":[...]}, or
        {"line":N,"error":...} for a record that cannot be read)."""
        p, nz = self._pool_opts(pooling, normalize)
        return self._lines(lines, text_key, source, first_line, embed=(p, nz))

    def _results(self, buf, ntok, all_scores, with_logits):
        nl = self.n_labels
        p = (ctypes.c_float * nl)()
        out = []
        for i in range(len(ntok)):
            row = buf[i * nl:(i + 1) * nl]
            # Label and softmax exactly as `vkbert score` computes them.
            best = max(range(nl), key=lambda k: (row[k], -k))
            ctypes.memmove(p, ctypes.addressof(buf) + i * nl * 4, nl * 4)
            self._L.vkb_softmax(p, nl)
            r = {"label": self.labels[best], "score": float(p[best])}
            if all_scores:
                r["scores"] = {self.labels[k]: float(p[k]) for k in range(nl)}
            if with_logits:
                r["logits"] = [float(v) for v in row]
            r["n_tokens"] = ntok[i]
            out.append(r)
        return out

    def score(self, texts, all_scores=False, with_logits=False):
        """One dict per text, in order: {"label", "score", "n_tokens"} (the
        top label and its softmax probability), plus "scores" (every label's
        probability) with all_scores and "logits" with with_logits.  The
        same numbers as `vkbert score`."""
        items = self._as_list(texts)
        buf, ntok = self._run(items, as_ids=False)
        return self._results(buf, ntok, all_scores, with_logits)

    def score_lines(self, lines, text_key="text", all_scores=False, with_logits=False,
                    top_k=0, source=None, first_line=1):
        """`vkbert score` for JSON lines: one output line (str, no newline)
        per record of `lines` (str or bytes, one JSON object each), byte for
        byte what `vkbert score` writes for the same input and options: the
        library parses each record and formats its line (vkb_record_parse_json,
        vkb_result_json, vkb_error_json), so every pass-through field, the key
        order, spacing and float format are the CLI's.  Blank lines are
        skipped; a record that cannot be read gives {"line":N,"error":...}
        (N counts lines from first_line; source, when given, adds "file" as
        `vkbert score` does with several input files).  top_k: 0 (no
        "top_k" field), K, or "all" (every label), as `--top-k`; all_scores
        and with_logits as `--all-scores` and `--logits`."""
        if top_k == "all":
            top_k = -1
        top_k = int(top_k)
        if top_k < -1:
            raise ValueError("top_k must be 0, a positive K or 'all'")
        flags = (_lib.OUT_ALL_SCORES if all_scores else 0) | (_lib.OUT_LOGITS if with_logits else 0)
        return self._lines(lines, text_key, source, first_line, flags=flags, top_k=top_k)

    def _lines(self, lines, text_key, source, first_line, flags=0, top_k=0, embed=None):
        L = self._L
        tcol = _encode(text_key)
        src = _encode(source) if source is not None else None
        recs = []     # (line number, text pointer or None, extra, id_json, error)
        texts = []
        try:
            for i, ln in enumerate(lines):
                b = ln if isinstance(ln, bytes) else _encode_line(ln)
                text, extra, idj, err = (ctypes.c_void_p() for _ in range(4))
                tlen = ctypes.c_size_t()
                rc = L.vkb_record_parse_json(b, len(b), tcol, ctypes.byref(text),
                                             ctypes.byref(tlen), ctypes.byref(extra),
                                             ctypes.byref(idj), ctypes.byref(err))
                if rc == 1:
                    continue  # blank line
                if rc != 0:
                    raise MemoryError("out of memory parsing a record")
                recs.append((first_line + i, text, extra, idj, err))
                if not err:
                    texts.append(ctypes.string_at(text, tlen.value))
            if embed:
                buf, _ = self._run(texts, as_ids=False, pooling=embed[0], normalize=embed[1])
                nl = self.dim
            else:
                buf, _ = self._run(texts, as_ids=False)
                nl = self.n_labels
            cfg = L.vkb_model_config(self._model)
            out, k = [], 0
            base = ctypes.addressof(buf)
            e = _lib.vkb_error()
            for line_no, text, extra, idj, err in recs:
                p = ctypes.c_void_p()
                n = ctypes.c_size_t()
                if err:
                    rc = L.vkb_error_json(line_no, ctypes.string_at(err), idj, src,
                                          ctypes.byref(p), ctypes.byref(n), ctypes.byref(e))
                else:
                    row = ctypes.cast(base + k * nl * 4, ctypes.POINTER(ctypes.c_float))
                    k += 1
                    if embed:
                        rc = L.vkb_embedding_json(extra, row, nl, ctypes.byref(p), ctypes.byref(n),
                                                  ctypes.byref(e))
                    else:
                        rc = L.vkb_result_json(cfg, extra, row, nl, flags, top_k,
                                               ctypes.byref(p), ctypes.byref(n), ctypes.byref(e))
                _lib.check(rc, e)
                try:
                    out.append(ctypes.string_at(p, n.value)[:-1].decode("utf-8", "surrogateescape"))
                finally:
                    L.vkb_free(p)
            return out
        finally:
            for _, text, extra, idj, err in recs:
                for ptr in (text, extra, idj, err):
                    if ptr:
                        L.vkb_free(ptr)

    def classify(self, inputs, top_k=1):
        """Hugging Face text-classification pipeline style.  A str gives a
        list of dicts {"label", "score"}; a list of str gives one entry per
        text: a dict (top_k=1) or a list of the top_k dicts, best first
        (top_k=None: every label)."""
        single = isinstance(inputs, (str, bytes))
        if top_k is not None:
            _int_opt("top_k", top_k, 1)
        items = self._as_list(inputs)
        buf, ntok = self._run(items, as_ids=False)
        res = self._results(buf, ntok, all_scores=True, with_logits=False)
        k = self.n_labels if top_k is None else max(1, min(int(top_k), self.n_labels))
        out = []
        for r in res:
            ranked = sorted(r["scores"].items(), key=lambda kv: -kv[1])[:k]
            dicts = [{"label": lab, "score": s} for lab, s in ranked]
            if top_k == 1 and not single:
                out.append(dicts[0])
            else:
                out.append(dicts)
        if single:
            return out[0]
        return out


def devices(as_json=False):
    """The Vulkan devices the loader reports (what gpu:N selects), as text,
    or as the parsed {"devices": [...]} dict with as_json."""
    L = _lib.lib()
    p = ctypes.c_void_p()
    err = _lib.vkb_error()
    _lib.check(L.vkb_devices_report(1 if as_json else 0, ctypes.byref(p), ctypes.byref(err)), err)
    try:
        text = ctypes.string_at(p.value).decode("utf-8", "replace")
    finally:
        L.free(p)
    if as_json:
        import json
        return json.loads(text)
    return text
