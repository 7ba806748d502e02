#!/bin/bash
# Arguments and options of every command are used or refused, never ignored
# (issue 11 items 3, 4, 7 and what was found beside them): check on a file
# without the text field, tokenize's arguments, eval's edge cases, unknown
# options with a suggestion, classify from stdin and --top-k, check --json
# and bench --json.
. "$(dirname "$0")/lib.sh" "$@"

# ---- check FILE: a file whose records have no text must fail, naming the field
echo '{"review": "a fine film"}' > "$T/notext.jsonl"
printf 'review,stars\na fine film,5\n' > "$T/notext.csv"
for f in notext.jsonl notext.csv; do
    if "$B" check --model "$M" --device "$DEV" "$T/$f" > "$T/chk.out" 2> "$T/chk.err"; then
        fail "check passed on $f, which has no text field"
    elif ! grep -qE "\"text\"|'text'" "$T/chk.err"; then
        fail "check on $f: message does not name the field: $(cat "$T/chk.err")"
    elif grep -q PASS "$T/chk.out"; then
        fail "check on $f printed PASS"
    else
        ok "check refuses $f: $(head -c 200 "$T/chk.err")"
    fi
done
"$B" check --model "$M" --device "$DEV" --text-column review "$T/notext.csv" > "$T/chk.out" 2>&1 \
    && grep -q PASS "$T/chk.out" || fail "check --text-column review on the CSV: $(cat "$T/chk.out")"
: > "$T/empty.jsonl"
"$B" check --model "$M" --device "$DEV" --random 0 "$T/empty.jsonl" > /dev/null 2>&1 \
    && fail "check passed on an empty file (0 inputs checked)"
"$B" check --model "$M" --device "$DEV" --random 0 "$T/empty.jsonl" 2>&1 | grep -q 'no texts' \
    || fail "check on an empty file: no 'no texts' message"
# check --json: one object for CI
"$B" check --model "$M" --device "$DEV" --json > "$T/chk.json" || fail "check --json rc"
$PY - "$T/chk.json" <<'PYEOF' || fail "check --json content"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
j = json.loads(lines[0])
assert j["pass"] is True and j["inputs"] == 14 and j["texts"] == 6 and j["random"] == 8, j
assert j["labels_agree"] == j["labels_total"] == 14, j
assert 0 <= j["max_abs_error"] <= j["tolerance"], j
assert j["precision"] in ("fp32", "fp16") and j["device"] and j["reference"], j
assert [l["state"] for l in j["layers"]] == ["embeddings", "layer 0", "layer 1"], j["layers"]
PYEOF
ok "check --json"

# ---- tokenize TEXT...: the arguments are tokenized (not ignored for stdin)
a=$("$B" tokenize --model "$M" "hello world" "a" < /dev/null) || fail "tokenize args rc"
b=$(printf 'hello world\na\n' | "$B" tokenize --model "$M") || fail "tokenize stdin rc"
[ -n "$a" ] && [ "$a" = "$b" ] || fail "tokenize TEXT... differs from the same lines on stdin: '$a' vs '$b'"
[ "$(printf '{"t": "hello world"}\n' | "$B" tokenize --model "$M" --text-column t -)" = "$(echo "$a" | head -1)" ] \
    || fail "tokenize - --text-column t"
ok "tokenize TEXT..."

# ---- options a command would ignore, stray arguments: refused (exit 2)
usage() { # usage DESCRIPTION PATTERN CMD...: exit 2 and stderr matching PATTERN
    local what=$1 pat=$2; shift 2
    "$@" < /dev/null > "$T/u.out" 2> "$T/u.err"; local st=$?
    [ $st -eq 2 ] && grep -qE -- "$pat" "$T/u.err" && [ ! -s "$T/u.out" ] \
        || fail "$what: rc $st, stderr: $(head -c 300 "$T/u.err")"
}
usage "tokenize --device" "does not apply" "$B" tokenize --model "$M" --device cpu x
usage "check --batch-tokens" "does not apply" "$B" check --model "$M" --batch-tokens 64
usage "bench with an argument" "unexpected argument 'x.jsonl'.*--input" "$B" bench --model "$M" x.jsonl
usage "bench --input with --seq" "do not apply with --input" "$B" bench --model "$M" --input x --seq 8
usage "bench --max-len without --input" "only with --input" "$B" bench --model "$M" --max-len 8
usage "devices --json=FILE" "takes no argument" "$B" devices --json=x
usage "--seed 12abc" "--seed" "$B" eval --model "$M" --balanced 2 --seed 12abc
usage "--top-k 0" "--top-k" "$B" classify --model "$M" --top-k 0 x
usage "--device gpu0" "--device" "$B" classify --model "$M" --device gpu0 x
usage "--device gpu:1x" "--device" "$B" classify --model "$M" --device gpu:1x x
usage "score --label-column (score has no gold labels)" "does not apply" "$B" score --label-column y
usage "--device cpu --precision fp16 (the CPU computes in fp32)" "fp32" "$B" classify --model "$M" --device cpu --precision fp16 x
"$B" classify --model "$M" --device "$DEV" --max-len 100000 x 2>&1 >/dev/null | grep -q "exceeds the model's 64 positions" \
    || fail "--max-len beyond the model: no note"
