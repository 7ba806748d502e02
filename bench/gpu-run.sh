#!/usr/bin/env bash
# bench/gpu-run.sh - ALL the GPU work of one session on the lent H100 machine,
# in one run; every result lands under $OUT.  The vkbert command lines it uses
# are all in the vkb_* functions below.
#
# Run it from the device tool, from the repository root:
#   run(command="bash bench/gpu-run.sh", carry=[".gl", "build/vkbert", "bench/work/imdb"],
#       timeout_s=560)
# Prepare here first (all git-ignored; nothing of it is committed):
#   - build/vkbert built here (same x86-64), and .gl/*.deb: libvulkan1 libcjson1
#     libutf8proc2 libopenblas0-pthread libgfortran5 (see ../shared/GPU.md; check
#     `ldd build/vkbert` for any other library);
#   - bench/work/imdb/ from `/usr/bin/python3 bench/peers/make_imdb_workload.py`
#     (ids.jsonl, reviews.jsonl, vocab.txt: ~6 MB; the machine has no ../shared).
#
# ASSUMPTIONS about the CLI (fix the vkb_* functions if they changed):
#   vkbert devices
#   vkbert check --ops --device gpu                                  (exit 0 = every variant within tolerance)
#   vkbert check --model DIR --device gpu [--precision fp16]       (exit 0 = within tolerance)
#   vkbert score --model DIR --device gpu|cpu [--precision fp32|fp16] --logits FILE.jsonl
#       -> one JSON line per input line, in order, with "logits": [..]
#   vkbert bench --model DIR --device gpu --precision fp32|fp16 --batch B --seq L --json
#       -> one JSON line with at least seq_per_s, ms_per_batch, gflops, device, driver
# Machine: python3 (3.12) + PyTorch 2.11 + transformers 5.17, no Debian packages.
#
# Robustness: every step is `timeout`-bounded and independent (a failing step is
# recorded in $OUT/steps.tsv and the next one runs); steps run in order of
# importance and each is capped by what is left of BUDGET_S (default 470 s), so
# the whole script ends well under 9 minutes; the summary table is always made.
# Outputs: $OUT/steps.tsv, $OUT/logs/*.log, env.txt, devices.txt, check_*.txt,
# oracle_*.jsonl, results.jsonl (all timings as JSON lines), table.md, imdb_*.jsonl.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
OUT=${OUT:-/tmp/vkb-gpu-out}
BUDGET_S=${BUDGET_S:-470}
VKBERT=${VKBERT:-$ROOT/build/vkbert}
IMDB=${IMDB:-$ROOT/bench/work/imdb}
CK=${CK:-/tmp/vkb-bench/distilbert-base}   # ~265 MB: never under $OUT (reused if present)
CK_ARGS=${CK_ARGS:-}
SHAPES=${SHAPES:-"1x128 8x128 32x128 32x256 64x512"}
PY=${PY:-python3}
mkdir -p "$OUT/logs"
T0=$(date +%s)
printf 'step\trc\tseconds\tlimit\n' > "$OUT/steps.tsv"
RES="$OUT/results.jsonl"
: > "$RES"

# step NAME MAX_SECONDS FUNCTION [ARGS...]: runs the function in a bash child
# under timeout (min of MAX_SECONDS and what is left of the budget), its
# output in logs/NAME.log; never stops the script.
step() {
  local name=$1 max=$2 t1 left lim rc
  shift 2
  t1=$(date +%s)
  left=$((BUDGET_S - (t1 - T0)))
  lim=$(( max < left ? max : left ))
  if [ "$lim" -lt 5 ]; then
    printf '%s\tskipped\t0\t%s\n' "$name" "$lim" >> "$OUT/steps.tsv"
    echo "== $name: skipped (budget spent)"
    return 0
  fi
  echo "== $name (limit ${lim}s)"
  timeout -k 5 "$lim" bash -o pipefail -c '"$@"' _ "$@" > "$OUT/logs/$name.log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t1 ))" "$lim" >> "$OUT/steps.tsv"
  [ $rc -eq 0 ] || { echo "   rc=$rc; tail of logs/$name.log:"; tail -n 4 "$OUT/logs/$name.log" | sed 's/^/   /'; }
  return 0
}

