#!/bin/bash
# --resume continues only the run FILE came from (issue 11, item 15): the
# run record FILE.vkbert.json names the options that shape the lines and
# fingerprints of the input's first 2^k records; FILE's last line must be
# the output of the last record it should hold.  Anything else is refused
# before a line is appended.
. "$(dirname "$0")/lib.sh" "$@"

make_jsonl 50 "$T/a.jsonl"
$PY - "$T/a.jsonl" "$T/b.jsonl" "$T/c.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:      # another input, same ids, other texts
    for r in rows: f.write(json.dumps({"id": r["id"], "text": r["text"] + " indeed"}) + "\n")
with open(sys.argv[3], "w") as f:      # the same first 8 records, then other ids
    for i, r in enumerate(rows): f.write(json.dumps({"id": r["id"] + (1000 if i >= 8 else 0), "text": r["text"]}) + "\n")
PYEOF
S -o "$T/full.jsonl" "$T/a.jsonl" || fail "full run"
[ -s "$T/full.jsonl.vkbert.json" ] || fail "no run record beside the output"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["complete"] and d["records"]==50 and d["lines"]==50, d' \
    "$T/full.jsonl.vkbert.json" || fail "run record of a finished run"

# part: the first 10 lines of the run, with its record (as after a crash)
part() { head -n 10 "$T/full.jsonl" > "$T/part.jsonl"; cp "$T/full.jsonl.vkbert.json" "$T/part.jsonl.vkbert.json"; }
refused() { # WHAT PATTERN ARGS...: the resume must fail, name the cause, append nothing
    local what=$1 pat=$2; shift 2
    part
    S -o "$T/part.jsonl" --resume "$@" 2> "$T/err"; local st=$?
    [ $st = 1 ] || fail "$what: exit $st, expected 1"
    grep -q -- "$pat" "$T/err" || fail "$what: message: $(cat "$T/err")"
    head -n 10 "$T/full.jsonl" | cmp -s - "$T/part.jsonl" || fail "$what: the output was changed"
}
refused "another input" "the input differs" "$T/b.jsonl"
refused "same start, other records" "last line of .*part.jsonl was not written" "$T/c.jsonl"
refused "other options" "all_scores false, this run has true" --all-scores "$T/a.jsonl"
refused "other shard" "shard \[0,1\], this run has \[1,2\]" --shard 1/2 "$T/a.jsonl"
refused "other max-len" "max_len" --max-len 16 "$T/a.jsonl"
head -n 5 "$T/a.jsonl" > "$T/short.jsonl"
refused "input shorter than the output" "has 10 lines but the input only 5 records" "$T/short.jsonl"
part; rm "$T/part.jsonl.vkbert.json"
S -o "$T/part.jsonl" --resume "$T/a.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "no .*part.jsonl.vkbert.json" "$T/err" || fail "no run record: exit $st: $(cat "$T/err")"
ok "resume with another input, other options or no run record: refused, output intact"

# the same input continues, from a file and from stdin; a run record given
# as an input is refused
part
S -o "$T/part.jsonl" --resume "$T/a.jsonl" || fail "resume from the file"
same_scores "$T/full.jsonl" "$T/part.jsonl" || fail "resumed output differs"
part
S -o "$T/part.jsonl" --resume < "$T/a.jsonl" || fail "resume from stdin"
same_scores "$T/full.jsonl" "$T/part.jsonl" || fail "resumed (stdin) output differs"
S -o "$T/part.jsonl" "$T/part.jsonl.vkbert.json" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "run record of the output" "$T/err" || fail "record as input: exit $st: $(cat "$T/err")"
# an empty output needs no record
: > "$T/empty.jsonl"
S -o "$T/empty.jsonl" --resume "$T/a.jsonl" || fail "resume of an empty file"
same_scores "$T/full.jsonl" "$T/empty.jsonl" || fail "resume of an empty file differs"
ok "resume of the same input (file, stdin, empty output)"

# plain text (no pass-through fields): the fingerprints catch another text
printf 'good movie\nbad movie\nfine\nawful\nsuperb\nmeh\nok\nyes\nno\nmaybe\n' > "$T/a.txt"
printf 'good movie\nbad movie\nfine\nawful\nsuperb\nmeh\nok\nYES\nno\nmaybe\n' > "$T/b.txt"
S -o "$T/t.jsonl" "$T/a.txt" || fail "text run"
head -n 9 "$T/t.jsonl" > "$T/t9"; cp "$T/t9" "$T/t.jsonl"
S -o "$T/t.jsonl" --resume "$T/b.txt" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "the input differs" "$T/err" || fail "text: exit $st: $(cat "$T/err")"
cmp -s "$T/t9" "$T/t.jsonl" || fail "text: output changed"
ok "plain text: another input refused"
done_test
