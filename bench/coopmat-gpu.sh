#!/usr/bin/env bash
# bench/coopmat-gpu.sh - the cooperative-matrix GEMM checks on the lent GPU
# machine, in one run (about 1 minute); results under $OUT.  From the device
# tool, at the repository root, after building build-coop here:
#   run(command="bash bench/coopmat-gpu.sh", timeout_s=240,
#       carry=[".gl", "build-coop/bench/coopmat_check", "build-coop/tests/test_vk_coopmat",
#              "build-coop/tests/test_vk_ops", "build-coop/vkbert"])
# 1. coopmat_check: probe, self-test, max error vs the CPU and GFLOP/s of
#    tiled vs coopmat fp16 at the DistilBERT GEMM shapes;
# 2. test_vk_coopmat and test_vk_ops (ctest programs, run from tests/);
# 3. vkbert check --shape distilbert-base --precision fp16: the whole forward
#    pass with the GEMM the backend chose (the "tested:" line names it and, if
#    coopmat was dropped, why), then again with VKB_GEMM=tiled for comparison.
set -u
cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-/tmp/coopmat-out}
B=${B:-build-coop}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" / ; done; ldconfig
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
step() { # name, timeout, command...
    local name=$1 t=$2; shift 2
    echo "== $name" | tee -a "$OUT/summary.txt"
    ( timeout "$t" "$@" ) > "$OUT/$name.log" 2>&1
    local rc=$?
    tail -n 40 "$OUT/$name.log"; echo "rc=$rc" | tee -a "$OUT/summary.txt"
}
step coopmat_check 120 "$B/bench/coopmat_check"
step test_vk_coopmat 60 bash -c "cd tests && ../$B/tests/test_vk_coopmat"
step test_vk_ops 60 bash -c "cd tests && ../$B/tests/test_vk_ops"
step check_fp16 90 "$B/vkbert" check --shape distilbert-base --precision fp16 --random 2
step check_fp16_tiled 90 env VKB_GEMM=tiled "$B/vkbert" check --shape distilbert-base --precision fp16 --random 2
