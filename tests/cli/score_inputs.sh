#!/bin/bash
# vkbert score on hostile or unusual input files (issue 11): gzip/zstd input
# from files and pipes, other binary input refused, CSV on stdin with
# --text-column, the format chosen said on stderr, pass-through fields byte
# for byte, a missing text field failing once.
. "$(dirname "$0")/lib.sh" "$@"
SV() { "$B" score --model "$M" --device "$DEV" "$@"; }   # not --quiet: stderr says the format

$PY - "$T/in.jsonl" <<'PYEOF'
import sys
w = "the a movie film great bad good terrible plot acting was is not very fun boring".split()
with open(sys.argv[1], 'w') as f:
    for i in range(300):
        f.write('{"id": %d, "text": "%s"}\n' % (i, " ".join(w[(i * 7 + k) % len(w)] for k in range(i % 13 + 1))))
PYEOF
S "$T/in.jsonl" > "$T/plain.out" || fail "plain rc"
gzip -c "$T/in.jsonl" > "$T/in.jsonl.gz"
zstd -q -c "$T/in.jsonl" > "$T/in.jsonl.zst"
SV "$T/in.jsonl.gz" > "$T/gz.out" 2> "$T/gz.err" || fail "gzip file rc: $(cat "$T/gz.err")"
cmp -s "$T/plain.out" "$T/gz.out" || fail "gzip file output differs"
grep -q "reading .*in.jsonl.gz as gzip-compressed JSON lines (by extension)" "$T/gz.err" || fail "gzip: stderr $(cat "$T/gz.err")"
cat "$T/in.jsonl.gz" | S > "$T/gzpipe.out" || fail "gzip pipe rc"
cmp -s "$T/plain.out" "$T/gzpipe.out" || fail "gzip from a pipe differs"
cat "$T/in.jsonl.zst" | SV > "$T/zst.out" 2> "$T/zst.err" || fail "zstd pipe rc"
cmp -s "$T/plain.out" "$T/zst.out" || fail "zstd from a pipe differs"
grep -q "reading stdin as zstd-compressed JSON lines (by content)" "$T/zst.err" || fail "zstd: stderr $(cat "$T/zst.err")"
ok "gzip and zstd, files and pipes"

head -c $(( $(stat -c %s "$T/in.jsonl.gz") / 2 )) "$T/in.jsonl.gz" > "$T/cut.jsonl.gz"
S "$T/cut.jsonl.gz" > "$T/cut.out" 2> "$T/cut.err"; st=$?
[ $st -ne 0 ] && grep -q "cut.jsonl.gz: truncated gzip" "$T/cut.err" || fail "truncated gzip: exit $st $(cat "$T/cut.err")"
bzip2 -c "$T/in.jsonl" > "$T/in.jsonl.bz2" 2>/dev/null || printf 'BZh91AY&SY\001\002' > "$T/in.jsonl.bz2"
S "$T/in.jsonl.bz2" > "$T/bz.out" 2> "$T/bz.err"; st=$?
[ $st -ne 0 ] && [ ! -s "$T/bz.out" ] && grep -q "in.jsonl.bz2: refused: bzip2" "$T/bz.err" || fail "bzip2: exit $st $(cat "$T/bz.err")"
head -c 3000 /dev/urandom > "$T/random.bin"
S "$T/random.bin" > "$T/rnd.out" 2> "$T/rnd.err"; st=$?
[ $st -ne 0 ] && [ ! -s "$T/rnd.out" ] && grep -q "random.bin: does not look like UTF-8 text" "$T/rnd.err" || fail "random bytes: exit $st $(cat "$T/rnd.err")"
ok "truncated gzip, bzip2 and binary data refused"

# CSV piped on stdin with --text-column is CSV, not text lines
printf 'id,review\n1,"a good, great movie"\n2,bad plot\n' > "$T/r.csv"
cat "$T/r.csv" | SV --text-column review > "$T/csvpipe.out" 2> "$T/csvpipe.err" || fail "csv pipe rc"
S --text-column review "$T/r.csv" > "$T/csvfile.out" || fail "csv file rc"
cmp -s "$T/csvpipe.out" "$T/csvfile.out" || fail "csv from a pipe differs from the file"
[ "$(jsonl_check "$T/csvpipe.out")" = 2 ] || fail "csv pipe: not 2 lines"
grep -q "reading stdin as CSV (by content)" "$T/csvpipe.err" || fail "csv pipe stderr $(cat "$T/csvpipe.err")"
printf 'just text\nmore text\n' | S --text-column review > "$T/tc.out" 2> "$T/tc.err"; st=$?
[ $st -ne 0 ] && [ ! -s "$T/tc.out" ] && grep -q "text-column review" "$T/tc.err" || fail "text + --text-column: exit $st $(cat "$T/tc.err")"
# a .txt whose first line starts with { is text; --format overrides
printf '{"text": "json looking"}\nplain line\n' > "$T/j.txt"
SV "$T/j.txt" > "$T/jt.out" 2> "$T/jt.err" || fail "j.txt rc"
[ "$(jsonl_check "$T/jt.out")" = 2 ] && grep -q "as text lines (by extension)" "$T/jt.err" || fail "j.txt: $(cat "$T/jt.err")"
SV --format jsonl "$T/j.txt" > "$T/jj.out" 2> "$T/jj.err"; st=$?
[ $st -eq 1 ] && grep -q "as JSON lines (by --format)" "$T/jj.err" || fail "--format jsonl: exit $st $(cat "$T/jj.err")"
ok "format rule: CSV on stdin, text with {, --format"

# pass-through fields byte for byte
printf '{"id": 1234567890123456789, "text": "good", "a": 9007199254740993, "b": 1e400, "c": 0.30000000000000004, "d": {"x": [1, 2.50]}}\n' > "$T/ids.jsonl"
S "$T/ids.jsonl" > "$T/ids.out" || fail "ids rc"
grep -q '^{"id":1234567890123456789,"a":9007199254740993,"b":1e400,"c":0.30000000000000004,"d":{"x": \[1, 2.50\]},"label":' "$T/ids.out" || fail "pass-through: $(cat "$T/ids.out")"
printf '{"id": 5, "text": "a", "label": 1e300}\n{"id": 6, "text": "b", "k": 1, "k": 2}\n' > "$T/odd.jsonl"
S "$T/odd.jsonl" > "$T/odd.out"; st=$?
[ $st -eq 1 ] && grep -q '"input_label":1e300' "$T/odd.out" && grep -q 'duplicate key.*"id":6' "$T/odd.out" || fail "label 1e300 / duplicate key: $st $(cat "$T/odd.out")"
ok "pass-through bytes"

# a missing text field: one message naming it and the fields present
printf '{"id": %d, "review": "x"}\n' 1 2 3 4 5 6 7 8 9 10 > "$T/nofield.jsonl"
S "$T/nofield.jsonl" > "$T/nf.out" 2> "$T/nf.err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/nf.out" ] && [ "$(grep -c 'missing' "$T/nf.err")" = 1 ] &&
    grep -q '"text".*fields: id, review' "$T/nf.err" || fail "missing field: exit $st $(cat "$T/nf.err") $(head -3 "$T/nf.out")"
ok "missing text field fails once"
done_test
