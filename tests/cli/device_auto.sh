#!/bin/bash
# The default device (--device auto): a hardware Vulkan GPU when the machine
# has one, else the CPU reference, with a note on stderr naming the CPU
# Vulkan device (lavapipe) it passed over; `vkbert devices` reports the same
# choice; -q silences the note; a bad --device names the accepted values.
# The expectation is derived from `vkbert devices --json`, so the test holds
# on machines with and without a GPU.  (DEV is ignored: this is about the
# default.)
. "$(dirname "$0")/lib.sh" "$@"

if ! "$B" devices --json > "$T/dev.json" 2> "$T/dev.err"; then
    want=cpu   # no Vulkan loader at all: auto is the CPU reference
else
    want=$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
hw = [x for x in d["devices"] if x["usable"] and x["type"] != "CPU"]
print("gpu" if hw else "cpu")
assert d["auto"]["device"] == ("gpu" if hw else "cpu"), d["auto"]
' "$T/dev.json") || fail "devices --json: auto choice disagrees with the device list"
fi
echo "expected default: $want"

"$B" bench --model "$M" --batch 2 --seq 8 --iters 1 --json > "$T/b.json" 2> "$T/b.err" || fail "bench rc"
vendor=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["vendor"])' "$T/b.json")
if [ "$want" = cpu ]; then
    [ "$vendor" = cpu ] || fail "default device: vendor $vendor, expected the CPU reference"
    grep -q "note: using the CPU reference" "$T/b.err" || fail "no note on stderr: $(cat "$T/b.err")"
    if grep -q '"type":"CPU"' "$T/dev.json" 2>/dev/null; then
        grep -q "runs on the CPU" "$T/b.err" || fail "note does not say why: $(cat "$T/b.err")"
    fi
else
    [ "$vendor" != cpu ] || fail "default device is the CPU reference although a GPU exists"
fi
ok "default device: $vendor"

# --device auto is the same as no --device; -q: no note
"$B" classify --model "$M" --device auto -q "a fine film" > "$T/c1" 2> "$T/c1.err" || fail "classify -d auto"
"$B" classify --model "$M" --device "$want" -q "a fine film" > "$T/c2" 2>/dev/null || fail "classify -d $want"
[ ! -s "$T/c1.err" ] || fail "-q still printed: $(cat "$T/c1.err")"
if [ "$want" = cpu ]; then
    cmp -s "$T/c1" "$T/c2" || fail "auto and cpu classify differently: $(cat "$T/c1") vs $(cat "$T/c2")"
fi
ok "--device auto, -q"

if "$B" classify --model "$M" --device tpu "x" > /dev/null 2> "$T/bad.err"; then
    fail "--device tpu accepted"
fi
grep -q "auto" "$T/bad.err" || fail "bad --device message does not list auto: $(cat "$T/bad.err")"
ok "bad --device"
done_test
