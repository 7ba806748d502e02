#!/bin/bash
# `vkbert tune` and the tuning cache ($XDG_CACHE_HOME/vkbert, a temporary
# directory here: lib.sh).  GPU run (lavapipe): tune on the tiny checkpoint
# writes readable JSON with the key and a passing choice per op; a second run
# reads it (nothing timed); truncated JSON, wrong types, another key and a
# chosen candidate that failed are each ignored with a note and rewritten; a
# candidate made to fail (VKB_TUNE_TEST_FAIL, the library's test hook) is
# never chosen; the backend applies the cache and VKB_GEMM wins over it; an
# entry serves smaller token budgets (one shrunk after out of memory too),
# not larger ones; `devices` shows the choice; a CPU device is never tuned
# automatically.
# Both runs: --no-tune is accepted, malformed arguments are refused.
. "$(dirname "$0")/lib.sh" "$@"
C="$XDG_CACHE_HOME/vkbert"
TUNE=("$B" tune --model "$M" --device gpu --batch-tokens 256)

# usage errors (both runs)
"$B" tune --model "$M" --device cpu > "$T/o" 2> "$T/e"
[ $? -eq 2 ] && grep -q "device cpu has none" "$T/e" || fail "tune --device cpu: $(cat "$T/e")"
"$B" tune --model "$M" --bogus > "$T/o" 2> "$T/e"
[ $? -eq 2 ] || fail "tune --bogus: expected exit 2"
"$B" tune --model "$M" extra > "$T/o" 2> "$T/e"
[ $? -eq 2 ] || fail "tune with an argument: expected exit 2"
"$B" tune --shape nonsense > "$T/o" 2> "$T/e"
[ $? -eq 2 ] || fail "tune --shape nonsense: expected exit 2"
"$B" tune --model "$M" --batch-tokens x > "$T/o" 2> "$T/e"
[ $? -eq 2 ] || fail "tune --batch-tokens x: expected exit 2"
"$B" devices --no-tune > "$T/o" 2> "$T/e"
[ $? -eq 2 ] || fail "devices --no-tune: expected exit 2"
echo '{"text":"a fine film"}' | S --no-tune > "$T/o" 2> "$T/e" || fail "score --no-tune: $(cat "$T/e")"
grep -q '"label"' "$T/o" || fail "score --no-tune: no output"
[ "$DEV" = gpu ] || done_test

# a CPU implementation (lavapipe) is not tuned automatically: no cache written
echo '{"text":"a fine film"}' | S --batch-tokens 256 > "$T/o" 2> "$T/e" || fail "score: $(cat "$T/e")"
[ -e "$C" ] && fail "automatic tuning on a CPU device wrote $(ls "$C")"
"$B" devices > "$T/o" 2> "$T/e" || fail "devices: $(cat "$T/e")"
grep -q "tuned  *not tuned" "$T/o" || fail "devices before tuning: $(cat "$T/o")"

# check_entry FILE: the key fields and a passing choice per op
check_entry() {
    $PY - "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
k = d["key"]
for f in ("device", "vkbert_version", "precision"): assert isinstance(k[f], str), f
for f in ("vendor_id", "device_id", "driver_version"): assert isinstance(k[f], (int, float)), f
assert (k["tokens"], k["dim"], k["hidden"], k["heads"], k["precision"]) == (256, 32, 64, 4, "fp32"), k
for op in ("qkv", "out", "ffn1", "ffn2", "attention"):
    o = d["ops"][op]
    ch = [c for c in o["candidates"] if c["variant"] == o["chosen"]]
    assert len(ch) == 1 and ch[0]["pass"] and ch[0]["error"] <= ch[0]["tolerance"], (op, o)
    assert len(o["candidates"]) >= 2, (op, o)
    assert all(c["ms"] >= 0 for c in o["candidates"] if c["pass"]), o
print("ok")
PYEOF
}

