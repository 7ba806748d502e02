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

done_test
