#!/bin/bash
# --precision bf16 | int8 (CPU linear layers on oneDNN): score on a committed
# checkpoint in each mode against fp32 (logits within the format's
# tolerance, labels equal), `vkbert check` against the fp64 reference, bench,
# the forced fallback (oneDNN capped at AVX2 by its own ONEDNN_MAX_CPU_ISA:
# a note on stderr and results identical to fp32), the same where oneDNN
# cannot be loaded (VKB_DNNL_LIBRARY), and the refusals: an
# unknown precision, bf16/int8 on a Vulkan device.
. "$(dirname "$0")/lib.sh" "$@"

if [ "$DEV" != cpu ]; then
    for p in bf16 int8; do
        if out=$("$B" score --model "$M" --device "$DEV" --precision "$p" --quiet <<< '{"text": "a"}' 2>&1); then
            fail "--precision $p on $DEV accepted"
        else
            case "$out" in *"--precision $p is for the CPU backend"*) ok "$p refused on $DEV" ;;
                *) fail "$p on $DEV: unexpected message: $out" ;; esac
        fi
    done
    done_test
fi

$PY - > "$T/in.jsonl" <<'PYEOF'
import json, random
random.seed(5)
w = "the a movie film great bad good terrible plot acting was not very fun boring".split()
for i in range(60):
    print(json.dumps({"text": " ".join(random.choice(w) for _ in range(random.randint(1, 60)))}))
PYEOF
for p in fp32 bf16 int8; do
    S --precision "$p" --logits "$T/in.jsonl" > "$T/$p.out" || fail "score --precision $p rc"
done
# tolerances on these random tiny checkpoints (vkbert check, README): bf16 0.15, int8 0.25
$PY - "$T" <<'PYEOF' || fail "bf16/int8 logits vs fp32"
import json, sys
T = sys.argv[1]
def rd(p): return [json.loads(l) for l in open(T + "/" + p + ".out")]
ref = rd("fp32")
for p, tol in (("bf16", 0.15), ("int8", 0.25)):
    got = rd(p)
    assert len(got) == len(ref) == 60, (p, len(got))
    err = max(abs(a - b) for r, g in zip(ref, got) for a, b in zip(r["logits"], g["logits"]))
    agree = sum(r["label"] == g["label"] for r, g in zip(ref, got))
    print(p, "max logit error vs fp32 %.4f, labels agree %d/60" % (err, agree))
    assert 0 < err <= tol, (p, err)   # > 0: the reduced precision really ran
    assert agree >= 59, (p, agree)
PYEOF
ok "score bf16/int8 vs fp32"

for p in bf16 int8; do
    "$B" check --model "$M" --device cpu --precision "$p" > "$T/check_$p.txt" 2>&1 || fail "check --precision $p: $(cat "$T/check_$p.txt")"
    grep -q "$p linear layers on oneDNN" "$T/check_$p.txt" || fail "check $p: device line"
    "$B" bench --model "$M" --device cpu --precision "$p" --batch 2 --seq 16 --iters 1 --json > "$T/bench_$p.json" 2>&1 \
        || fail "bench --precision $p: $(cat "$T/bench_$p.json")"
    grep -q "\"precision\":\"$p\"" "$T/bench_$p.json" || fail "bench $p: precision field: $(cat "$T/bench_$p.json")"
done
ok "check and bench in bf16/int8"

# forced fallback: oneDNN below avx512_core_bf16 / VNNI
for p in bf16 int8; do
    ONEDNN_MAX_CPU_ISA=AVX2 "$B" score --model "$M" --device cpu --precision "$p" --logits "$T/in.jsonl" \
        > "$T/fb_$p.out" 2> "$T/fb_$p.err" || fail "fallback $p rc"
    grep -q "note: --precision $p needs .* running fp32" "$T/fb_$p.err" || fail "fallback $p: no note: $(cat "$T/fb_$p.err")"
    cmp -s "$T/fb_$p.out" "$T/fp32.out" || fail "fallback $p: results differ from fp32"
    ONEDNN_MAX_CPU_ISA=AVX2 "$B" bench --model "$M" --device cpu --precision "$p" --batch 2 --seq 16 --iters 1 --json \
        2> /dev/null | grep -q '"precision":"fp32"' || fail "fallback $p: bench must say fp32"
done
ok "fallback to fp32 with a note"

# oneDNN not installed (VKB_DNNL_LIBRARY names a missing file; it is dlopen()ed
# only for bf16/int8): fp32 with a note naming the library, results as fp32's
for p in bf16 int8; do
    VKB_DNNL_LIBRARY=/nonexistent/libdnnl.so.2 "$B" score --model "$M" --device cpu --precision "$p" \
        --logits "$T/in.jsonl" > "$T/nodnnl_$p.out" 2> "$T/nodnnl_$p.err" || fail "no oneDNN $p rc"
    grep -q "note: --precision $p needs oneDNN, which could not be loaded (/nonexistent/libdnnl.so.2: .*); running fp32" \
        "$T/nodnnl_$p.err" || fail "no oneDNN $p: no note: $(cat "$T/nodnnl_$p.err")"
    cmp -s "$T/nodnnl_$p.out" "$T/fp32.out" || fail "no oneDNN $p: results differ from fp32"
done
VKB_DNNL_LIBRARY=/nonexistent/libdnnl.so.2 S --precision fp32 --logits "$T/in.jsonl" > "$T/nodnnl_fp32.out" 2> "$T/nodnnl_fp32.err" \
    || fail "no oneDNN fp32 rc"
[ ! -s "$T/nodnnl_fp32.err" ] && cmp -s "$T/nodnnl_fp32.out" "$T/fp32.out" || fail "fp32 needs no oneDNN: $(cat "$T/nodnnl_fp32.err")"
ok "without oneDNN: fp32 with a note"

# malformed
if out=$("$B" score --model "$M" --device cpu --precision int4 "$T/in.jsonl" 2>&1); then fail "int4 accepted"; else
    case "$out" in *"--precision int4: expected auto, fp32, fp16 (GPU), bf16 or int8 (CPU)"*) ok "unknown precision refused" ;;
        *) fail "unknown precision: $out" ;; esac
fi
"$B" score --model "$M" --device cpu --precision fp16 "$T/in.jsonl" 2>&1 > /dev/null | grep -q "computes in fp32" \
    || fail "fp16 on the CPU: note"
done_test
