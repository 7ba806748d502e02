# serve.sh - `vkbert serve` against real servers on loopback: concurrent
# clients (answers identical to `vkbert score`), every error status, device
# failures and graceful shutdown under load, POST /embed (answers identical
# to `vkbert embed`) (tests/cli/serve_test.py, a Python standard-library
# client).  VKB_SERVE_CLIENTS / VKB_SERVE_REQUESTS scale the load test
# (default 32 x 200).
. "$(dirname "$0")/lib.sh"
$PY "$(dirname "$0")/serve_test.py" "$B" "$M" "$DEV" "${VKB_SERVE_CLIENTS:-32}" "${VKB_SERVE_REQUESTS:-200}" \
    "${VKB_SERVE_PARTS:-load,errors,faults,shutdown,embed,info}" || fail "serve_test.py"
done_test
