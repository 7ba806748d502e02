#!/bin/bash
# Under a low address-space limit (ulimit -v) the CPU path ends with a clear
# error or a result - never a hang inside OpenBLAS, which retries a failed
# buffer allocation for ever, or at exit (issue 11, item 19).  `timeout`
# here only guards against a hang; no time is asserted.
. "$(dirname "$0")/lib.sh" "$@"
[ "$DEV" = cpu ] || { echo "skip: the OpenBLAS case is the CPU path's"; exit 77; }
# a sanitizer build reserves terabytes of shadow memory: it cannot run under
# any ulimit -v at all
( ulimit -v 4000000; "$B" --version ) > /dev/null 2>&1 ||
    { echo "skip: $B does not start under ulimit -v 4000000 (a sanitizer build?)"; exit 77; }
make_jsonl 20 "$T/in.jsonl"
for kb in 60000 100000 150000 200000 250000 300000 400000 500000 700000; do
    ( ulimit -v $kb; exec timeout -k 10 120 "$B" score --model "$M" --device cpu --quiet \
        -o "$T/out.jsonl" "$T/in.jsonl" ) 2> "$T/err"; st=$?
    case $st in
        0) [ "$(jsonl_check "$T/out.jsonl")" = 20 ] || fail "ulimit -v $kb: exit 0 with $(wc -l < "$T/out.jsonl") lines" ;;
        1|127) [ -s "$T/err" ] || fail "ulimit -v $kb: exit $st without a message" ;;
        # OpenBLAS's own start-up (a library constructor, before main) cannot
        # create its threads: it says so and exits 130.  That window lies
        # between the limit the dynamic loader needs and the one OpenBLAS's
        # threads need: ~54-60 MB on Debian 12 (measured: 54000-58000 exit
        # 130, 62000 exit 1).  oneDNN is dlopen()ed for bf16/int8 only; when
        # it was linked (40 MB more mapped) the window reached ~100 MB, so
        # 130 above 60000 means something maps that much again.
        130) [ "$kb" -le 60000 ] || fail "ulimit -v $kb: OpenBLAS could not start its threads" \
                "(exit 130): the binary maps ~40 MB more than it should (oneDNN linked?)"
             grep -q "blas_thread_init: pthread_create failed" "$T/err" ||
                fail "ulimit -v $kb: exit 130: $(head -c 300 "$T/err")" ;;
        124|137) fail "ulimit -v $kb: hung (killed by timeout): $(head -c 300 "$T/err")" ;;
        *) fail "ulimit -v $kb: exit $st: $(head -c 300 "$T/err")" ;;
    esac
    echo "ulimit -v $kb: exit $st $(head -c 160 "$T/err")"
done
ok "low ulimit -v: an error or a result, no hang"
done_test
