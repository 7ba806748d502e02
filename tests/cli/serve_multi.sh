# serve_multi.sh - `vkbert serve --device LIST`: one /predict worker per
# device taking windows from one queue, against real servers on loopback
# (tests/cli/serve_multi_test.py): concurrent clients all answered once as
# `vkbert score` on one of the devices, every device ran batches (/metrics),
# /info lists the devices, a device that keeps failing
# (VKB_FAULT_AFTER_BATCHES + VKB_FAULT_DEVICE) leaves the other serving and
# /health "degraded".  The cpu run uses cpu,cpu; the gpu run gpu,cpu
# (lavapipe and the CPU reference here).
. "$(dirname "$0")/lib.sh"
LIST=cpu,cpu
[ "$DEV" = cpu ] || LIST=$DEV,cpu
$PY "$(dirname "$0")/serve_multi_test.py" "$B" "$M" "$LIST" \
    "${VKB_SERVE_CLIENTS:-16}" "${VKB_SERVE_REQUESTS:-60}" || fail "serve_multi_test.py"
done_test