usage "--model without its argument" "--model needs an argument" "$B" classify --model
# unknown options suggest the closest real one, HF / ONNX Runtime names included
usage "--batch-size" "did you mean --batch-tokens" "$B" score --batch-size 32
usage "--batch_size=32" "did you mean --batch-tokens" "$B" classify --batch_size=32 x
usage "--max-length" "did you mean --max-len" "$B" classify --max-length 64 x
usage "--truncation" "did you mean --max-len" "$B" classify --truncation x
usage "--providers" "did you mean --device" "$B" score --providers cpu
usage "--top_k" "did you mean --top-k" "$B" classify --top_k 2 x
usage "--devcie" "did you mean --device" "$B" classify --devcie cpu x
usage "--all-score" "did you mean --all-scores" "$B" score --all-scoress
"$B" score --frobnicate-widely < /dev/null 2>&1 | grep -q "did you mean" && fail "a far-off option got a suggestion"
ok "ignored options and arguments are refused, with suggestions"

# ---- eval: edge cases end in a clean failure, no table
$PY -c "
import json
for i in range(300): print(json.dumps({'text': 'film %d' % i, 'label': i % 2}))" > "$T/l300.jsonl"
E() { "$B" eval --model "$M" --device "$DEV" --quiet "$@"; }
E --balanced 1000 --json "$T/b.json" "$T/l300.jsonl" > "$T/e.out" 2> "$T/e.err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/e.out" ] && [ ! -s "$T/b.json" ] && grep -q "needs 500 examples" "$T/e.err" \
    || fail "eval --balanced 1000 on 300: rc $st, stdout: $(head -c 200 "$T/e.out")"
grep -q balanced "$T/e.out" && fail "eval --balanced 1000 on 300 printed a table footed balanced"
usage "eval --balanced 11 (odd)" "must be even" "$B" eval --model "$M" --balanced 11 "$T/l300.jsonl"
usage "eval --seed without --balanced" "only applies with --balanced" "$B" eval --model "$M" --seed 3 "$T/l300.jsonl"
printf '{"text":"x","label":"MAYBE"}\n{"text":"y","label":1}\n' > "$T/unk.jsonl"
E "$T/unk.jsonl" > "$T/e.out" 2> "$T/e.err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/e.out" ] && grep -q "0=NEGATIVE 1=POSITIVE" "$T/e.err" \
    || fail "eval with a label not in id2label: rc $st, $(cat "$T/e.out" "$T/e.err")"
printf '{"text":"x","stars":1}\n' > "$T/nolab.jsonl"
E "$T/nolab.jsonl" > "$T/e.out" 2> "$T/e.err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/e.out" ] && grep -q '"label"' "$T/e.err" || fail "eval without labels: rc $st"
E --label-column stars "$T/nolab.jsonl" > "$T/e.out" 2>&1 && grep -q "^| Accuracy" "$T/e.out" \
    || fail "eval --label-column stars: $(cat "$T/e.out")"
E "$T/empty.jsonl" > "$T/e.out" 2> "$T/e.err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/e.out" ] && grep -q "no labeled examples" "$T/e.err" || fail "eval on 0 examples: rc $st"
E --json /nonexistent/dir/x.json "$T/l300.jsonl" > "$T/e.out" 2> "$T/e.err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/e.out" ] || fail "eval --json to an unwritable path: rc $st, printed a table"
"$B" eval --model data/base-f32 --device "$DEV" --quiet "$T/l300.jsonl" > "$T/e.out" 2> "$T/e.err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/e.out" ] && grep -q "no classifier head" "$T/e.err" || fail "eval of a base model: rc $st"
# --json takes the output file: never the input data set
cp "$T/l300.jsonl" "$T/keep.jsonl"
usage "eval --json INPUT (no other input)" "takes the file to write" "$B" eval --model "$M" --json "$T/keep.jsonl"
usage "eval --json INPUT INPUT" "also an input" "$B" eval --model "$M" --json "$T/keep.jsonl" "$T/keep.jsonl"
cmp -s "$T/keep.jsonl" "$T/l300.jsonl" || fail "eval --json overwrote its input"
ok "eval edge cases"

