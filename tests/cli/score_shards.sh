#!/bin/bash
# tools/merge_shards.py checks a merge by the run records the shards carry
# (issue 11, item 9): shards in glob order (part.10 before part.2) merge in
# input order; a missing, duplicated, unfinished or edited shard, mixed N
# and shards of another input are refused, never merged with exit 0.
. "$(dirname "$0")/lib.sh" "$@"
MERGE="$PY $(dirname "$0")/../../tools/merge_shards.py"

make_jsonl 110 "$T/in.jsonl"
S -o "$T/one.jsonl" "$T/in.jsonl" || fail "unsharded run"
mkdir "$T/p"
for i in $(seq 0 10); do
    S --shard $i/11 -o "$T/p/part.$i.jsonl" "$T/in.jsonl" || fail "shard $i/11"
done
# a glob lists part.0 part.1 part.10 part.2 ... and the run records too
$MERGE "$T"/p/part.* > "$T/merged.jsonl" || fail "merge of a glob"
same_scores "$T/one.jsonl" "$T/merged.jsonl" || fail "glob-order merge differs from the unsharded run"
ok "11 shards in glob order merge back into input order"

refused() { # WHAT PATTERN FILES...
    local what=$1 pat=$2; shift 2
    $MERGE "$@" > "$T/m.out" 2> "$T/m.err"; local st=$?
    [ $st != 0 ] || fail "$what: merged with exit 0"
    grep -q -- "$pat" "$T/m.err" || fail "$what: message: $(cat "$T/m.err")"
}
P="$T/p/part"
all=$(for i in $(seq 0 10); do echo "$P.$i.jsonl"; done)
refused "missing shard" "shard(s) 7/11 of 11 missing" $(echo "$all" | grep -v "part.7.jsonl")
refused "duplicate shard" "given twice" $all "$P.3.jsonl"
cp "$P.3.jsonl" "$T/dup.jsonl"; cp "$P.3.jsonl.vkbert.json" "$T/dup.jsonl.vkbert.json"
refused "duplicate shard (a copy)" "shard 3/11 given twice" $(echo "$all" | grep -v "part.4.jsonl") "$T/dup.jsonl"
S --shard 1/3 -o "$T/three.jsonl" "$T/in.jsonl"
refused "mixed N" "shard 1/3" $(echo "$all" | grep -v "part.1.jsonl") "$T/three.jsonl"
make_jsonl 120 "$T/other.jsonl"
S --shard 5/11 -o "$T/other5.jsonl" "$T/other.jsonl"
refused "another input" "differ in" $(echo "$all" | grep -v "part.5.jsonl") "$T/other5.jsonl"
S --shard 5/11 --all-scores -o "$T/opt5.jsonl" "$T/in.jsonl"
refused "other options" "differ in all_scores" $(echo "$all" | grep -v "part.5.jsonl") "$T/opt5.jsonl"
cp "$P.2.jsonl" "$T/cut.jsonl"; cp "$P.2.jsonl.vkbert.json" "$T/cut.jsonl.vkbert.json"
sed -i '$d' "$T/cut.jsonl"
refused "a line cut from a shard" "changed after the run" $(echo "$all" | grep -v "part.2.jsonl") "$T/cut.jsonl"
cp "$P.2.jsonl" "$T/norec.jsonl"
refused "no run record" "no run record" $(echo "$all" | grep -v "part.2.jsonl") "$T/norec.jsonl"
# an interrupted shard (test hook: a lost device) is not finished
VKB_FAULT_AFTER_BATCHES=0 "$B" score --model "$M" --device "$DEV" --quiet --shard 9/11 \
    -o "$T/lost9.jsonl" "$T/in.jsonl" 2> /dev/null
refused "unfinished shard" "is not finished" $(echo "$all" | grep -v "part.9.jsonl") "$T/lost9.jsonl"
ok "missing, duplicate, mixed-N, other-input, edited and unfinished shards refused"
done_test
