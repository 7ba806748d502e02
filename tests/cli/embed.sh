#!/bin/bash
# vkbert embed (issue 15): score's inputs in, one JSON line per input with
# the pass-through fields and "embedding" out, in input order; pooling
# modes, --normalize, sentence-transformers defaults (tests/data/base-st:
# cls + Normalize), --output-format npy / safetensors (+ .ids.jsonl),
# per-line errors,
# -o safety and --resume, malformed sentence-transformers files.
# The values themselves are checked against PyTorch by test_pool (C) and
# python/tests (Model.embed_from_ids vs embeddings.json).
. "$(dirname "$0")/lib.sh" "$@"

BASE=data/base-f32
E() { "$B" embed --device "$DEV" --quiet "$@"; }
make_jsonl 40 "$T/in.jsonl"

# ---- JSON lines: order, pass-through, dimension; batching does not matter
E --model $BASE "$T/in.jsonl" > "$T/mean.jsonl" || fail "embed (mean)"
E --model $BASE --no-sort --batch-tokens 64 "$T/in.jsonl" > "$T/mean_ns.jsonl" || fail "embed --no-sort"
$PY - "$T/in.jsonl" "$T/mean.jsonl" "$T/mean_ns.jsonl" <<'PYEOF' || fail "mean embeddings"
import json, sys
inp = [json.loads(l) for l in open(sys.argv[1])]
a = [json.loads(l) for l in open(sys.argv[2])]
b = [json.loads(l) for l in open(sys.argv[3])]
assert len(a) == len(inp) == len(b), (len(a), len(inp), len(b))
for x, y, z in zip(inp, a, b):
    assert list(y) == ["id", "embedding"] and y["id"] == x["id"], y
    assert len(y["embedding"]) == 24
    assert all(abs(u - v) <= 1e-5 for u, v in zip(y["embedding"], z["embedding"])), (y, z)
PYEOF
ok "jsonl in, ids and 24-dim embeddings out in input order; same with --no-sort and small batches"

# ---- modes and --normalize
for p in mean cls max; do
    E --model $BASE --pooling $p "$T/in.jsonl" > "$T/$p.jsonl" || fail "--pooling $p"
    E --model $BASE --pooling $p --normalize "$T/in.jsonl" > "$T/${p}_n.jsonl" || fail "--pooling $p --normalize"
done
cmp -s "$T/mean.jsonl" "$T/mean.jsonl" || fail "default is not mean"
$PY - "$T" <<'PYEOF' || fail "modes/normalize"
import json, math, sys
t = sys.argv[1]
rd = lambda n: [json.loads(l)["embedding"] for l in open("%s/%s.jsonl" % (t, n))]
m, c, x = rd("mean"), rd("cls"), rd("max")
assert m != c and m != x and c != x
for v, w in zip(x, m):
    assert all(a >= b - 1e-6 for a, b in zip(v, w)), "max below mean"
for p in ("mean", "cls", "max"):
    for v, w in zip(rd(p), rd(p + "_n")):
        n = math.sqrt(sum(a * a for a in v))
        assert all(abs(a / n - b) <= 1e-6 for a, b in zip(v, w)), p
        assert abs(sum(b * b for b in w) - 1) < 1e-5
PYEOF
cmp -s "$T/mean.jsonl" <(E --model $BASE --pooling mean "$T/in.jsonl") || fail "--pooling mean differs from the default"
ok "--pooling mean|cls|max differ as they should; --normalize gives unit vectors of the same direction"

# ---- sentence-transformers defaults (base-st: cls + Normalize)
"$B" embed --device "$DEV" --model data/base-st "$T/in.jsonl" > "$T/st.jsonl" 2> "$T/err" || fail "embed base-st"
grep -q "cls pooling, normalized (the model's sentence-transformers files)" "$T/err" || fail "base-st note: $(cat "$T/err")"
cmp -s "$T/st.jsonl" "$T/cls_n.jsonl" || fail "base-st defaults are not cls + normalize"
E --model data/base-st --pooling mean "$T/in.jsonl" > "$T/st_mean.jsonl" || fail "base-st --pooling mean"
cmp -s "$T/st_mean.jsonl" "$T/mean_n.jsonl" || fail "base-st --pooling mean: not mean + its Normalize"
"$B" embed --device "$DEV" --model data/base-st --no-normalize "$T/in.jsonl" > "$T/st_nn.jsonl" 2> "$T/err" \
    || fail "base-st --no-normalize"
