#!/bin/bash
# vkbert eval (metrics agree with the scores of `vkbert score`), --balanced,
# classify's HF pipeline format, tokenize, check, help and usage errors.
. "$(dirname "$0")/lib.sh" "$@"
E() { "$B" eval --model "$M" --device "$DEV" --quiet "$@"; }

$PY - > "$T/lab.jsonl" <<'PYEOF'
import json, random
random.seed(3)
w = "the a movie film great bad good terrible plot acting was not very fun boring".split()
for i in range(40):
    lab = [0, 1, "NEGATIVE", "POSITIVE", "neg", "pos"][i % 6]
    print(json.dumps({"text": " ".join(random.choice(w) for _ in range(random.randint(2, 30))), "label": lab}))
PYEOF
E --json "$T/ev.json" "$T/lab.jsonl" > "$T/ev.md" || fail "eval rc"
S "$T/lab.jsonl" > "$T/lab.out" || fail "score rc"
$PY - "$T" <<'PYEOF' || fail "eval metrics"
import json, sys
T = sys.argv[1]
gold = [json.loads(l)["label"] for l in open(T + "/lab.jsonl")]
gold = [g if isinstance(g, int) else (1 if g.lower().startswith("pos") else 0) for g in gold]
pred = [1 if json.loads(l)["label"] == "POSITIVE" else 0 for l in open(T + "/lab.out")]
tp = sum(g == 1 and p == 1 for g, p in zip(gold, pred)); fp = sum(g == 0 and p == 1 for g, p in zip(gold, pred))
fn = sum(g == 1 and p == 0 for g, p in zip(gold, pred))
acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
P = tp / (tp + fp) if tp + fp else 0; R = tp / (tp + fn) if tp + fn else 0
F = 2 * P * R / (P + R) if P + R else 0
ev = json.load(open(T + "/ev.json"))
assert ev["examples"] == 40 and ev["positive"] == 20, ev
for k, v in (("accuracy", acc), ("precision", P), ("recall", R), ("f1", F)):
    assert abs(ev[k] - v) < 1e-6, (k, ev[k], v)
assert ev["ms_per_example"] > 0 and ev["device"], ev
md = open(T + "/ev.md").read()
assert "| Accuracy | %.4f |" % acc in md and "| F1 |" in md and "ms/example" in md, md
PYEOF
ok "eval metrics match the scores"

E --balanced 10 --json - "$T/lab.jsonl" > "$T/b1.json" || fail "balanced rc"
E --balanced 10 --json - "$T/lab.jsonl" > "$T/b2.json" || fail "balanced rc 2"
$PY -c "
import json,sys
a=json.load(open('$T/b1.json')); b=json.load(open('$T/b2.json'))
assert a['examples']==10 and a['positive']==5 and a['balanced'], a
assert a['accuracy']==b['accuracy'], (a,b)" || fail "balanced"
E --balanced 100 "$T/lab.jsonl" > /dev/null 2> "$T/err"; st=$?
[ $st -eq 1 ] && grep -q "needs 50 examples" "$T/err" || fail "balanced too large: $st $(cat "$T/err")"
printf '{"text":"x","label":"maybe"}\n{"text":"y","label":1}\n' > "$T/unk.jsonl"
E "$T/unk.jsonl" > /dev/null 2> "$T/err"; st=$?
[ $st -eq 1 ] && grep -q "label not known" "$T/err" || fail "unknown label: $st $(cat "$T/err")"
ok "eval --balanced and bad labels"

out=$("$B" classify --model "$M" --device "$DEV" "a good movie" "bad plot") || fail "classify rc"
echo "$out" | grep -Eq '^\[\{"label": "(POSITIVE|NEGATIVE)", "score": 0\.[0-9]{4,}\}, \{"label": "(POSITIVE|NEGATIVE)", "score": 0\.[0-9]{4,}\}\]$' \
    || fail "classify format: $out"
lab=$(printf '{"text":"a good movie"}\n' | S | $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['label'])")
echo "$out" | grep -q "^\[{\"label\": \"$lab\"" || fail "classify and score disagree: $out vs $lab"
"$B" classify --model "$M" < /dev/null > /dev/null 2>&1; [ $? -eq 2 ] || fail "classify without text"
ok "classify: $out"

printf 'hello world\n{"text": "hello world"}\n\n' | "$B" tokenize --model "$M" > "$T/tok.out" || fail "tokenize rc"
cls=$(grep -nx '\[CLS\]' "$M/vocab.txt" | cut -d: -f1); sep=$(grep -nx '\[SEP\]' "$M/vocab.txt" | cut -d: -f1)
$PY - "$T/tok.out" $((cls - 1)) $((sep - 1)) <<'PYEOF' || fail "tokenize output"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2 and rows[0] == rows[1], rows
assert rows[0][0] == int(sys.argv[2]) and rows[0][-1] == int(sys.argv[3]) and len(rows[0]) > 2, rows
PYEOF
head -c 3000 /dev/zero | tr '\0' 'a' | sed 's/a/a /g' | "$B" tokenize --model "$M" --max-len 16 | $PY -c "
import json,sys; r=json.loads(sys.stdin.readline()); assert len(r)==16, r" || fail "tokenize --max-len"
ok "tokenize"

# check: on gpu the Vulkan backend, on cpu the fp32 CPU path, vs fp64
"$B" check --model "$M" --device "$DEV" > "$T/check.out" || fail "check: $(cat "$T/check.out")"
grep -q "^PASS" "$T/check.out" && grep -q "^layer 1 " "$T/check.out" || fail "check output"
printf 'good movie\nbad plot\n' > "$T/check.txt"
"$B" check --model "$M" --device "$DEV" --random 0 "$T/check.txt" > "$T/check2.out" || fail "check FILE"
grep -q "inputs: 2 sequences (2 texts, 0 random)" "$T/check2.out" || fail "check FILE inputs"
"$B" check --shape distilbert-base --max-len 16 --random 2 --device "$DEV" > "$T/check3.out" \
    || fail "check --shape: $(cat "$T/check3.out")"
grep -q "^layer 5 " "$T/check3.out" && grep -q "^PASS" "$T/check3.out" || fail "check --shape output"
rc=0; "$B" check --shape distilbert-huge > "$T/check4.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "unknown shape 'distilbert-huge' (known: distilbert-base)" "$T/check4.out" \
    || fail "check --shape unknown: exit $rc: $(cat "$T/check4.out")"
ok "check"
if [ "$DEV" != cpu ]; then
    "$B" devices --json | $PY -c "
import json,sys; d=json.load(sys.stdin)['devices']; assert d and all('name' in x for x in d), d" || fail "devices --json"
    "$B" devices | grep -q "^gpu:0 " || fail "devices"
    ok "devices"
fi
"$B" --help > /dev/null || fail "--help"
"$B" score --help | grep -q -- "--resume" || fail "score --help"
"$B" --version | grep -q "^vkbert " || fail "--version"
"$B" score --nope < /dev/null > /dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option: not exit 2"
"$B" frobnicate > /dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command: not exit 2"
"$B" tokenize --logits < /dev/null > /dev/null 2>&1; [ $? -eq 2 ] || fail "option of another command: not exit 2"
"$B" score --max-len x < /dev/null > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad --max-len: not exit 2"
"$B" score --model /nonexistent < /dev/null > /dev/null 2> "$T/err"; [ $? -eq 1 ] && grep -q /nonexistent "$T/err" || fail "bad model dir"
ok "help, version, usage errors"
done_test
