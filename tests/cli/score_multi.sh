#!/bin/bash
# vkbert score on several devices, in shards, and under device faults
# (issues 6 and 7): one worker per backend gives the same bytes as one
# backend; --shard I/N outputs merge back into the unsharded output;
# a --max-device-mem cap too small for the token budget shrinks the batches
# with a note (and a cap too small for the weights fails clearly); a lost
# device (VKB_FAULT_AFTER_BATCHES test hook) stops with an error, leaves
# complete lines, and --resume finishes the run with no line scored twice.
. "$(dirname "$0")/lib.sh" "$@"
MERGE="$PY $(dirname "$0")/../../tools/merge_shards.py"

make_jsonl 300 "$T/in.jsonl"
echo 'not json' >> "$T/in.jsonl"     # an error line (record 300) takes part too
make_jsonl 120 "$T/ok.jsonl"
# same_out A B: runs with other batch shapes (shards, other windows) give the
# same bytes, on the GPU and on the CPU.
same_out() {
    cmp -s "$1" "$2"
}
# small windows and budgets: many batches, so that both workers get work
P="--window 32 --batch-tokens 256"

# ---- 1 vs 2 workers on the same device (two backends, two weight copies)
S $P "$T/in.jsonl" > "$T/one.jsonl"; st=$?
[ $st = 1 ] || fail "one device: exit $st, expected 1 (one error line)"
[ "$(jsonl_check "$T/one.jsonl")" = 301 ] || fail "one device: not 301 complete lines"
S $P --device "$DEV,$DEV" "$T/in.jsonl" > "$T/two.jsonl" 2> "$T/two.err"; st=$?
[ $st = 1 ] || fail "two devices: exit $st: $(cat "$T/two.err")"
cmp -s "$T/one.jsonl" "$T/two.jsonl" || fail "two workers on $DEV,$DEV differ from one"
"$B" score --model "$M" --device "$DEV,$DEV" $P "$T/in.jsonl" 2>&1 >/dev/null | grep -q " + " ||
    fail "the summary does not name both devices"
ok "1 vs 2 workers: identical bytes"
if [ "$DEV" != cpu ]; then
    S $P --device all "$T/in.jsonl" > "$T/all.jsonl"
    cmp -s "$T/one.jsonl" "$T/all.jsonl" || fail "--device all differs from one device"
    S $P --device "$DEV,$DEV,$DEV" --no-sort "$T/in.jsonl" > "$T/three.jsonl"
    S $P --no-sort "$T/in.jsonl" > "$T/one_ns.jsonl"
    cmp -s "$T/one_ns.jsonl" "$T/three.jsonl" || fail "3 workers --no-sort differ"
    ok "--device all and 3 workers"
fi
S --device "$DEV,bogus" "$T/in.jsonl" > /dev/null 2> "$T/bad.err"; st=$?
[ $st = 1 ] && grep -q "bogus" "$T/bad.err" || fail "bad device list: exit $st, $(cat "$T/bad.err")"
"$B" classify --model "$M" --device "$DEV,$DEV" x > /dev/null 2>&1
[ $? = 2 ] || fail "a device list outside score is not a usage error"

# ---- shards: N = 3 merged back equals the unsharded output
for i in 0 1 2; do
    S $P --shard $i/3 "$T/in.jsonl" -o "$T/s$i.jsonl"
done
$MERGE "$T/s0.jsonl" "$T/s1.jsonl" "$T/s2.jsonl" > "$T/merged.jsonl" || fail "merge_shards failed"
same_out "$T/one.jsonl" "$T/merged.jsonl" || fail "3 merged shards differ from the unsharded output"
paste -d '\n' "$T/s0.jsonl" "$T/s1.jsonl" "$T/s2.jsonl" | sed '/^$/d' | cmp -s - "$T/merged.jsonl" ||
    fail "paste merge differs"
[ "$(wc -l < "$T/s0.jsonl") $(wc -l < "$T/s1.jsonl") $(wc -l < "$T/s2.jsonl")" = "101 100 100" ] ||
    fail "shard sizes"
