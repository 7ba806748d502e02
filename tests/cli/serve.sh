# serve.sh - `vkbert serve` against real servers on loopback: concurrent
# clients (answers identical to `vkbert score`), every error status, device
# failures and graceful shutdown under load, POST /embed (answers identical
# to `vkbert embed`) (tests/cli/serve_test.py, a Python standard-library
# client).  VKB_SERVE_CLIENTS / VKB_SERVE_REQUESTS scale the load test
# (default 32 x 200).
. "$(dirname "$0")/lib.sh"
for bad in -1 x 16777217; do
    "$B" serve --batch-cost-tokens $bad > /dev/null 2> "$T/err"; st=$?
    [ $st = 2 ] && grep -q "batch-cost-tokens: expected an integer in \[0, 16777216\]" "$T/err" \
        || fail "--batch-cost-tokens $bad: exit $st: $(cat "$T/err")"
done
ok "--batch-cost-tokens: out-of-range values refused"
$PY "$(dirname "$0")/serve_test.py" "$B" "$M" "$DEV" "${VKB_SERVE_CLIENTS:-32}" "${VKB_SERVE_REQUESTS:-200}" \
    "${VKB_SERVE_PARTS:-load,errors,faults,shutdown,sequential,embed,info}" || fail "serve_test.py"
done_test
