#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets to tests/fuzz/corpus/<target>/.

Seeds are small valid and near-valid inputs (each a few KB at most), built
from tests/data (configs, vocab.txt, tokenizer_config.json, the real
safetensors header of tiny-f32) and from tiny synthetic checkpoints made here.
Files named regress-* are regression inputs for bugs the fuzzers found; they
are written by hand and this script leaves them alone.  Standard library only:
    python3 tests/fuzz/make_corpus.py
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import distilbert_tensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(HERE, "corpus")
SEP = b"\n#--8<--\n"  # FUZZ_SEP in fuzz_common.h


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(*p):
    with open(os.path.join(DATA, *p), "rb") as f:
        return f.read()


# ---- safetensors -----------------------------------------------------------
ESIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1, "BOOL": 1, "F64": 8}


def pack(vals, dtype):
    if dtype == "F32":
        return struct.pack("<%df" % len(vals), *vals)
    if dtype == "F16":
        return struct.pack("<%de" % len(vals), *vals)
    if dtype == "BF16":
        return b"".join(struct.pack("<f", v)[2:] for v in vals)
    return bytes(ESIZE[dtype] * len(vals))


def safetensors(tensors, metadata=None, pad=0, header_override=None):
    """tensors: list of (name, dtype, shape); values are small multiples of 1/64."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for i, (name, dtype, shape) in enumerate(tensors):
        n = 1
        for d in shape:
            n *= d
        vals = [((i * 7 + k * 3) % 17 - 8) / 64.0 for k in range(n)]
        b = pack(vals, dtype)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(header, separators=(",", ":")).encode() if header_override is None else header_override
    h += b" " * pad
    return struct.pack("<Q", len(h)) + h + data


def model_tensors(cfg, dtype="F32", prefix="distilbert.", head=True):
    """(name, dtype, shape) of every tensor of tools/distilbert_tensors.py's table."""
    sizes = dict(cfg, num_labels=len(cfg.get("id2label", {})) or 2)
    return [(name, dtype, shape)
            for _, name, shape, _ in distilbert_tensors.tensors(sizes, cfg["n_layers"], head, prefix)]


TINY = {"activation": "gelu", "dim": 4, "hidden_dim": 8, "max_position_embeddings": 8,
        "model_type": "distilbert", "n_heads": 2, "n_layers": 1, "pad_token_id": 0,
        "vocab_size": 8, "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
        "label2id": {"NEGATIVE": 0, "POSITIVE": 1}}