grep -q '"line":301' "$T/s0.jsonl" || fail "the error line (record 300) is not in shard 300 mod 3 = 0"
# shards given out of order are put in order by their run records
$MERGE "$T/s1.jsonl" "$T/s0.jsonl" "$T/s2.jsonl" | cmp -s - "$T/merged.jsonl" || fail "merge of shards out of order"
head -n 50 "$T/s2.jsonl" > "$T/s2cut.jsonl"
cp "$T/s2.jsonl.vkbert.json" "$T/s2cut.jsonl.vkbert.json"
$MERGE "$T/s0.jsonl" "$T/s1.jsonl" "$T/s2cut.jsonl" > /dev/null 2>&1 && fail "merge of an incomplete shard accepted"
# a shard on two workers, and --shard 0/1 = everything
S $P --device "$DEV,$DEV" --shard 1/3 "$T/in.jsonl" | cmp -s - "$T/s1.jsonl" || fail "shard on 2 workers"
S $P --shard 0/1 "$T/in.jsonl" | cmp -s - "$T/one.jsonl" || fail "--shard 0/1"
for bad in 3/3 -1/2 1/0 1 a/b 1/2x; do
    S --shard "$bad" "$T/in.jsonl" > /dev/null 2>&1; st=$?
    [ $st = 2 ] || fail "--shard $bad: exit $st, expected 2"
done
ok "shards merge back to the unsharded output"

# ---- out of device memory (Vulkan only: the cap is on Vulkan allocations)
if [ "$DEV" != cpu ]; then
    S "$T/ok.jsonl" > "$T/ok_ref.jsonl" || fail "uncapped run"
    # tiny-f32: weights ~0.1 MiB, activations ~1.3 KiB per token, so 1 MiB
    # holds the weights but not the 8192-token default budget
    "$B" score --model "$M" --device "$DEV" --max-device-mem 1M "$T/ok.jsonl" \
        > "$T/capped.jsonl" 2> "$T/capped.err"; st=$?
    [ $st = 0 ] || fail "capped run: exit $st: $(cat "$T/capped.err")"
    grep -q "note: .*out of device memory.*token budget of" "$T/capped.err" ||
        fail "no out-of-memory note: $(cat "$T/capped.err")"
    cmp -s "$T/ok_ref.jsonl" "$T/capped.jsonl" || fail "capped output differs"
    S --max-device-mem 1M --device "$DEV,$DEV" "$T/ok.jsonl" | cmp -s - "$T/ok_ref.jsonl" ||
        fail "capped output on 2 workers differs"
    S --max-device-mem 20K "$T/ok.jsonl" > "$T/nocap.jsonl" 2> "$T/nocap.err"; st=$?
    [ $st = 1 ] || fail "cap below the weights: exit $st"
    grep -q "weights alone do not fit" "$T/nocap.err" || fail "unclear error: $(cat "$T/nocap.err")"
    [ ! -s "$T/nocap.jsonl" ] || fail "output written although the weights do not fit"
    S --max-device-mem 12Q "$T/ok.jsonl" > /dev/null 2>&1
    [ $? = 2 ] || fail "--max-device-mem 12Q accepted"
    ok "device memory cap: smaller batches + note; too small for the weights: error"
fi

# ---- lost device: error, complete lines, --resume completes without dups
for devs in "$DEV" "$DEV,$DEV"; do
    rm -f "$T/part.jsonl"
    VKB_FAULT_AFTER_BATCHES=12 "$B" score --model "$M" --device "$devs" --window 8 \
        --batch-tokens 128 -o "$T/part.jsonl" "$T/in.jsonl" 2> "$T/lost.err"; st=$?
    [ $st = 1 ] || fail "$devs: device loss: exit $st, expected 1"
    grep -q "device lost" "$T/lost.err" || fail "$devs: no device-lost error: $(cat "$T/lost.err")"
    n=$(jsonl_check "$T/part.jsonl") || fail "$devs: incomplete line after device loss"
    { [ "$n" -gt 0 ] && [ "$n" -lt 301 ]; } || fail "$devs: $n lines after device loss"
    head -n "$n" "$T/one.jsonl" > "$T/prefix.jsonl"
    same_out "$T/prefix.jsonl" "$T/part.jsonl" || fail "$devs: lines before the loss are not a prefix"
    "$B" score --model "$M" --device "$devs" $P -o "$T/part.jsonl" --resume "$T/in.jsonl" \
        2> "$T/resume.err"; st=$?
    [ $st = 1 ] || fail "$devs: resume exit $st (1 expected: the error line): $(cat "$T/resume.err")"
    grep -q "(resumed)" "$T/resume.err" || fail "$devs: resume summary"
    same_out "$T/one.jsonl" "$T/part.jsonl" || fail "$devs: resumed output differs from an uninterrupted run"
    ok "$devs: device loss after $n lines, --resume completes with no duplicate"
done
done_test
