#!/bin/bash
# vkbert score under faults: a closed output pipe, SIGINT while blocked on
# input and while scoring, and --resume continuing an interrupted run
# without scoring any line twice (issue 6).
. "$(dirname "$0")/lib.sh" "$@"

# SX: like S but exec'ed, so that $! of `SX ... &` is vkbert itself
SX() { exec "$B" score --model "$M" --device "$DEV" --quiet "$@"; }
make_jsonl 400 "$T/in.jsonl"
S --window 8 "$T/in.jsonl" > "$T/full.jsonl" || fail "full run"

# closed pipe: exactly one complete line, no crash, nothing on stderr
S "$T/in.jsonl" 2> "$T/pipe.err" | head -1 > "$T/one.jsonl"
st=${PIPESTATUS[0]}
[ "$(jsonl_check "$T/one.jsonl")" = 1 ] || fail "head -1 did not get one complete line"
[ "$st" = 0 ] || [ "$st" = 141 ] || fail "exit status $st on a closed pipe"
[ ! -s "$T/pipe.err" ] || fail "stderr on closed pipe: $(cat "$T/pipe.err")"
S "$T/in.jsonl" 2> "$T/pipe2.err" | true
st=${PIPESTATUS[0]}
[ "$st" = 141 ] || fail "reader gone before the first line: status $st, expected 141"
[ ! -s "$T/pipe2.err" ] || fail "stderr: $(cat "$T/pipe2.err")"
ok "closed pipe"

wait_lines() { # FILE N TIMEOUT_S: wait until FILE has >= N lines
    local i=0
    while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ]; do
        sleep 0.1; i=$((i + 1)); [ $i -lt $(($3 * 10)) ] || return 1
    done
}

# SIGINT while blocked reading a pipe that stays open: the 12 windows of 8
# that were complete are written, the 4 pending lines are not, exit 130.
mkfifo "$T/fifo"
( head -n 100 "$T/in.jsonl"; sleep 60 ) > "$T/fifo" &
writer=$!
SX --window 8 -o "$T/part.jsonl" < "$T/fifo" &
pid=$!
wait_lines "$T/part.jsonl" 96 120 || fail "no progress before SIGINT"
sleep 0.3
kill -INT $pid
wait $pid; st=$?
kill $writer 2>/dev/null; wait $writer 2>/dev/null
[ $st -eq 130 ] || fail "SIGINT while reading: exit $st, expected 130"
[ "$(jsonl_check "$T/part.jsonl")" = 96 ] || fail "after SIGINT: $(jsonl_check "$T/part.jsonl") lines, expected 96"
head -n 96 "$T/full.jsonl" | cmp -s - "$T/part.jsonl" || fail "interrupted output is not a prefix"
# resume with the whole input: lines 97..400 appended, none twice
S --window 8 -o "$T/part.jsonl" --resume "$T/in.jsonl" || fail "resume rc"
same_scores "$T/full.jsonl" "$T/part.jsonl" || fail "resumed output differs from an uninterrupted run"
ok "SIGINT while reading + --resume"

# SIGINT while scoring a file: complete lines only, then resume
SX --window 8 -o "$T/part2.jsonl" "$T/in.jsonl" &
pid=$!
wait_lines "$T/part2.jsonl" 20 120 || fail "no progress"
kill -INT $pid
wait $pid; st=$?
n=$(jsonl_check "$T/part2.jsonl") || fail "incomplete line after SIGINT"
if [ $st -eq 130 ]; then
    [ "$n" -lt 400 ] || fail "SIGINT did not stop the run"
else
    [ $st -eq 0 ] && [ "$n" = 400 ] || fail "SIGINT mid-run: exit $st with $n lines"
fi
# a partial last line (as after a crash) is dropped by --resume
printf '{"id": 9999, "label": "POSI' >> "$T/part2.jsonl"
S --window 8 -o "$T/part2.jsonl" --resume "$T/in.jsonl" || fail "resume 2 rc"
same_scores "$T/full.jsonl" "$T/part2.jsonl" || fail "resume after partial line differs"
# resuming a complete run scores nothing and changes nothing
cp "$T/part2.jsonl" "$T/again.jsonl"
cp "$T/part2.jsonl.vkbert.json" "$T/again.jsonl.vkbert.json" # the run record goes with it
S --window 8 -o "$T/again.jsonl" --resume "$T/in.jsonl" || fail "resume 3 rc"
cmp -s "$T/part2.jsonl" "$T/again.jsonl" || fail "resume of a finished run changed it"
ok "SIGINT mid-run ($n lines) + --resume after a partial line"

# error lines count as lines for --resume
printf '{"text":"good"}\nbroken\n{"text":"bad"}\n{"text":"fine"}\n' > "$T/mixed.jsonl"
S -o "$T/mixed.full" "$T/mixed.jsonl"
head -n 2 "$T/mixed.full" > "$T/mixed.part"
cp "$T/mixed.full.vkbert.json" "$T/mixed.part.vkbert.json"
S -o "$T/mixed.part" --resume "$T/mixed.jsonl"; st=$?
[ $st -eq 0 ] || fail "resume past the error line: exit $st (the error was already written)"
same_scores "$T/mixed.full" "$T/mixed.part" || fail "resume with error lines differs"
ok "--resume with error lines"

"$B" score --model "$M" --resume < /dev/null 2>/dev/null; st=$?
[ $st -eq 2 ] || fail "--resume without -o: exit $st, expected 2"
done_test