# --- the vkbert CLI as assumed (the one place to change) ---------------------
# Debian's libraries are unpacked into a private prefix, not over the machine's
# own /usr, and only vkbert sees them (LD_LIBRARY_PATH): PyTorch is untouched.
LIBS=/tmp/vkb-libs
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
vkb() {
  LD_LIBRARY_PATH="$LIBS/usr/lib/x86_64-linux-gnu:$LIBS/usr/lib/x86_64-linux-gnu/openblas-pthread:$LIBS/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$VKBERT" "$@"
}
vkb_check() { vkb check --model "$CK" --device gpu --precision "$1"; }
vkb_score() { # DEVICE PRECISION FILE (no --precision for the fp32 CPU reference)
  if [ "$1" = cpu ]; then vkb score --model "$CK" --device cpu --logits "$3"
  else vkb score --model "$CK" --device "$1" --precision "$2" --logits "$3"; fi
}
vkb_bench() { vkb bench --model "$CK" --device gpu --precision "$1" --batch "$2" --seq "$3" --json; }

# --- steps ---------------------------------------------------------------------
s_env() {
  # The Vulkan loader and glvnd go into / (the NVIDIA ICD, libGLX_nvidia, needs
  # libGLdispatch); the other libraries into a private prefix seen only by vkbert.
  for f in "$ROOT"/.gl/*.deb; do
    case "$f" in
      *libvulkan1*|*libglvnd0*|*libegl1*|*libgl1*|*libglx0*|*libgles2*|*libopengl0*) dpkg -x "$f" / ;;
      *) dpkg -x "$f" "$LIBS" ;;
    esac || echo "cannot unpack $f"
  done
  ldconfig
  {
    date -u; uname -a
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    "$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
    "$PY" -c 'import transformers; print("transformers", transformers.__version__)'
    echo "VK_DRIVER_FILES=$VK_DRIVER_FILES"; ls -la "$VK_DRIVER_FILES"
    echo "ldd vkbert:"; LD_LIBRARY_PATH="$LIBS/usr/lib/x86_64-linux-gnu:$LIBS/usr/lib/x86_64-linux-gnu/openblas-pthread" ldd "$VKBERT"
    nproc
  } > "$OUT/env.txt" 2>&1
  cat "$OUT/env.txt"
  ! grep -q "not found" "$OUT/env.txt"
}
s_coopmat() { # the cooperative-matrix GEMM: self-test + GFLOP/s vs tiled
  LD_LIBRARY_PATH="$LIBS/usr/lib/x86_64-linux-gnu:$LIBS/usr/lib/x86_64-linux-gnu/openblas-pthread" \
    "$ROOT/build/bench/coopmat_check" | tee "$OUT/coopmat.txt"
}
s_tests() { # the Vulkan op, model, upload-path and profiling tests, on this device, validation off (no layer here)
  local t rc=0
  for t in test_vk_ops test_vk_model test_vk_upload test_vk_profile test_vk_coopmat test_vk_policy test_vk_opcheck; do
    [ -x "$ROOT/build/tests/$t" ] || continue
    (cd "$ROOT/tests" && LD_LIBRARY_PATH="$LIBS/usr/lib/x86_64-linux-gnu:$LIBS/usr/lib/x86_64-linux-gnu/openblas-pthread" \
      VKB_SHARED=/nonexistent "$ROOT/build/tests/$t") || { echo "$t rc=$?"; rc=1; }
  done
  return $rc
}
s_bench_input() { # PRECISION: vkbert bench --input (reading+tokenizing+scoring, model loaded)
  vkb bench --model "$CK" --device gpu --precision "$1" --input "$IMDB/reviews.jsonl" --json | tee -a "$OUT/bench_input.jsonl"
}
s_devices() { vkb devices | tee "$OUT/devices.txt"; }
s_ops() { vkb check --ops --device gpu | tee "$OUT/check_ops.txt"; } # every kernel variant vs the CPU ops
s_checkpoint() { # CK_ARGS: e.g. "--dim 64 --layers 2 --heads 2 --hidden 256" for a dry run
  if [ ! -f "$CK/model.safetensors" ]; then
    "$PY" bench/peers/bench_checkpoint.py --out "$CK" --vocab "$IMDB/vocab.txt" ${CK_ARGS:-} || return 1
  fi
  cp "$CK/config.json" "$OUT/checkpoint_config.json"
}
s_check() { vkb_check "$1" | tee "$OUT/check_$1.txt"; }
s_vkbert_bench() { # PRECISION
  local s rc=0
  for s in $SHAPES; do
    timeout 40 bash -c 'vkb_bench "$@"' _ "$1" "${s%x*}" "${s#*x}" > "$OUT/logs/bench_$1_$s.out" || rc=1
    grep '^{' "$OUT/logs/bench_$1_$s.out" >> "$RES" || rc=1
  done
  return $rc
}
s_torch() { # IMPL PRECISION [extra args]
  local impl=$1 p=$2
  shift 2
  "$PY" bench/peers/torch_peer.py --model "$CK" --impl "$impl" --device cuda --dtype "$p" \
    --shapes "$(echo $SHAPES | tr ' ' ,)" --imdb "$IMDB/ids.jsonl" --out "$RES" "$@"
}
s_vkbert_imdb() { # DEVICE PRECISION: vkbert score end to end on the workload
  local t1 t2
  t1=$(date +%s.%N)
  vkb_score "$1" "$2" "$IMDB/reviews.jsonl" > "$OUT/imdb_vkbert_$1_$2.jsonl" || return 1
  t2=$(date +%s.%N)
  "$PY" - "$1" "$2" "$t1" "$t2" "$OUT/imdb_vkbert_$1_$2.jsonl" "$RES" <<'EOF'
import json, sys
dev, prec, t1, t2, path, res = sys.argv[1:]
n = sum(1 for line in open(path) if line.strip())
dt = float(t2) - float(t1)
name = next((o.get("device") for o in map(json.loads, (l for l in open(res) if l.startswith("{")))
             if o.get("peer", "vkbert") == "vkbert" and o.get("device")), dev)
o = {"peer": "vkbert", "device": name, "dtype": prec, "workload": "imdb", "batch": "auto", "seq": "imdb",
     "reviews": n, "seq_per_s": round(n / dt, 2), "ms_per_batch": None, "total_s": round(dt, 3),
     "note": "vkbert score end to end: process start, model load, tokenization included"}
print(json.dumps(o))
open(res, "a").write(json.dumps(o) + "\n")
EOF
}
s_imdb_labels() {
  local args=()
  for f in "$OUT"/imdb_vkbert_gpu_*.jsonl "$OUT"/imdb_hf_cuda_fp32.jsonl; do
    [ -f "$f" ] && args+=(--compare "$f:1e9")  # labels only: logits differ by precision
  done
  "$PY" bench/peers/hf_oracle.py --reference "$OUT/imdb_vkbert_cpu_fp32.jsonl" "${args[@]}" | tee "$OUT/imdb_labels.jsonl"
}
export -f s_coopmat s_tests s_bench_input vkb vkb_check vkb_score vkb_bench s_env s_devices s_checkpoint s_check \
  s_vkbert_bench s_torch s_vkbert_imdb s_imdb_labels
export ROOT OUT VKBERT IMDB CK SHAPES PY LIBS RES CK_ARGS

# In order of importance; the budget cuts from the end.
step env 60 s_env
step devices 30 s_devices
step coopmat 90 s_coopmat
step check_ops 60 s_ops
step tests 90 s_tests
step checkpoint 120 s_checkpoint
step check_fp32 90 s_check fp32
# The gold oracle: HF transformers on vkbert's token ids (bench/gpu-oracle.sh).
step oracle 240 env OUT="$OUT/oracle" CK="$CK" IMDB="$IMDB" LIBS="$LIBS" bash "$ROOT/bench/gpu-oracle.sh"
step vkbert_bench_fp16 120 s_vkbert_bench fp16
step vkbert_bench_fp32 120 s_vkbert_bench fp32
step torch_own_fp16 75 s_torch own fp16 --gemm
step torch_hf_fp16 75 s_torch hf fp16
step vkbert_imdb_gpu_fp16 60 s_vkbert_imdb gpu fp16
step bench_input_fp16 60 s_bench_input fp16
step torch_own_fp32 75 s_torch own fp32
step torch_hf_fp32 75 s_torch hf fp32 --dump-logits "$OUT/imdb_hf_cuda_fp32.jsonl"
step vkbert_imdb_gpu_fp32 60 s_vkbert_imdb gpu fp32
step check_fp16 60 s_check fp16
step vkbert_imdb_cpu_fp32 120 s_vkbert_imdb cpu fp32
step imdb_labels 30 s_imdb_labels

# Always: the table (outside the budget, short).
timeout 30 "$PY" bench/peers/table.py "$RES" > "$OUT/table.md" 2> "$OUT/logs/table.log"
cat "$OUT/table.md"
echo
column -t "$OUT/steps.tsv" 2>/dev/null || cat "$OUT/steps.tsv"
echo "total $(( $(date +%s) - T0 ))s; results in $OUT"
# At most 8 files come back from $OUT: everything goes into one archive, with
# the three summaries beside it.
tar czf /tmp/gpu-run.tgz -C "$OUT" . && find "$OUT" -mindepth 1 -delete && mv /tmp/gpu-run.tgz "$OUT/" && \
  tar xzf "$OUT/gpu-run.tgz" -C "$OUT" ./table.md ./steps.tsv ./results.jsonl 2>/dev/null
ls -la "$OUT"