grep -q "cls pooling (the model's sentence-transformers files)" "$T/err" || fail "--no-normalize note: $(cat "$T/err")"
cmp -s "$T/st_nn.jsonl" "$T/cls.jsonl" || fail "base-st --no-normalize: not the plain cls vectors"
cmp -s "$T/mean.jsonl" <(E --model $BASE --normalize --no-normalize "$T/in.jsonl") || fail "--no-normalize after --normalize"
ok "sentence-transformers files: their pooling and normalization are the defaults; --pooling overrides; --no-normalize turns their Normalize off"

# ---- the encoder of a classifier; other formats; errors
E --model data/tiny-f32 "$T/in.jsonl" > "$T/cls_model.jsonl" || fail "embed on a classifier"
[ "$($PY -c 'import json,sys; print(len(json.loads(open(sys.argv[1]).readline())["embedding"]))' "$T/cls_model.jsonl")" = 32 ] \
    || fail "classifier encoder: not 32 values"
printf 'id,text\n7,"a good, fun movie"\n8,bad plot\n' | gzip > "$T/in.csv.gz"
E --model $BASE "$T/in.csv.gz" > "$T/csv.jsonl" || fail "csv.gz"
$PY -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; assert [x["id"] for x in l]==["7","8"] and len(l[0]["embedding"])==24, l' \
    "$T/csv.jsonl" || fail "csv.gz output"
printf '{"id":1,"text":"good","embedding":[1]}\n{"id":2,"text":\n{"id":3,"txt":"x"}\n{"id":4,"text":"bad"}\n' > "$T/bad.jsonl"
E --model $BASE "$T/bad.jsonl" > "$T/bad.out"; st=$?
[ $st = 1 ] || fail "error lines: exit $st, expected 1"
$PY - "$T/bad.out" <<'PYEOF' || fail "error lines: $(cat "$T/bad.out")"
import json, sys
l = [json.loads(x) for x in open(sys.argv[1])]
assert len(l) == 4
assert l[0]["id"] == 1 and l[0]["input_embedding"] == [1] and len(l[0]["embedding"]) == 24, l[0]
assert l[1]["line"] == 2 and "error" in l[1] and l[2]["line"] == 3 and "error" in l[2], l[1:3]
assert l[3]["id"] == 4 and len(l[3]["embedding"]) == 24
PYEOF
ok "classifier encoder, csv.gz, per-line errors in place, \"embedding\" input field renamed"

# ---- npy
E --model $BASE --output-format npy -o "$T/e.npy" "$T/bad.jsonl"; st=$?
[ $st = 1 ] || fail "npy with error lines: exit $st"
E --model $BASE --output-format npy -o "$T/m.npy" "$T/in.jsonl" || fail "npy"
$PY - "$T" <<'PYEOF' || fail "npy content"
import json, sys
import numpy as np
t = sys.argv[1]
m = np.load(t + "/m.npy")
assert m.dtype == np.float32 and m.shape == (40, 24), (m.dtype, m.shape)
ref = np.array([json.loads(l)["embedding"] for l in open(t + "/mean.jsonl")], dtype=np.float32)
assert (m == ref).all(), abs(m - ref).max()
ids = [json.loads(l) for l in open(t + "/m.ids.jsonl")]
assert ids == [{"id": i} for i in range(40)], ids[:3]
e = np.load(t + "/e.npy")
assert e.shape == (4, 24) and np.isnan(e[1]).all() and np.isnan(e[2]).all() and not np.isnan(e[[0, 3]]).any()
ei = [json.loads(l) for l in open(t + "/e.ids.jsonl")]
assert ei[0] == {"id": 1, "input_embedding": [1]} and ei[1]["line"] == 2 and "error" in ei[2], ei
PYEOF
E --model $BASE --output-format npy "$T/in.jsonl" > /dev/null 2> "$T/err"; st=$?
[ $st = 2 ] && grep -q "needs -o" "$T/err" || fail "npy without -o: exit $st: $(cat "$T/err")"
E --model $BASE --output-format npy --resume -o "$T/m.npy" "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 2 ] || fail "npy --resume: exit $st"
cp "$T/in.jsonl" "$T/in.npy"
E --model $BASE --output-format npy -o "$T/in.npy" "$T/in.npy" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "also the input" "$T/err" || fail "npy -o input: exit $st: $(cat "$T/err")"
cp "$T/in.jsonl" "$T/x.ids.jsonl"
E --model $BASE --output-format npy -o "$T/x.npy" "$T/x.ids.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "also the input" "$T/err" || fail "npy ids file = input: exit $st: $(cat "$T/err")"
cmp -s "$T/x.ids.jsonl" "$T/in.jsonl" || fail "the input was changed"
ok "--output-format npy: float32 [n, dim] equal to the JSON lines, ids beside, NaN rows for errors; -o safety"

