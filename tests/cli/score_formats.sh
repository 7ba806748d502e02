#!/bin/bash
# vkbert score on CSV (quotes, "" escapes, multi-line fields, CRLF), TSV,
# plain text, an IMDB-style directory, and the same texts as JSON lines:
# every format must give the same label and score for the same text.
. "$(dirname "$0")/lib.sh" "$@"

printf 'id,review,stars\r\n1,"a good, ""great"" movie",5\r\n2,"bad\nplot\r\nbad acting",1\r\n3,plain text,3\r\n' > "$T/in.csv"
S --text-column review "$T/in.csv" > "$T/csv.out" || fail "csv rc"
printf 'review\tid\nbad plot\t7\nsays "hi" there\t8\n' > "$T/in.tsv"
S --text-column review "$T/in.tsv" > "$T/tsv.out" || fail "tsv rc"
$PY - "$T" <<'PYEOF' > "$T/ref.jsonl"
import json
for t in ['a good, "great" movie', 'bad\nplot\r\nbad acting', 'plain text', 'bad plot', 'says "hi" there']:
    print(json.dumps({"text": t}))
PYEOF
S "$T/ref.jsonl" > "$T/ref.out" || fail "ref rc"
$PY - "$T" <<'PYEOF' || fail "csv/tsv vs jsonl"
import json, sys
T = sys.argv[1]
ref = [json.loads(l) for l in open(T + "/ref.out")]
csv = [json.loads(l) for l in open(T + "/csv.out")]
tsv = [json.loads(l) for l in open(T + "/tsv.out")]
assert [r["id"] for r in csv] == ["1", "2", "3"] and [r["stars"] for r in csv] == ["5", "1", "3"], csv
assert [r["id"] for r in tsv] == ["7", "8"], tsv
for a, b in zip(csv + tsv, ref):
    assert a["label"] == b["label"] and abs(a["score"] - b["score"]) < 1e-5, (a, b)
PYEOF
ok "CSV and TSV agree with JSON lines"

S "$T/in.csv" > /dev/null 2> "$T/err"; st=$?
[ $st -eq 1 ] && grep -q "no column named 'text'" "$T/err" || fail "missing text column: exit $st, $(cat "$T/err")"
printf 'text\n"unterminated\n' > "$T/bad.csv"
S "$T/bad.csv" > "$T/bad.out"; st=$?
[ $st -eq 1 ] && grep -q '"error":"unterminated' "$T/bad.out" || fail "unterminated quote: exit $st $(cat "$T/bad.out")"
ok "CSV errors"

mkdir -p "$T/imdb/pos" "$T/imdb/neg"
printf 'a good movie\n' > "$T/imdb/pos/10_9.txt"
printf 'plain text' > "$T/imdb/pos/2_8.txt"
printf 'bad plot' > "$T/imdb/neg/0_2.txt"
S "$T/imdb" > "$T/dir.out" || fail "dir rc"
$PY - "$T/dir.out" <<'PYEOF' || fail "imdb dir"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [(r["file"], r["input_label"]) for r in rows] == [("neg/0_2.txt", "neg"), ("pos/2_8.txt", "pos"), ("pos/10_9.txt", "pos")], rows
PYEOF
ok "IMDB directory"

printf 'good movie\nbad plot\n' > "$T/a.txt"
S --format text "$T/a.txt" "$T/ref.jsonl" > "$T/multi.out" || fail "two inputs"
[ "$(jsonl_check "$T/multi.out")" = 7 ] || fail "two inputs: line count"
S --format csv --text-column review < "$T/in.csv" > "$T/csvstdin.out" || fail "csv from stdin"
cmp -s "$T/csv.out" "$T/csvstdin.out" || fail "csv from stdin differs"
ok "several inputs, --format on stdin"
done_test
