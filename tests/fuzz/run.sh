#!/bin/sh
# tests/fuzz/run.sh [SECONDS] [TARGET...] - builds the libFuzzer targets
# (clang, -DVKB_FUZZ=ON, in $VKB_FUZZ_BUILD or build-fuzz) and fuzzes each for
# SECONDS (default 45) from its committed corpus, tests/fuzz/corpus/<target>/.
# Inputs the fuzzer discovers go to a scratch directory, not the repository.
# Exits non-zero when any target finds a crash, a sanitizer report, a leak,
# a timeout (-timeout=10 s per input) or an input needing over 2 GB
# (-rss_limit_mb=2048, which also bounds any single malloc); the reproducer
# is kept in $VKB_FUZZ_OUT (default build-fuzz/fuzz-out) and its log shown.
# Add a reproducer to the corpus as corpus/<target>/regress-<what> after
# fixing the bug, so the fuzz_replay_<target> ctest tests keep it fixed.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-45}
[ $# -gt 0 ] && shift
targets=${*:-"safetensors config vocab tokenizer model_dir jsonl csv tsv st_config"}
build=${VKB_FUZZ_BUILD:-"$root/build-fuzz"}
out=${VKB_FUZZ_OUT:-"$build/fuzz-out"}

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DVKB_FUZZ=ON >/dev/null
bins=""
for t in $targets; do bins="$bins fuzz_$t"; done
# shellcheck disable=SC2086
cmake --build "$build" -j"${JOBS:-1}" --target $bins >/dev/null

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
status=0
for t in $targets; do
    scratch="$out/$t-corpus"
    mkdir -p "$scratch"
    log="$out/$t.log"
    start=$(date +%s)
    if "$build/tests/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/$t-" \
        "$scratch" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz_$t: ok, ${runs:-?} runs in $(( $(date +%s) - start )) s"
    else
        status=1
        echo "fuzz_$t: FAILED (log: $log)"
        grep -E "ERROR|runtime error|invariant failed|Test unit written" "$log" | head -20 || true
    fi
done
exit $status