# ---- safetensors: read back by a standard-library reader (and numpy /
# safetensors when installed), equal to the JSON lines
E --model $BASE --output-format safetensors -o "$T/m.safetensors" "$T/in.jsonl" || fail "safetensors"
E --model $BASE --output-format safetensors -o "$T/e.safetensors" "$T/bad.jsonl"; st=$?
[ $st = 1 ] || fail "safetensors with error lines: exit $st"
$PY - "$T" <<'PYEOF' || fail "safetensors content"
import json, math, os, struct, sys
t = sys.argv[1]
def read_st(path):
    """A minimal safetensors reader: 8-byte little-endian header length,
    the JSON header, then the tensors' bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, n
    h = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = h.pop("__metadata__")
    assert list(h) == ["embeddings"], h
    e = h["embeddings"]
    assert e["dtype"] == "F32", e
    rows, dim = e["shape"]
    b0, b1 = e["data_offsets"]
    assert b0 == 0 and b1 == rows * dim * 4 == len(data), (e, len(data))
    v = struct.unpack("<%df" % (rows * dim), data)
    return meta, [list(v[i * dim:(i + 1) * dim]) for i in range(rows)]
meta, m = read_st(t + "/m.safetensors")
assert meta == {"format": "np", "ids": "m.ids.jsonl"}, meta
ref = [json.loads(l)["embedding"] for l in open(t + "/mean.jsonl")]
assert len(m) == 40 and len(m[0]) == 24
# the JSON lines print the shortest decimal that reads back as the same float32
assert all(struct.pack("<24f", *a) == struct.pack("<24f", *b) for a, b in zip(m, ref))
ids = [json.loads(l) for l in open(t + "/" + meta["ids"])]
assert ids == [{"id": i} for i in range(40)], ids[:3]
meta, e = read_st(t + "/e.safetensors")
assert len(e) == 4 and all(math.isnan(x) for x in e[1] + e[2]) and not any(math.isnan(x) for x in e[0] + e[3])
try:
    import numpy as np
    from safetensors.numpy import load_file
except ImportError:
    pass
else:
    d = load_file(t + "/m.safetensors")
    assert list(d) == ["embeddings"] and d["embeddings"].dtype == np.float32
    assert (d["embeddings"] == np.array(ref, dtype=np.float32)).all()
PYEOF
E --model $BASE --output-format safetensors "$T/in.jsonl" > /dev/null 2> "$T/err"; st=$?
[ $st = 2 ] && grep -q "needs -o FILE.safetensors" "$T/err" || fail "safetensors to stdout: exit $st: $(cat "$T/err")"
E --model $BASE --output-format safetensors --resume -o "$T/m.safetensors" "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 2 ] && grep -q "output-format safetensors run starts again" "$T/err" \
    || fail "safetensors --resume: exit $st: $(cat "$T/err")"
E --model $BASE --output-format hdf5 -o "$T/m.h5" "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 2 ] && grep -q "expected jsonl, npy or safetensors" "$T/err" || fail "--output-format hdf5: exit $st"
cp "$T/in.jsonl" "$T/y.ids.jsonl"
E --model $BASE --output-format safetensors -o "$T/y.safetensors" "$T/y.ids.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "also the input" "$T/err" || fail "safetensors ids file = input: exit $st: $(cat "$T/err")"
cmp -s "$T/y.ids.jsonl" "$T/in.jsonl" || fail "the input was changed"
ok "--output-format safetensors: one F32 tensor \"embeddings\" [n, dim] equal to the JSON lines (stdlib reader), ids beside, NaN rows; refusals"

# ---- -o, --resume
E --model $BASE -o "$T/o.jsonl" "$T/in.jsonl" || fail "-o"
cmp -s "$T/o.jsonl" "$T/mean.jsonl" || fail "-o differs from stdout"
head -n 15 "$T/mean.jsonl" > "$T/o.jsonl"
E --model $BASE -o "$T/o.jsonl" --resume "$T/in.jsonl" || fail "--resume"
cmp -s "$T/o.jsonl" "$T/mean.jsonl" || fail "--resume: not the full output"
head -n 15 "$T/mean.jsonl" > "$T/o.jsonl"
E --model $BASE -o "$T/o.jsonl" --resume --pooling max "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "embed" "$T/err" || fail "--resume with another pooling: exit $st: $(cat "$T/err")"
ok "-o and --resume as score; a resume with other pooling refused"

# ---- malformed sentence-transformers files: clear errors naming file and field
bad_st() { # WHAT FILE CONTENT PATTERN
    rm -rf "$T/st"; cp -r data/base-st "$T/st"
    printf '%s' "$3" > "$T/st/$2"
    echo text | E --model "$T/st" > /dev/null 2> "$T/err"; local st=$?
    [ $st = 1 ] && grep -q -- "$4" "$T/err" || fail "$1: exit $st: $(cat "$T/err")"
}
P='sentence_transformers.models.'
bad_st "modules.json not JSON" modules.json '[{' "modules.json: invalid JSON"
bad_st "modules.json object" modules.json '{}' "modules.json: not a JSON array"
bad_st "duplicate key" modules.json "[{\"type\":\"${P}Transformer\",\"path\":\"\",\"path\":\"x\"}]" "duplicate key"
bad_st "Dense module" modules.json "[{\"type\":\"${P}Transformer\",\"path\":\"\"},{\"type\":\"${P}Pooling\",\"path\":\"1_Pooling\"},{\"type\":\"${P}Dense\",\"path\":\"2_Dense\"}]" "module 2: type '${P}Dense' is not supported"
bad_st "pooling path" modules.json "[{\"type\":\"${P}Transformer\",\"path\":\"\"},{\"type\":\"${P}Pooling\",\"path\":\"../1_Pooling\"}]" "field 'path' is '../1_Pooling'"
bad_st "no pooling" modules.json "[{\"type\":\"${P}Transformer\",\"path\":\"\"}]" "no '${P}Pooling' module"
bad_st "idx" modules.json "[{\"idx\":1.0,\"type\":\"${P}Transformer\",\"path\":\"\"}]" "field 'idx'"
bad_st "two modes" 1_Pooling/config.json '{"word_embedding_dimension":24,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":true}' "more than one of"
bad_st "no mode" 1_Pooling/config.json '{"word_embedding_dimension":24}' "none of"
bad_st "sqrt mode" 1_Pooling/config.json '{"word_embedding_dimension":24,"pooling_mode_mean_sqrt_len_tokens":true}' "pooling_mode_mean_sqrt_len_tokens' is true"
bad_st "dimension" 1_Pooling/config.json '{"word_embedding_dimension":32,"pooling_mode_cls_token":true}' "'word_embedding_dimension' = 32 but config.json dim is 24"
bad_st "bool type" 1_Pooling/config.json '{"word_embedding_dimension":24,"pooling_mode_cls_token":1}' "'pooling_mode_cls_token' must be true or false"
bad_st "NUL" 1_Pooling/config.json '{"a":"\u0000"}' "1_Pooling/config.json"
rm -rf "$T/st"; cp -r data/base-st "$T/st"; rm "$T/st/1_Pooling/config.json"; mkdir "$T/st/1_Pooling/config.json"
echo text | E --model "$T/st" > /dev/null 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "1_Pooling/config.json: not a regular file" "$T/err" || fail "pooling config a directory: $(cat "$T/err")"
ok "malformed modules.json / 1_Pooling/config.json: errors naming the file and field"

# ---- options
E --model $BASE --pooling avg "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 2 ] && grep -q "expected mean, cls or max" "$T/err" || fail "--pooling avg: exit $st"
E --model $BASE --all-scores "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 2 ] || fail "embed --all-scores: exit $st, expected 2"
S --pooling mean "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 2 ] || fail "score --pooling: exit $st, expected 2"
ok "option errors"
done_test
