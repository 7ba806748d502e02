#!/bin/sh
# tests/sanitize.sh [BUILD_DIR] - the whole ctest suite under AddressSanitizer
# + UndefinedBehaviorSanitizer (lavapipe included, validation layer on: the
# tests get VKB_VALIDATION=1 from tests/CMakeLists.txt).
#
# Configures BUILD_DIR (default build-asan) with -DVKB_SANITIZE=ON
# -DCMAKE_BUILD_TYPE=Debug, builds it (JOBS, default 1) and runs ctest.  Any
# sanitizer report is fatal: ASan/UBSan abort the process, LeakSanitizer
# fails it at exit.  tests/lsan.supp is the LeakSanitizer suppressions file
# (empty: the suite is leak-free with lavapipe kept resident, see below and
# its comments), and tests/test_validation_canary.c proves the validation
# layer reports in this build.  Extra arguments after the build dir go to
# ctest (e.g. -R fuzz_replay).
#
# The lavapipe ICD library is preloaded (LD_PRELOAD) so that it stays mapped
# for the whole process.  Without that the Vulkan loader dlcloses it at
# vkDestroyInstance, and Mesa's once-per-load CPU detection cache
# (util_cpu_caps.L3_affinity_mask, realloc'd in util_cpu_detect_once ->
# get_cpu_topology on AMD Zen CPUs only, 128 bytes per L3 cache, reached from
# vkEnumeratePhysicalDevices) loses its only reference, the global in the
# unmapped library: LeakSanitizer then reports it as a direct leak with
# "<unknown module>" frames, once per driver load.  Resident, the global still
# points at it and nothing is reported; no suppression is needed, and leaks in
# vkbert (or Vulkan objects it forgets to destroy) are still reported, with
# the driver's frames symbolized as libvulkan_lvp.so+offset.  Measured on
# Debian 12 (mesa-vulkan-drivers 22.3.6-1+deb12u2, libvulkan1 1.3.239.0-1,
# vulkan-validationlayers 1.3.239.0-2) on an AMD EPYC (family 25, Zen 3).
# VKB_SANITIZE_PRELOAD overrides the library to preload (empty: none).
# verify_asan_link_order=0 because the preloaded driver now precedes the ASan
# runtime in the initial library list; it defines no allocator or other
# intercepted function, so interception is unaffected.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build-asan"}
[ $# -gt 0 ] && shift
jobs=${JOBS:-1}

# (VKB_SANITIZE adds -fsanitize=address,undefined,float-cast-overflow.)
cmake -S "$root" -B "$build" -DVKB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$jobs"

# The lavapipe ICD library from its manifest (see the header comment).
lvp=
for m in /usr/share/vulkan/icd.d/lvp_icd.*.json /etc/vulkan/icd.d/lvp_icd.*.json; do
  [ -f "$m" ] || continue
  lib=$(sed -n 's/.*"library_path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$m")
  if [ -n "$lib" ] && [ -f "$lib" ]; then lvp=$lib; break; fi
done
lvp=${VKB_SANITIZE_PRELOAD-$lvp}
# oneDNN (bf16/int8 on the CPU) is dlopen()ed by the backend; loaded that way
# its dynamic TLS crashes LeakSanitizer's tracer at exit on Debian 12 (gcc 12
# libasan: "Tracer caught signal 11" reading a DTLS range, then a fatal
# error and a non-zero exit; measured on test_cpu_lowp, cli_precision_cpu).
# Preloaded, as it was when it was linked, its TLS is static and the suite
# is leak-free again.  The dlopen itself is tested by the plain suite.
dnnl=$({ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | sed -n 's/.*libdnnl\.so\.2 .*=> \(.*\)/\1/p' | head -n 1)
if [ -z "${VKB_SANITIZE_PRELOAD+x}" ] && [ -n "$dnnl" ] && [ -f "$dnnl" ]; then
  lvp="${lvp:+$lvp:}$dnnl"
fi
link_order=
if [ -n "$lvp" ]; then
  LD_PRELOAD="$lvp${LD_PRELOAD:+:$LD_PRELOAD}"
  export LD_PRELOAD
  link_order=":verify_asan_link_order=0"
  echo "sanitize.sh: preloading $lvp (keeps the ICD and oneDNN resident for LeakSanitizer)"
fi

# abort_on_error: a report kills the test with SIGABRT (ctest: failed), even
# in child processes whose exit codes a script might ignore.
ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=1$link_order"
UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
# vkbert serve's load test at a smaller scale here (8 clients x 50 requests,
# still concurrent): at the default 32 x 200 (6,400 connections, and
# libmicrohttpd runs a thread per connection) the ASan build of the server on
# lavapipe grew to 24 GB resident and the kernel's OOM killer ended it.
# Measured since with a smaller reproduction (the ASan server on lavapipe,
# the tiny model, one request after another): the growth is per request, not
# per connection (one keep-alive connection grows as fast as one connection
# per request: ~0.85 MB a request), and it is ASan's, not a leak of ours -
# the plain build stays flat (104.6 MB after 200 and after 400 requests),
# LeakSanitizer reports nothing at exit, detect_stack_use_after_return=0
# changes nothing, and ASan's exit statistics put it in 10 KB chunks still
# allocated (72,117 after 800 requests), which with quarantine_size_mb=0
# thread_local_quarantine_size_kb=0 no longer accumulate (flat at ~140 MB):
# ASan's bookkeeping of the many blocks lavapipe frees per forward.  Turning
# the quarantine off would blunt use-after-free detection for the whole
# suite, so the serve test runs smaller here instead.  test.sh runs the full
# scale.
VKB_SERVE_CLIENTS=${VKB_SERVE_CLIENTS:-8}
VKB_SERVE_REQUESTS=${VKB_SERVE_REQUESTS:-50}
export VKB_SERVE_CLIENTS VKB_SERVE_REQUESTS
cd "$build"
exec ctest --output-on-failure -j"$jobs" --timeout 1800 "$@"