"${TUNE[@]}" > "$T/o" 2> "$T/e" || fail "tune: $(cat "$T/o" "$T/e")"
cat "$T/o"
F=$(ls "$C"/*.json 2>/dev/null)
[ "$(echo "$F" | wc -l)" = 1 ] && [ -f "$F" ] || fail "tune wrote no single cache file: $(ls -la "$C")"
check_entry "$F" > /dev/null || fail "cache entry: $(cat "$F")"
grep -q "cached: $F" "$T/o" || fail "tune did not say where it cached"
ls "$C" | grep -q tmp && fail "a temporary file was left"

# a second run reads the cache: nothing timed, the file untouched
cp "$F" "$T/saved.json"
touch -d '2001-01-01' "$F"
"${TUNE[@]}" > "$T/o" 2> "$T/e" || fail "tune (cached): $(cat "$T/e")"
grep -q "^from the cache: $F" "$T/o" || fail "second tune did not read the cache: $(cat "$T/o")"
[ "$(stat -c %Y "$F")" = "$(stat -c %Y -d '2001-01-01' 2>/dev/null || date -d '2001-01-01' +%s)" ] ||
    fail "second tune rewrote the file"
"${TUNE[@]}" --json > "$T/o" 2> "$T/e" || fail "tune --json: $(cat "$T/e")"
check_entry "$T/o" > /dev/null || fail "tune --json: $(cat "$T/o")"

# broken cache files: ignored with a note, tuned again, rewritten valid
corrupt() { # NAME PYTHON-EXPRESSION-ON-d (or "truncate")
    if [ "$2" = truncate ]; then head -c 200 "$T/saved.json" > "$F"
    else $PY -c "import json,sys; d=json.load(open('$T/saved.json')); $2; json.dump(d, open('$F','w'))"; fi
    "${TUNE[@]}" > "$T/o" 2> "$T/e" || fail "$1: tune: $(cat "$T/e")"
    grep -q "note: ignoring cache file $F" "$T/e" || fail "$1: no note: $(cat "$T/e")"
    grep -q "^from the cache" "$T/o" && fail "$1: used the broken file"
    check_entry "$F" > /dev/null || fail "$1: not rewritten valid: $(cat "$F")"
    ok "$1: $(grep -o 'ignoring.*' "$T/e" | sed 's/.*json: //')"
}
corrupt "truncated JSON" truncate
corrupt "wrong types" "d['key']['tokens'] = '256'; d['ops']['qkv']['candidates'][0]['ms'] = 'fast'"
corrupt "wrong key" "d['key']['device'] = 'another GPU'"
corrupt "failed choice" "o = d['ops']['qkv']; c = o['candidates'][0]; c['pass'] = False; o['chosen'] = c['variant']"

# candidates made to fail their check (the test hook) are never chosen
VKB_TUNE_TEST_FAIL=qkv:texel,ffn2:tiled_s,attention:subgroup "${TUNE[@]}" --retune --json > "$T/o" 2> "$T/e" ||
    fail "tune with the test hook: $(cat "$T/e")"
$PY - "$T/o" <<'PYEOF' || fail "test hook: $(cat "$T/o")"
import json, sys
d = json.load(open(sys.argv[1]))
for op, v in (("qkv", "texel"), ("ffn2", "tiled_s"), ("attention", "subgroup")):
    o = d["ops"][op]
    c = [c for c in o["candidates"] if c["variant"] == v][0]
    assert not c["pass"] and c["error"] > c["tolerance"], c
    assert o["chosen"] and o["chosen"] != v, o
PYEOF
check_entry "$F" > /dev/null || fail "test hook: cache entry"
ok "failing candidates never chosen"

# the backend applies the cache; VKB_GEMM / VKB_ATTENTION win over it
$PY -c "
import json; d=json.load(open('$F'))
for op in ('qkv','out','ffn1','ffn2'): d['ops'][op]['chosen'] = 'tiled'
d['ops']['attention']['chosen'] = 'shared'
json.dump(d, open('$F','w'), indent=1)"
check_entry "$F" > /dev/null || fail "edited entry invalid"
echo '{"text":"a fine film"}' > "$T/in.jsonl"
"$B" score --model "$M" --device gpu --batch-tokens 256 "$T/in.jsonl" > "$T/o" 2> "$T/e" || fail "score: $(cat "$T/e")"
grep -q "tuned, tiled GEMM, .* shared attention" "$T/e" || fail "cache not applied: $(cat "$T/e")"
VKB_GEMM=texel VKB_ATTENTION=subgroup "$B" score --model "$M" --device gpu --batch-tokens 256 "$T/in.jsonl" > "$T/o2" 2> "$T/e" ||
    fail "score VKB_GEMM: $(cat "$T/e")"
grep -q "(Vulkan, fp32, texel GEMM, .* subgroup attention" "$T/e" || fail "VKB_GEMM did not win: $(cat "$T/e")"
VKB_GEMM=tiled_s "$B" score --model "$M" --device gpu --batch-tokens 256 "$T/in.jsonl" > "$T/o2" 2> "$T/e" || fail "score: $(cat "$T/e")"
grep -q "tuned, tiled_s GEMM, .* shared attention" "$T/e" || fail "forced GEMM + tuned attention: $(cat "$T/e")"
same_scores "$T/o" "$T/o2" > /dev/null || fail "tuned and forced scores differ"
# an entry serves every token budget up to its own (vkbert_vulkan.h): not a
# larger one, a smaller one (with the budget it was tuned at in the report)
"$B" score --model "$M" --device gpu --batch-tokens 512 "$T/in.jsonl" > "$T/o" 2> "$T/e" || fail "score: $(cat "$T/e")"
grep -q "tuned" "$T/e" && fail "entry of a smaller budget applied: $(cat "$T/e")"
"$B" score --model "$M" --device gpu --batch-tokens 128 "$T/in.jsonl" > "$T/o2" 2> "$T/e" || fail "score: $(cat "$T/e")"
grep -q "tuned at 256 tokens, tiled GEMM, .* shared attention" "$T/e" || fail "entry of 256 not applied at 128: $(cat "$T/e")"
"$B" tune --model "$M" --device gpu --batch-tokens 128 > "$T/o" 2> "$T/e" || fail "tune 128: $(cat "$T/e")"
grep -q "^from the cache: $F (tuned at a token budget of 256, which serves 128" "$T/o" ||
    fail "tune 128 did not read the entry of 256: $(cat "$T/o")"
[ "$(ls "$C" | wc -l)" = 1 ] || fail "tune 128 wrote another entry: $(ls "$C")"
ok "an entry serves smaller token budgets, not larger ones"

# devices shows the choice, and the GEMM variants each precision can run
"$B" devices > "$T/o" 2> "$T/e" || fail "devices: $(cat "$T/e")"
grep -Eq "^  GEMM variants +fp32: tiled texel tiled_s[ ;]" "$T/o" || fail "devices: GEMM variants: $(cat "$T/o")"
grep -q "tuned  *dim 32, hidden 64, heads 4, 256 tokens, fp32: qkv tiled out tiled ffn1 tiled ffn2 tiled attention shared" "$T/o" ||
    fail "devices: $(cat "$T/o")"
"$B" devices --json > "$T/o" 2> "$T/e" || fail "devices --json: $(cat "$T/e")"
$PY -c "
import json; d=json.load(open('$T/o'))
t=[t for dv in d['devices'] for t in dv.get('tuned', [])]
assert len(t)==1 and t[0]['chosen']['qkv']=='tiled' and t[0]['tokens']==256, t" || fail "devices --json: $(cat "$T/o")"

# the budget shrunk by an out-of-memory fit keeps the tuning: the entry
# tuned at 2048 tokens applies when --max-device-mem (1 MiB: the weights,
# not 2048 tokens of activations) makes score retry with 1024 or less
"$B" tune --model "$M" --device gpu --batch-tokens 2048 > "$T/o" 2> "$T/e" || fail "tune 2048: $(cat "$T/e")"
F2=$(grep -o "cached: .*" "$T/o" | sed 's/^cached: //')
[ -f "$F2" ] && [ "$F2" != "$F" ] || fail "tune 2048: no entry of its own: $(cat "$T/o")"
"$B" score --model "$M" --device gpu --batch-tokens 2048 --max-device-mem 1M "$T/in.jsonl" > "$T/o" 2> "$T/e" ||
    fail "score capped: $(cat "$T/e")"
grep -q "note: .*out of device memory.*retrying with a token budget of" "$T/e" || fail "no budget shrink: $(cat "$T/e")"
grep -q "(Vulkan, fp32, tuned at 2048 tokens, " "$T/e" || fail "shrunk budget ran untuned: $(cat "$T/e")"
ok "a token budget shrunk after out of memory uses the entry tuned at 2048"
done_test
