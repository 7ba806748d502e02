#!/bin/sh
# tests/sanitize.sh [BUILD_DIR] - the whole ctest suite under AddressSanitizer
# + UndefinedBehaviorSanitizer (lavapipe included, validation layer on: the
# tests get VKB_VALIDATION=1 from tests/CMakeLists.txt).
#
# Configures BUILD_DIR (default build-asan) with -DVKB_SANITIZE=ON
# -DCMAKE_BUILD_TYPE=Debug, builds it (JOBS, default 1) and runs ctest.  Any
# sanitizer report is fatal: ASan/UBSan abort the process, LeakSanitizer
# fails it at exit.  tests/lsan.supp is the LeakSanitizer suppressions file
# (empty: the suite is leak-free with lavapipe; see its comments), and
# tests/test_validation_canary.c proves the validation layer reports in this
# build.  Extra arguments after the build dir go to ctest (e.g. -R fuzz_replay).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-asan"}
[ $# -gt 0 ] && shift
jobs=${JOBS:-1}

# (VKB_SANITIZE adds -fsanitize=address,undefined,float-cast-overflow.)
cmake -S "$root" -B "$build" -DVKB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$jobs"

# abort_on_error: a report kills the test with SIGABRT (ctest: failed), even
# in child processes whose exit codes a script might ignore.
ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=1"
UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
cd "$build"
exec ctest --output-on-failure -j"$jobs" --timeout 1800 "$@"
