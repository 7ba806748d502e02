#!/bin/bash
# vkbert score: input order, pass-through fields, stdin vs file, grouping on
# and off, --all-scores/--logits, and every malformed-line case of issue 6.
. "$(dirname "$0")/lib.sh" "$@"

make_jsonl 300 "$T/in.jsonl"
S "$T/in.jsonl" > "$T/out.jsonl"; rc=$?
[ $rc -eq 0 ] || fail "score rc $rc"
$PY - "$T/out.jsonl" <<'PYEOF' || fail "order/pass-through"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 300, len(rows)
for i, r in enumerate(rows):
    assert list(r.keys()) == ["id", "label", "score"], r
    assert r["id"] == i, (i, r)
    assert r["label"] in ("NEGATIVE", "POSITIVE") and 0.5 <= r["score"] <= 1.0, r
PYEOF
ok "300 lines in order with ids"

S < "$T/in.jsonl" > "$T/stdin.jsonl" || fail "stdin rc"
cmp -s "$T/out.jsonl" "$T/stdin.jsonl" || fail "stdin output differs from file output"
S --no-sort "$T/in.jsonl" > "$T/nosort.jsonl" || fail "no-sort rc"
same_scores "$T/out.jsonl" "$T/nosort.jsonl" || fail "--no-sort output differs"
S --window 7 --batch-tokens 100 "$T/in.jsonl" > "$T/small.jsonl" || fail "small window rc"
same_scores "$T/out.jsonl" "$T/small.jsonl" || fail "small windows/batches differ"
ok "stdin, --no-sort, small windows agree"

sed 's/$/\r/' "$T/in.jsonl" > "$T/crlf.jsonl"
S "$T/crlf.jsonl" > "$T/crlf.out" || fail "crlf rc"
cmp -s "$T/out.jsonl" "$T/crlf.out" || fail "CRLF input gives different output"
head -c -1 "$T/in.jsonl" > "$T/nonl.jsonl"
S "$T/nonl.jsonl" > "$T/nonl.out" || fail "no final newline rc"
cmp -s "$T/out.jsonl" "$T/nonl.out" || fail "missing final newline changes output"
ok "CRLF and missing final newline"

: > "$T/empty.jsonl"
S "$T/empty.jsonl" > "$T/empty.out"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$T/empty.out" ] || fail "0-byte input: rc $rc, output $(wc -c < "$T/empty.out") bytes"
S < /dev/null > "$T/empty2.out" && [ ! -s "$T/empty2.out" ] || fail "empty stdin"
ok "0-byte input"

S --all-scores --logits "$T/in.jsonl" | head -50 > "$T/all.jsonl"
$PY - "$T/all.jsonl" <<'PYEOF' || fail "--all-scores/--logits"
import json, math, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    s = r["scores"]
    assert set(s) == {"NEGATIVE", "POSITIVE"}, s
    assert abs(sum(s.values()) - 1) < 1e-5 and abs(s[r["label"]] - r["score"]) < 1e-7, r
    lg = r["logits"]
    assert len(lg) == 2 and (lg[1] > lg[0]) == (r["label"] == "POSITIVE"), r
    p1 = 1 / (1 + math.exp(lg[0] - lg[1]))
    assert abs(p1 - s["POSITIVE"]) < 1e-5, (p1, s)
PYEOF
ok "--all-scores and --logits"

# malformed lines: each yields an error object in place, the rest are scored
printf '{"id":"a","text":"good movie"}\r\n\r\n   \nnot json\n[1,2]\n{"id":5,"txt":"x"}\n{"id":6,"text":7}\n{"id":7,"text":"nul\0here"}\n{"id":8,"text":"bad \xff\xfe utf8"}\n"just a string"\n{"id":10,"text":"no final newline","label":3}' > "$T/bad.jsonl"
S "$T/bad.jsonl" > "$T/bad.out" 2> "$T/bad.err"; rc=$?
[ $rc -eq 1 ] || fail "bad lines: exit status $rc, expected 1"
$PY - "$T/bad.out" <<'PYEOF' || fail "error objects"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
want = [("a", None), (None, 4), (None, 5), (5, 6), (6, 7), (None, 8), (8, None), (None, 10), (10, None)]
assert len(rows) == len(want), rows
for r, (id_, line) in zip(rows, want):
    if line is None:
        assert "error" not in r and "score" in r and r.get("id") == id_, r
    else:
        assert r["line"] == line and isinstance(r["error"], str) and r.get("id") == id_, (r, line)
        assert "score" not in r
assert rows[-1]["input_label"] == 3, rows[-1]
print("ok")
PYEOF
ok "malformed lines -> error objects, exit 1"

# a 10 MB line is scored (truncated to max-len) and does not disturb others
$PY -c "
import json
print(json.dumps({'id': 0, 'text': 'good ' * 2000000}))
print(json.dumps({'id': 1, 'text': 'bad'}))" > "$T/big.jsonl"
S "$T/big.jsonl" > "$T/big.out" || fail "10 MB line rc"
[ "$(jsonl_check "$T/big.out")" = 2 ] || fail "10 MB line output"
ok "10 MB line"

# plain text: NUL bytes and invalid UTF-8 are text, not errors
printf 'first line\nwith\0nul\n\nbad \xc3\x28 utf8\r\n' > "$T/in.txt"
S "$T/in.txt" > "$T/txt.out" || fail "text rc"
[ "$(jsonl_check "$T/txt.out")" = 3 ] || fail "text lines"
ok "plain text with NUL and invalid UTF-8"
done_test