# ---- classify: stdin (no TEXT, or -) and --top-k as the HF pipeline's top_k
C() { "$B" classify --model "$M" --device "$DEV" --quiet "$@"; }
args=$(C "a good movie" "bad plot") || fail "classify rc"
[ "$(printf 'a good movie\n\nbad plot\n' | C)" = "$args" ] || fail "classify from stdin differs from TEXT args"
[ "$(printf 'a good movie\nbad plot\n' | C -)" = "$args" ] || fail "classify - differs from TEXT args"
C < /dev/null > /dev/null 2>&1; [ $? -eq 2 ] || fail "classify with empty stdin: not exit 2"
C --top-k all "a good movie" "bad plot" > "$T/k.json" || fail "classify --top-k all rc"
C --top-k 1 "a good movie" "bad plot" > "$T/k1.json" || fail "classify --top-k 1 rc"
$PY - "$T/k.json" "$T/k1.json" "$args" <<'PYEOF' || fail "classify --top-k"
import json, sys
allk = json.load(open(sys.argv[1])); k1 = json.load(open(sys.argv[2])); best = json.loads(sys.argv[3])
assert len(allk) == 2 and all(len(x) == 2 for x in allk), allk
for lst, b, one in zip(allk, best, k1):
    assert lst[0] == b and one == [b], (lst, b, one)           # best first, as the default
    assert lst[0]["score"] >= lst[1]["score"], lst
    assert {d["label"] for d in lst} == {"NEGATIVE", "POSITIVE"}, lst
    assert abs(sum(d["score"] for d in lst) - 1) < 1e-5, lst
PYEOF
ok "classify stdin and --top-k"

# ---- score --top-k: "top_k" as the pipeline's list, best first; an input
# field named top_k cannot clash with it
printf '{"id": 1, "text": "a good movie", "top_k": 3}\n' > "$T/tk.jsonl"
S --top-k all --all-scores "$T/tk.jsonl" > "$T/tk.out" || fail "score --top-k rc"
$PY - "$T/tk.out" <<'PYEOF' || fail "score --top-k: $(cat "$T/tk.out")"
import json, sys
line = open(sys.argv[1]).read()
r = json.loads(line)
assert list(r) == ["id", "input_top_k", "label", "score", "scores", "top_k"], list(r)
assert r["top_k"][0] == {"label": r["label"], "score": r["score"]}, r
assert sorted(d["label"] for d in r["top_k"]) == sorted(r["scores"]), r
assert all(r["scores"][d["label"]] == d["score"] for d in r["top_k"]), r
assert r["top_k"][0]["score"] >= r["top_k"][1]["score"], r
PYEOF
S --top-k 1 "$T/tk.jsonl" | grep -q ',"top_k":\[{"label":"[A-Z]*","score":[0-9.e-]*}\]}$' || fail "score --top-k 1"
ok "score --top-k"

# ---- bench --json: what makes runs from different machines comparable
"$B" bench --model "$M" --device "$DEV" --quiet --json --batch 2 --seq 8 --iters 1 > "$T/bj.json" \
    || fail "bench --json rc"
"$B" bench --model "$M" --device "$DEV" --quiet --json --input "$T/l300.jsonl" > "$T/be.json" \
    || fail "bench --json --input rc"
$PY - "$T/bj.json" "$T/be.json" "$("$B" --version)" <<'PYEOF' || fail "bench --json fields"
import json, re, sys, datetime
for path in sys.argv[1:3]:
    lines = open(path).read().splitlines()
    assert len(lines) == 1, lines
    j = json.loads(lines[0])
    assert j["vkbert_version"] and j["vkbert_version"] in sys.argv[3], j
    assert j["git_commit"] and j["git_commit"] in sys.argv[3], (j["git_commit"], sys.argv[3])
    assert re.fullmatch(r"[0-9a-f]{7,}(-dirty)?|unknown|.*-g[0-9a-f]+(-dirty)?", j["git_commit"]), j
    t = datetime.datetime.strptime(j["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((datetime.datetime.utcnow() - t).total_seconds()) < 600, j["timestamp"]
    assert j["host_cpu"] and j["os"].startswith("Linux ") and j["host_cpus"] >= 1, j
    assert j["model_dims"] == {"layers": 2, "dim": 32, "heads": 4, "hidden": 64, "vocab": j["model_dims"]["vocab"],
                               "labels": 2, "max_pos": 64}, j["model_dims"]
    assert j["device"] and j["precision"] in ("fp32", "fp16"), j
PYEOF
"$B" bench --model "$M" --device "$DEV" --quiet --input "$T/notext.jsonl" > "$T/bn.out" 2> "$T/bn.err"; st=$?
[ $st -eq 1 ] && grep -qE 'no text scored|missing "text" field' "$T/bn.err" || fail "bench --input on a file without texts: rc $st"
ok "bench --json"

done_test
