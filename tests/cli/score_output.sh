#!/bin/bash
# vkbert score -o FILE safety (issue 11): the output is never one of the
# inputs (items 16), one FILE has one writer at a time (item 14), --resume
# only continues a regular file (item 20), and a write error is an error.
. "$(dirname "$0")/lib.sh" "$@"

SX() { exec "$B" score --model "$M" --device "$DEV" --quiet "$@"; }
make_jsonl 60 "$T/in.jsonl"
cp "$T/in.jsonl" "$T/in.orig"
S "$T/in.jsonl" > "$T/full.jsonl" || fail "full run"

# ---- item 16: -o an input (same name, symlink, hard link, stdin) is refused
ln -s in.jsonl "$T/sym.jsonl"
ln "$T/in.jsonl" "$T/hard.jsonl"
for o in in.jsonl sym.jsonl hard.jsonl; do
    for r in "" --resume; do
        S -o "$T/$o" $r "$T/in.jsonl" 2> "$T/err"; st=$?
        [ $st = 1 ] || fail "-o $o $r (the input): exit $st, expected 1"
        grep -q "also the input" "$T/err" || fail "-o $o $r: unclear message: $(cat "$T/err")"
        cmp -s "$T/in.jsonl" "$T/in.orig" || fail "-o $o $r changed the input"
    done
done
S -o "$T/in.jsonl" < "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "also the input (stdin)" "$T/err" || fail "-o FILE < FILE: exit $st: $(cat "$T/err")"
S -o "$T/hard.jsonl" - < "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] || fail "-o link - < FILE: exit $st"
cmp -s "$T/in.jsonl" "$T/in.orig" || fail "the input was changed"
# stdout appended to the input would be read back for ever
timeout -k 10 120 "$B" score --model "$M" --device "$DEV" --quiet "$T/in.jsonl" >> "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "output stdout is also the input" "$T/err" || fail ">> input: exit $st: $(cat "$T/err")"
cmp -s "$T/in.jsonl" "$T/in.orig" || fail ">> input changed the input"
# an output inside an IMDB-style input directory would be read as an input
mkdir -p "$T/imdb/pos" "$T/imdb/neg"
echo "a fine film" > "$T/imdb/pos/0_9.txt"; echo "a dull film" > "$T/imdb/neg/0_2.txt"
S -o "$T/imdb/pos/out.txt" "$T/imdb" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "inside the input directory" "$T/err" || fail "-o inside the input dir: exit $st: $(cat "$T/err")"
[ ! -e "$T/imdb/pos/out.txt" ] || fail "-o inside the input dir: the file was created"
ok "output that is an input: refused, input intact"

# ---- item 20: --resume into a device or FIFO is refused at once; a write
# error (/dev/full) is an error naming the file; a directory is an error
for dev in /dev/zero /dev/full /dev/null; do
    timeout -k 10 60 "$B" score --model "$M" --device "$DEV" --quiet -o $dev --resume "$T/in.jsonl" \
        2> "$T/err"; st=$?
    [ $st = 1 ] && grep -q "not a regular file" "$T/err" || fail "--resume -o $dev: exit $st: $(cat "$T/err")"
done
mkfifo "$T/fifo"
timeout -k 10 60 "$B" score --model "$M" --device "$DEV" --quiet -o "$T/fifo" --resume "$T/in.jsonl" \
    2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "not a regular file" "$T/err" || fail "--resume -o FIFO: exit $st: $(cat "$T/err")"
timeout -k 10 60 "$B" score --model "$M" --device "$DEV" --quiet -o /dev/full "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "writing /dev/full: No space left" "$T/err" || fail "-o /dev/full: exit $st: $(cat "$T/err")"
S -o /dev/null "$T/in.jsonl" || fail "-o /dev/null (no --resume) refused"
S -o "$T" "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "Is a directory" "$T/err" || fail "-o DIR: exit $st: $(cat "$T/err")"
S -o "$T/no/such/dir/out.jsonl" "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] && grep -q "no/such/dir/out.jsonl: No such file" "$T/err" || fail "-o missing dir: exit $st: $(cat "$T/err")"
ok "--resume into a device/FIFO refused; /dev/full and directories are errors"

# ---- item 14: a second vkbert on the same -o FILE fails at once, with or
# without --resume, and does not touch the first one's output
wait_lines() { # FILE N TIMEOUT_S
    local i=0
    while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ]; do
        sleep 0.1; i=$((i + 1)); [ $i -lt $(($3 * 10)) ] || return 1
    done
}
mkfifo "$T/feed"
( head -n 16 "$T/in.jsonl"; sleep 300 ) > "$T/feed" &
writer=$!
SX --window 8 -o "$T/out.jsonl" --resume < "$T/feed" &
pid=$!
wait_lines "$T/out.jsonl" 16 120 || fail "first run made no progress"
cp "$T/out.jsonl" "$T/out.before"
for r in --resume ""; do
    timeout -k 10 120 "$B" score --model "$M" --device "$DEV" --quiet --window 8 -o "$T/out.jsonl" $r \
        "$T/in.jsonl" 2> "$T/err"; st=$?
    [ $st = 1 ] || fail "second run $r: exit $st, expected 1"
    grep -q "out.jsonl is in use by another vkbert" "$T/err" || fail "second run $r: $(cat "$T/err")"
    cmp -s "$T/out.jsonl" "$T/out.before" || fail "second run $r changed the first one's output"
done
kill $writer 2>/dev/null; wait $writer 2>/dev/null
wait $pid; st=$?
[ $st = 0 ] || fail "first run: exit $st"
head -n 16 "$T/full.jsonl" > "$T/full16"; same_scores "$T/full16" "$T/out.jsonl" || fail "first run's output is not intact"
# the lock goes with the process: now a run may take the file
S -o "$T/out.jsonl" --resume "$T/in.jsonl" || fail "resume after the first run ended"
same_scores "$T/full.jsonl" "$T/out.jsonl" || fail "resumed output differs"
ok "two runs on one output: the second is refused, the first intact"
done_test
