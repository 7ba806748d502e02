#!/bin/bash
# `vkbert check --ops`: the op test matrix as a user runs it.  On the GPU run:
# a filtered matrix (LayerNorm and attention, shared-memory and subgroup
# forms, fp32 and fp16) prints its table and exits 0 with every row passed;
# `--device cpu` and unknown filter names are usage errors (exit 2).  The
# whole matrix runs in test_vk_opcheck.  (The cpu run checks the usage errors
# only: the matrix is about the Vulkan kernels.)
. "$(dirname "$0")/lib.sh" "$@"

"$B" check --ops --device cpu > "$T/o" 2> "$T/e"
[ $? -eq 2 ] || fail "check --ops --device cpu: expected exit 2"
"$B" check --ops --device gpu layernorm > "$T/o" 2> "$T/e"
[ $? -eq 2 ] && grep -q "'layernorm' is no op" "$T/e" || fail "unknown filter: $(cat "$T/e")"
if [ "$DEV" = gpu ]; then
    if "$B" check --ops --device gpu add_layernorm attention > "$T/o" 2> "$T/e"; then
        ok "check --ops add_layernorm attention"
    else
        fail "check --ops rc: $(cat "$T/o" "$T/e")"
    fi
    cat "$T/o"
    head -1 "$T/o" | grep -q "^op .*variant .*prec .*shape .*error .*tol .*result" || fail "no table header"
    for v in shared subgroup; do
        for p in fp32 fp16; do
            grep -q "^attention  *$v  *$p .* pass" "$T/o" || fail "no passing attention $v $p row"
            grep -q "^add_layernorm  *$v  *$p .* pass" "$T/o" || fail "no passing add_layernorm $v $p row"
        done
    done
    grep -q "FAIL" "$T/o" && fail "a failed row"
    grep -q "^[0-9]* passed, 0 failed" "$T/o" || fail "no summary"
    grep -q "^linear" "$T/o" && fail "filter let linear through"
fi
done_test