def gen_safetensors():
    T = "safetensors"
    for dt in ("F32", "F16", "BF16"):
        put(T, "valid-tiny-%s" % dt.lower(), safetensors(model_tensors(TINY, dt), {"format": "pt"}))
    small = [("a", "F32", (2, 3)), ("b", "F16", (3,)), ("c", "BF16", (1, 1, 2)), ("ids", "I64", (1, 4)),
             ("mask", "BOOL", (5,)), ("scalar", "F32", ()), ("empty", "F32", (0, 4)), ("u", "U8", (3,))]
    put(T, "valid-mixed-dtypes", safetensors(small, {"format": "pt", "note": "x"}))
    put(T, "valid-header-padding", safetensors(small[:2], pad=7))
    put(T, "valid-no-tensors", safetensors([]))
    put(T, "valid-metadata-only", safetensors([], {"format": "pt"}))
    # The real header of tests/data/tiny-f32 with its data section cut off.
    real = read("tiny-f32", "model.safetensors")
    (hl,) = struct.unpack("<Q", real[:8])
    put(T, "near-real-header-no-data", real[:8 + hl])
    put(T, "near-real-header-short-data", real[:8 + hl + 64])

    def hdr(obj, data=b"", raw=None):
        h = raw if raw is not None else json.dumps(obj, separators=(",", ":")).encode()
        return struct.pack("<Q", len(h)) + h + data

    e = lambda dt, sh, b, en: {"dtype": dt, "shape": sh, "data_offsets": [b, en]}
    put(T, "bad-truncated-length", b"\x10\x00\x00")
    put(T, "bad-header-len-huge", struct.pack("<Q", 1 << 62) + b"{}")
    put(T, "bad-header-len-past-end", struct.pack("<Q", 100) + b"{}")
    put(T, "bad-not-object", hdr(None, raw=b"[1,2,3]"))
    put(T, "bad-json", hdr(None, raw=b'{"a":{"dtype":"F32",'))
    put(T, "bad-trailing-bytes", hdr(None, raw=b"{}  x"))
    put(T, "bad-nul-in-header", hdr(None, raw=b'{"a\x00":1}'))
    put(T, "bad-unknown-dtype", hdr({"a": e("F33", [1], 0, 4)}, bytes(4)))
    put(T, "bad-offsets-past-end", hdr({"a": e("F32", [2], 0, 8)}, bytes(4)))
    put(T, "bad-begin-after-end", hdr({"a": e("F32", [0], 8, 4)}, bytes(8)))
    put(T, "bad-size-mismatch", hdr({"a": e("F32", [3], 0, 8)}, bytes(8)))
    put(T, "bad-overlap", hdr({"a": e("F32", [2], 0, 8), "b": e("F32", [2], 4, 12)}, bytes(12)))
    put(T, "bad-too-many-dims", hdr({"a": e("U8", [1] * 9, 0, 1)}, bytes(1)))
    put(T, "bad-dim-huge", hdr({"a": e("U8", [2 ** 41], 0, 1)}, bytes(1)))
    put(T, "bad-numel-overflow", hdr({"a": e("U8", [2 ** 40, 2 ** 40, 2 ** 40], 0, 1)}, bytes(1)))
    put(T, "bad-negative-dim", hdr({"a": e("F32", [-1], 0, 4)}, bytes(4)))
    put(T, "bad-fractional-offset", hdr({"a": e("F32", [1], 0, 4.5)}, bytes(4)))
    put(T, "bad-offsets-three", hdr({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}, bytes(8)))
    put(T, "bad-dtype-not-string", hdr({"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}, bytes(4)))
    put(T, "bad-entry-not-object", hdr({"a": [1, 2]}))
    put(T, "bad-metadata-not-object", hdr({"__metadata__": 3}))
    put(T, "bad-duplicate-name", hdr(None, b"\0" * 8, raw=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                                        b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'))
    put(T, "bad-empty-name", hdr({"": e("F32", [1], 0, 4)}, bytes(4)))
    put(T, "bad-deep-nesting", hdr(None, raw=b'{"__metadata__":' + b'{"a":' * 300 + b"1" + b"}" * 301))


# ---- config.json -------------------------------------------------------------
def gen_config():
    T = "config"
    for d in ("tiny-f32", "tiny-bf16", "odd-f16", "base-f32"):
        put(T, "valid-%s" % d, read(d, "config.json"))
    put(T, "valid-tiny-synthetic", json.dumps(TINY))
    base = dict(TINY)
    variants = {
        "bad-missing-dim": {k: v for k, v in base.items() if k != "dim"},
        "bad-dim-string": dict(base, dim="4"),
        "bad-dim-fraction": dict(base, dim=4.5),
        "bad-dim-huge": dict(base, dim=1 << 40),
        "bad-dim-negative": dict(base, dim=-4),
        "bad-heads-not-dividing": dict(base, n_heads=3),
        "bad-vocab-over-limit": dict(base, vocab_size=(1 << 22) + 1),
        "bad-layers-over-limit": dict(base, n_layers=257),
        "bad-pad-out-of-range": dict(base, pad_token_id=8),
        "bad-model-type": dict(base, model_type="bert"),
        "bad-activation": dict(base, activation="relu"),
        "bad-id2label-gap": dict(base, id2label={"0": "A", "2": "B"}, label2id=None),
        "bad-id2label-key": dict(base, id2label={"00": "A", "1": "B"}, label2id=None),
        "bad-id2label-value": dict(base, id2label={"0": 1, "1": "B"}, label2id=None),
        "bad-label2id-mismatch": dict(base, label2id={"NEGATIVE": 1, "POSITIVE": 0}),
        "bad-id2label-array": dict(base, id2label=["A", "B"]),
        "valid-no-labels": {k: v for k, v in base.items() if k not in ("id2label", "label2id")},
        "valid-null-pad": dict(base, pad_token_id=None),
        "valid-many-labels": dict(base, id2label={str(i): "L%d" % i for i in range(40)}, label2id=None),
    }
    for name, obj in variants.items():
        put(T, name, json.dumps(obj))
    put(T, "bad-duplicate-key", '{"dim": 4, "dim": 8, "n_layers": 1}')
    put(T, "bad-not-object", "[1, 2]")
    put(T, "bad-empty", "")
    put(T, "bad-trailing", json.dumps(TINY) + " }")
    put(T, "bad-truncated", json.dumps(TINY)[:60])
    put(T, "bad-nul", '{"dim": 4\x00}')
    put(T, "bad-number-1e400", json.dumps(dict(base, dim=1)).replace('"dim": 1', '"dim": 1e400'))


# ---- vocab readers ------------------------------------------------------------
def hf_tokenizer_json(tokens, lowercase=True):
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": tokens.index(s), "content": s, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for s in specials],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": None, "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(tokens)}},
    }, ensure_ascii=False)


def gen_vocab():
    T = "vocab"
    vocab = read("tiny-f32", "vocab.txt")
    tcfg = read("tiny-f32", "tokenizer_config.json")
    tokens = vocab.decode().split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    M0, M0L, M1, M2 = b"\x00", b"\x03", b"\x01", b"\x02"  # mode = byte % 3, flags = byte / 3
    put(T, "mem-vocab", M0 + vocab)
    put(T, "mem-vocab-lower-maxlen", b"\x09" + vocab)
    put(T, "mem-vocab-crlf", M0L + vocab.replace(b"\n", b"\r\n"))
    put(T, "mem-vocab-no-final-newline", M0L + vocab.rstrip(b"\n"))
    put(T, "mem-vocab-blank-lines", M0L + b"[PAD]\n\n[UNK]\n[CLS]\n[SEP]\n\n\n[MASK]\nfoo\n##bar\n")
    put(T, "mem-bad-duplicate", M0 + b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nfoo\nfoo\n")
    put(T, "mem-bad-no-unk", M0 + b"[PAD]\n[CLS]\n[SEP]\nfoo\n")
    put(T, "mem-bad-nul", M0 + b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nf\x00o\n")
    put(T, "mem-bad-utf8", M0 + b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xc3\x28\n")
    put(T, "mem-bad-empty", M0)
    put(T, "json-hf", M1 + hf_tokenizer_json(tokens).encode() + SEP + tcfg)
    put(T, "json-hf-no-config", M1 + hf_tokenizer_json(tokens, lowercase=False).encode())
    j = json.loads(hf_tokenizer_json(tokens))
    j["added_tokens"][1]["id"] = 1e300
    put(T, "json-bad-added-id-huge", M1 + json.dumps(j).encode())
    j = json.loads(hf_tokenizer_json(tokens))
    j["model"]["vocab"]["[UNK]"] = 0
    put(T, "json-bad-id-twice", M1 + json.dumps(j).encode())
    j = json.loads(hf_tokenizer_json(tokens))
    j["model"]["type"] = "BPE"
    put(T, "json-bad-model-type", M1 + json.dumps(j).encode())
    j = json.loads(hf_tokenizer_json(tokens))
    j["added_tokens"][0]["lstrip"] = True
    put(T, "json-bad-added-lstrip", M1 + json.dumps(j).encode())
    put(T, "json-bad-not-object", M1 + b"[]")
    put(T, "file-vocab-with-config", M2 + vocab + SEP + tcfg)
    cfg = json.loads(tcfg)
    cfg.update(model_max_length=1e30, do_lower_case=False, unk_token={"content": "[UNK]", "lstrip": False})
    put(T, "file-vocab-config-variants", M2 + vocab + SEP + json.dumps(cfg).encode())
    put(T, "file-bad-config-type", M2 + vocab + SEP + b'{"do_lower_case": "yes"}')
    put(T, "file-bad-config-maxlen", M2 + vocab + SEP + b'{"model_max_length": 1}')
    put(T, "file-bad-config-json", M2 + vocab + SEP + b'{"model_max_length": ')


# ---- tokenizer ------------------------------------------------------------------
def gen_tokenizer():
    T = "tokenizer"
    with open(os.path.join(HERE, "..", "tokenizer", "hard_strings.jsonl"), encoding="utf-8") as f:
        hard = [json.loads(line)["text"] for line in f if line.strip()]
    # A few files with several hard strings each, lowercase on and off,
    # a short and a longer max_len.
    for k in range(0, len(hard), 8):
        text = "\n".join(hard[k:k + 8]).encode("utf-8")
        put(T, "hard-%02d-lower" % k, bytes([1 | (60 << 1)]) + text)
        put(T, "hard-%02d-cased-short" % k, bytes([3 << 1]) + text)
    put(T, "special-tokens", b"\x41[CLS] hello [SEP][SEP] [MASK]x [UNK]")
    put(T, "wordpieces", b"\x41unaffable running hellos supercalifragilisticexpialidociouss caf\xc3\xa9")
    put(T, "long-word", b"\x41" + b"a" * 150 + b" " + b"\xc3\xa9" * 120)
    put(T, "invalid-utf8", b"\x41\xff\xfe\xc3\x28\xe2\x82\xf4\x90\x80\x80\xed\xa0\x80 ok")
    put(T, "controls-nul", b"\x41a\x00b\x01c\x7fd\xef\xbf\xbde\xe2\x80\x8bf")
    put(T, "istanbul-dotted", b"\x41\xc4\xb0stanbul \xc4\xb0\xc4\xb0\xc4\xb0")
    put(T, "empty", b"\x41")


# ---- whole model directory ------------------------------------------------------
def gen_model_dir():
    T = "model_dir"
    def case(name, cfg, st, vocab=b""):
        c = cfg if isinstance(cfg, bytes) else json.dumps(cfg).encode()
        put(T, name, c + SEP + st + SEP + vocab)
    for dt in ("F32", "F16", "BF16"):
        case("valid-tiny-%s" % dt.lower(), TINY, safetensors(model_tensors(TINY, dt), {"format": "pt"}))
    base = {k: v for k, v in TINY.items() if k not in ("id2label", "label2id")}
    case("valid-base-unprefixed", base, safetensors(model_tensors(base, prefix="", head=False)))
    case("valid-base-prefixed", base, safetensors(model_tensors(base, head=False)))
    three = dict(TINY, id2label={"0": "a", "1": "b", "2": "c"}, label2id={"a": 0, "b": 1, "c": 2})
    case("valid-three-labels", three, safetensors(model_tensors(three)))
    case("valid-own-vocab", dict(TINY, vocab_size=10), safetensors(model_tensors(dict(TINY, vocab_size=10))),
         b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\ngood\nbad\nfilm\n")
    case("bad-labels-vs-classifier", three, safetensors(model_tensors(TINY)))
    case("bad-shape-vs-config", dict(TINY, hidden_dim=12), safetensors(model_tensors(TINY)))
    case("bad-missing-layer", dict(TINY, n_layers=2), safetensors(model_tensors(TINY)))
    case("bad-vocab-larger-than-embedding", dict(TINY, vocab_size=6),
         safetensors(model_tensors(dict(TINY, vocab_size=6))))
    t = model_tensors(TINY)
    t[0] = (t[0][0], "I64", t[0][2])
    case("bad-int-dtype", TINY, safetensors(t))


# ---- batch input readers (host/input.c) ------------------------------------------
def gen_inputs():
    import gzip
    jl = [
        ("valid", b'{"id": 1, "text": "good one", "lang": "en", "label": 1}\n{"text": "two"}\n'),
        ("crlf-blank", b'{"text": "a"}\r\n\r\n   \n{"text": "b", "label": "POSITIVE"}'),
        ("cr-only", b'{"text": "a"}\r{"text": "b"}\r'),
        ("bad-lines", b'not json\n[1, 2]\n{"text": 42}\n{"text": "a"} x\n{"text": "nul\x00"}\n{"id": 7}\n{"text": "ok"}\n'),
        ("big-numbers", b'{"id": 1234567890123456789, "text": "t", "a": 9007199254740993, "b": 1e400, '
                        b'"c": 0.30000000000000004, "d": {"x": [1, 2.50, -0.0]}, "label": 1e300}\n'),
        ("reserved-names", b'{"text": "t", "label": 1, "input_label": 2, "score": 3, "scores": [], "error": null}\n'),
        ("duplicate-key", b'{"text": "t", "k": 1, "k": 2}\n{"text": "t", "text": "u"}\n'),
        ("escapes", b'{"text": "a\\u0000b \\ud83d\\ude00 \\ud800 \\"q\\" \\\\", "e": "\\u00e9\tx"}\n'),
        ("lax-numbers", b'{"text": "t", "n": 01}\n{"text": "t", "n": 1.}\n{"text": "t", "n": -0.5e-3}\n'),
        ("invalid-utf8", b'{"text": "bad \xff\xfe utf8", "\xc3": "\xe2\x82"}\n'),
        ("missing-field", b'{"id": 1, "review": "x"}\n{"id": 2, "review": "y"}\n'),
        ("bom", b'\xef\xbb\xbf{"text": "b"}\n'),
        ("deep", b'{"text": "t", "d": ' + b'[' * 200 + b']' * 200 + b'}\n'),
    ]
    for name, d in jl:
        put("jsonl", name, d)
    put("jsonl", "gzip-valid", gzip.compress(jl[0][1], mtime=0))
    put("jsonl", "gzip-two-members", gzip.compress(jl[0][1], mtime=0) + gzip.compress(jl[4][1], mtime=0))
    put("jsonl", "gzip-truncated", gzip.compress(jl[3][1], mtime=0)[:-7])
    csv = [
        ("valid", b'\xef\xbb\xbfid,text,label\r\n1,"hello, ""world""",pos\r\n2,"multi\nline\r\nfield",neg\r\n'),
        ("bad-rows", b'id,text\n3,plain "quoted" inside\n4,too,many\n5\n6,"unterminated\n'),
        ("cr-only", b'id,text\r1,good\r2,"multi\rline"\r'),
        ("no-text-column", b'a,b\n1,2\n'),
        ("duplicate-columns", b'id,text,id\n1,a,2\n'),
        ("header-only", b'id,text\n'),
        ("reserved-columns", b'text,label,input_label,score\na,1,2,3\n'),
        ("binary", bytes(range(256))),
    ]
    for name, d in csv:
        put("csv", name, d)
    put("csv", "gzip-valid", gzip.compress(csv[0][1], mtime=0))
    tsv = [
        ("valid", b'text\tid\nsays "hi" there\t7\n"quoted start\t8\n""\t9\n'),
        ("cr-crlf", b'id\ttext\r1\tgood\r\n2\tbad\r'),
        ("bad-rows", b'id\ttext\n1\n2\ta\tb\n\t\n'),
        ("utf16", b'\xff\xfet\x00e\x00x\x00t\x00\n\x00'),
    ]
    for name, d in tsv:
        put("tsv", name, d)
    put("tsv", "gzip-valid", gzip.compress(tsv[0][1], mtime=0))


if __name__ == "__main__":
    gen_safetensors()
    gen_config()
    gen_vocab()
    gen_tokenizer()
    gen_model_dir()
    gen_inputs()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print("corpus: %d bytes" % total, file=sys.stderr)
