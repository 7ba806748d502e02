#!/usr/bin/env bash
# bench/gpu-run.sh - ALL the GPU work of one session on the lent GPU machine
# (now one NVIDIA H200: ../shared/GPU.md), in one run of at most 8 minutes;
# every result lands under $OUT.  The vkbert command lines it uses are all in
# the vkb* functions below.
#
#   bench/gpu-run.sh            the real run (on the GPU machine)
#   bench/gpu-run.sh --dry-run  the same steps, argument handling and result
#                               files on this machine: tiny shapes and a tiny
#                               checkpoint and workload, lavapipe (or whatever
#                               `--device gpu` finds), CUDA peers skipped with
#                               a note when torch.cuda is unavailable; results
#                               under $OUT (a temporary folder when unset).
#                               CI runs it (tests/bench.cmake: gpu_run_dry).
#
# Run it from the device tool, from the repository root:
#   run(command="bash bench/gpu-run.sh", carry=[".gl", "build/vkbert",
#       "build/tests", "build/bench", "bench/work/imdb"], timeout_s=540)
# Prepare here first (all git-ignored; nothing of it is committed):
#   - build/ built here (same x86-64; the script runs build/vkbert, the
#     Vulkan test programs in build/tests and build/bench/coopmat_check), and
#     .gl/*.deb: libvulkan1 libcjson1 libutf8proc2 libopenblas0-pthread libmicrohttpd12
#     libgfortran5 libgomp1 libdnnl2 ocl-icd-libopencl1 libegl1 libglvnd0
#     libopengl0 libgl1 libglx0 libgles2 (see ../shared/GPU.md; check `ldd
#     build/vkbert` for any other library).  libdnnl2 (+ ocl-icd-libopencl1,
#     its dependency) is not linked: vkbert dlopen()s libdnnl.so.2 only for the
#     CPU's --precision bf16|int8, which no step runs, so ldd does not list it;
#     the env step records whether it would load;
#   - bench/work/imdb/ from `/usr/bin/python3 bench/peers/make_imdb_workload.py`
#     (ids.jsonl, reviews.jsonl, vocab.txt: ~6 MB; the machine has no ../shared).
#
# The CLI as used (fix the vkb* functions if it changes):
#   vkbert devices | check --ops --device gpu [FILTERS] | check --model DIR
#   --device gpu --precision P | score --model DIR --device D [--precision P]
#   --logits FILE | bench --model DIR --device gpu --precision P --batch B
#   --seq L --json (one JSON line with seq_per_s, ms_per_batch, kernels).
# Machine: python3 (3.12) + PyTorch 2.11 (torch.compile, Triton) +
# transformers 5.17, no Debian packages, no network.
#
# Robustness: every step is `timeout`-bounded and independent (a failing step
# is recorded in $OUT/steps.tsv and the next one runs); steps run in order of
# importance and each is capped by what is left of BUDGET_S (default 440 s:
# the whole run, table and archive included, ends inside 8 minutes; the H100
# run of the same steps took ~350 s).  The summary table is always made.
# Outputs: steps.tsv, table.md, results.jsonl (all timings as JSON lines) and
# gpu-run.tgz (everything: logs/*.log, env.txt, devices.txt, check_*.txt,
# oracle/, imdb_*.jsonl, ...): at most 8 files come back from the machine.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
DRY=0
for a in "$@"; do
  case "$a" in
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-run.sh: unknown argument '$a' (expected --dry-run or --help)" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d /tmp/vkb-gpu-work.XXXXXX) || exit 2
trap 'rm -rf "$WORK"' EXIT
if [ "$DRY" = 1 ]; then
  OUT=${OUT:-$(mktemp -d /tmp/vkb-gpu-dry.XXXXXX)}
  BUDGET_S=${BUDGET_S:-300}  # a cap; it takes ~60-80 s here, ~140 s under ASan
  SHAPES=${SHAPES:-"1x16 3x24"}
  CK=${CK:-$WORK/ckpt}
  CK_ARGS=${CK_ARGS:-"--dim 32 --layers 1 --heads 2 --hidden 64 --max-pos 64"}
  IMDB=${IMDB:-$WORK/imdb}
  IMDB_CPU_N=${IMDB_CPU_N:-12}
  # the fast Vulkan test programs (the op matrix runs filtered below)
  TESTS=${TESTS:-"test_vk_profile test_vk_coopmat"}
  COOPMAT_ARGS=${COOPMAT_ARGS:-"--reps 1 --rounds 1 65 67 33"}
  OPS_FILTER=${OPS_FILTER:-"attention flash fp32"}
  OPS_KHR=${OPS_KHR:-"linear coopmat coopmat_s coopmat_l fp16"}  # no coopmat here: the rows skip at once
  SDPA=${SDPA:-"2x2x16x16"}
  COMPILE_SHAPES=${COMPILE_SHAPES:-"1x16"}
  # Debian's python3 has numpy (and, where installed, PyTorch 1.13)
  if [ -z "${PY:-}" ]; then PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3; fi
else
  OUT=${OUT:-/tmp/vkb-gpu-out}
  BUDGET_S=${BUDGET_S:-440}
  SHAPES=${SHAPES:-"1x128 8x128 32x128 32x256 64x512"}
  CK=${CK:-/tmp/vkb-bench/distilbert-base}   # ~265 MB: never under $OUT (reused if present)
  CK_ARGS=${CK_ARGS:-}
  IMDB=${IMDB:-$ROOT/bench/work/imdb}
  IMDB_CPU_N=${IMDB_CPU_N:-400}   # CPU reference on the first N reviews (2000 took >120 s on the H100 machine)
  TESTS=${TESTS:-"test_vk_ops test_vk_model test_vk_upload test_vk_profile test_vk_coopmat test_vk_policy test_vk_opcheck"}
  OPS_FILTER=${OPS_FILTER:-}
  OPS_KHR=${OPS_KHR:-"coopmat coopmat_s coopmat_l flash fp16"}  # the KHR-form GEMM and flash-attention cases
  COOPMAT_ARGS=${COOPMAT_ARGS:-}   # its default shapes: DistilBERT's GEMMs at 1024 and 4096 tokens
  SDPA=${SDPA:-"32x12x128x64,32x12x512x64"}   # the attention target's shapes
  COMPILE_SHAPES=${COMPILE_SHAPES:-"32x128 32x256"}  # each shape compiles anew (~20-40 s)
  PY=${PY:-python3}
fi
BUILD=${BUILD:-$ROOT/build}
VKBERT=${VKBERT:-$BUILD/vkbert}
LIBS=/tmp/vkb-libs
mkdir -p "$OUT/logs" || exit 2
# the tuning cache of this run (vkbert tune, and the automatic tuning of the
# GPU steps after it) is kept with the results, never the user's
export XDG_CACHE_HOME="$OUT/cache"
T0=$(date +%s)
printf 'step\trc\tseconds\tlimit\n' > "$OUT/steps.tsv"
RES="$OUT/results.jsonl"
: > "$RES"
echo "gpu-run.sh: $([ "$DRY" = 1 ] && echo dry run || echo GPU run), budget ${BUDGET_S}s, results in $OUT"

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

# --- the vkbert CLI as used (the one place to change) ------------------------
# On the GPU machine Debian's libraries are unpacked into a private prefix, not
# over the machine's own /usr, and only vkbert sees them (LD_LIBRARY_PATH):
# PyTorch is untouched.  In the dry run that prefix does not exist.
[ "$DRY" = 1 ] || export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
vkb_libs() { echo "$LIBS/usr/lib/x86_64-linux-gnu:$LIBS/usr/lib/x86_64-linux-gnu/openblas-pthread:$LIBS/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; }
vkb() { LD_LIBRARY_PATH="$(vkb_libs)" "$VKBERT" "$@"; }
vkb_check() { vkb check --model "$CK" --device gpu --precision "$1"; }
vkb_score() { # DEVICE PRECISION FILE (no --precision for the fp32 CPU reference)
  if [ "$1" = cpu ]; then vkb score --model "$CK" --device cpu --logits "$3"
  else vkb score --model "$CK" --device "$1" --precision "$2" --logits "$3"; fi
}
vkb_bench() { vkb bench --model "$CK" --device gpu --precision "$1" --batch "$2" --seq "$3" --json; }

# --- steps ---------------------------------------------------------------------
s_env() {
  # GPU run: the Vulkan loader and glvnd go into / (the NVIDIA ICD,
  # libGLX_nvidia, needs libGLdispatch); the other libraries into a private
  # prefix seen only by vkbert.  Dry run: this machine's own loader.
  if [ "$DRY" = 1 ]; then
    echo "dry run: no .gl packages unpacked; the system Vulkan loader and drivers"
  else
    for f in "$ROOT"/.gl/*.deb; do
      case "$f" in
        *libvulkan1*|*libglvnd0*|*libegl1*|*libgl1*|*libglx0*|*libgles2*|*libopengl0*) dpkg -x "$f" / ;;
        *) dpkg -x "$f" "$LIBS" ;;
      esac || echo "cannot unpack $f"
    done
    ldconfig
  fi
  {
    date -u; uname -a
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    else echo "nvidia-smi: not here"; fi
    [ "$DRY" = 1 ] && [ ! -e /dev/nvidiactl ] && echo "dry run: no NVIDIA device, PyTorch not probed" ||
    "$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))' || true
    "$PY" -c 'import transformers; print("transformers", transformers.__version__)' || true
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
    echo "ldd vkbert:"; LD_LIBRARY_PATH="$(vkb_libs)" ldd "$VKBERT"
    # dlopen()ed for CPU bf16/int8 only (no step needs it): listed, not required
    dnnl=$(LD_LIBRARY_PATH="$(vkb_libs)" ldconfig -p 2>/dev/null | grep -o "libdnnl.so.2 .*" | head -n 1)
    [ -z "$dnnl" ] && [ -e "$LIBS/usr/lib/x86_64-linux-gnu/libdnnl.so.2" ] && dnnl="$LIBS/usr/lib/x86_64-linux-gnu/libdnnl.so.2"
    echo "libdnnl.so.2 (dlopen()ed for CPU bf16/int8 only): ${dnnl:-absent}"
    echo "vkbert: $(vkb --version 2>&1 | head -n 1)"
    nproc
  } > "$OUT/env.txt" 2>&1
  cat "$OUT/env.txt"
  ! grep -q "not found" "$OUT/env.txt"
}
s_devices() { vkb devices | tee "$OUT/devices.txt"; }
s_coopmat() { # the cooperative-matrix GEMM: self-test + GFLOP/s vs tiled (exit 3: no coopmat, tiled measured)
  LD_LIBRARY_PATH="$(vkb_libs)" "$BUILD/bench/coopmat_check" $COOPMAT_ARGS | tee "$OUT/coopmat.txt"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 3 ] && { echo "coopmat unavailable on this device (see coopmat.txt)"; return 0; }
  return "$rc"
}
s_ops() { # every kernel variant vs the CPU ops (flash attention: coopmat fragments on the GPU at fp16)
  vkb check --ops --device gpu $OPS_FILTER | tee "$OUT/check_ops.txt"
}
s_coopmat_khr() { # the VK_KHR_cooperative_matrix form (SPIR-V rewritten from the NV one at
  # build time) pinned with VKB_COOPMAT=khr: the self-test of each form the device has
  # (test_vk_coopmat), then the op matrix's coopmat GEMM and flash-attention fp16 cases (OPS_KHR).
  # GPU run: the KHR GEMM rows must pass (a device without the KHR form makes them
  # skip: a failure here); dry run (lavapipe: no coopmat): they skip, the rest passes.
  local rc=0
  if [ -x "$BUILD/tests/test_vk_coopmat" ]; then
    (cd "$ROOT/tests" && LD_LIBRARY_PATH="$(vkb_libs)" VKB_SHARED=/nonexistent "$BUILD/tests/test_vk_coopmat") \
      > "$OUT/coopmat_forms.txt" 2>&1
    case $? in 0|77) ;; *) echo "test_vk_coopmat FAILED"; rc=1 ;; esac
    grep -E "^device|coopmat form|FAIL" "$OUT/coopmat_forms.txt"
  else echo "test_vk_coopmat: not built"; rc=1; fi
  local crc pass skip
  VKB_COOPMAT=khr vkb check --ops --device gpu $OPS_KHR | tee "$OUT/check_ops_khr.txt"
  crc=${PIPESTATUS[0]}
  # (coopmat, coopmat_s, coopmat_l; a coopmat_l row skipped because the device's shared
  # memory cannot hold its tile is no failure: it is never a candidate there)
  pass=$(grep -Ec '^linear  *coopmat(_s|_l)? .* pass$' "$OUT/check_ops_khr.txt")
  skip=$(grep -E '^linear  *coopmat(_s|_l)? .* skip' "$OUT/check_ops_khr.txt" | grep -vc 'bytes of shared memory')
  echo "KHR coopmat GEMM cases: $pass passed, $skip skipped (check --ops exit $crc)"
  # dry run (lavapipe): every row skips, which check --ops reports as exit 1 ("no case ran")
  if [ "$DRY" = 1 ]; then [ $((pass + skip)) -gt 0 ] && { [ "$crc" = 0 ] || [ "$pass" = 0 ]; } || rc=1
  else [ "$crc" = 0 ] && [ "$pass" -gt 0 ] && [ "$skip" = 0 ] || rc=1; fi
  return $rc
}
s_tests() { # the Vulkan op, model, upload-path and profiling tests on this device, validation off
  local t rc=0 n=0
  for t in $TESTS; do
    [ -x "$BUILD/tests/$t" ] || { echo "$t: not built"; rc=1; continue; }
    n=$((n + 1))
    (cd "$ROOT/tests" && LD_LIBRARY_PATH="$(vkb_libs)" VKB_SHARED=/nonexistent "$BUILD/tests/$t")
    case $? in 0) ;; 77) echo "$t: skipped (77: the device lacks what it tests)" ;; *) echo "$t FAILED"; rc=1 ;; esac
  done
  echo "$n test programs run"
  return $rc
}
s_workload() { # the IMDB workload: carried on the GPU run; a tiny one in the dry run
  if [ "$DRY" = 1 ]; then
    mkdir -p "$IMDB" && cp "$ROOT/models/default/vocab.txt" "$IMDB/vocab.txt" || return 1
    "$PY" - "$IMDB/vocab.txt" "$IMDB/reviews.jsonl" <<'EOF'
import json, random, sys
words = [w.strip() for w in open(sys.argv[1], encoding="utf-8")]
words = [w for w in words if w.isalpha() and len(w) > 1] or ["film"]
rng = random.Random(7)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i in range(24):  # lengths 1..~40 words: length groups and padding
        f.write(json.dumps({"text": " ".join(rng.choice(words) for _ in range(1 + (i * 7) % 40))}) + "\n")
EOF
  fi
  for f in reviews.jsonl vocab.txt; do [ -s "$IMDB/$f" ] || { echo "missing $IMDB/$f"; return 1; }; done
  wc -l "$IMDB/reviews.jsonl"
}
s_checkpoint() { # the same checkpoint for vkbert and every peer; CK_ARGS: a smaller shape
  if [ ! -f "$CK/model.safetensors" ]; then
    "$PY" bench/peers/bench_checkpoint.py --out "$CK" --vocab "$IMDB/vocab.txt" ${CK_ARGS:-} || return 1
  fi
  cp "$CK/config.json" "$OUT/checkpoint_config.json"
  if [ ! -s "$IMDB/ids.jsonl" ]; then # dry run: the peers' ids from vkbert's tokenizer
    vkb tokenize --model "$CK" < "$IMDB/reviews.jsonl" > "$IMDB/ids.jsonl" || return 1
  fi
}
s_check() { vkb_check "$1" | tee "$OUT/check_$1.txt"; }
s_tune() { # vkbert tune on the checkpoint (PRECISION): every candidate timed and checked; the
  # cache ($XDG_CACHE_HOME = $OUT/cache) comes back in the archive and the later steps use it
  local bt=(); [ "$DRY" = 1 ] && bt=(--batch-tokens 64)
  vkb tune --model "$CK" --device gpu --precision "$1" "${bt[@]}" | tee "$OUT/tune_$1.txt"
}
s_vkbert_bench() { # PRECISION: every shape; per-kernel times (attention included) in the JSON
  local s rc=0
  for s in $SHAPES; do
    timeout 40 bash -c 'vkb_bench "$@"' _ "$1" "${s%x*}" "${s#*x}" > "$OUT/logs/bench_$1_$s.out" || rc=1
    grep '^{' "$OUT/logs/bench_$1_$s.out" >> "$RES" || rc=1
  done
  return $rc
}
s_torch() { # IMPL PRECISION [extra args]: one peer on CUDA, a 'skipped' line when CUDA is not there
  local impl=$1 p=$2
  shift 2
  "$PY" bench/peers/torch_peer.py --model "$CK" --impl "$impl" --device cuda --dtype "$p" \
    --shapes "$(echo $SHAPES | tr ' ' ,)" --imdb "$IMDB/ids.jsonl" --out "$RES" --skip-missing "$@"
}
s_torch_cpu() { # dry run only: the peer's timing and output code on the CPU (skipped without PyTorch)
  "$PY" bench/peers/torch_peer.py --model "$CK" --impl own --device cpu --dtype fp32 --threads 1 \
    --shapes "$(echo $SHAPES | tr ' ' ,)" --imdb "$IMDB/ids.jsonl" --out "$RES" --skip-missing \
    --warmup 0 --runs 1 --sdpa "$SDPA"
}
s_vkbert_imdb() { # DEVICE PRECISION [N]: vkbert score end to end on the workload (first N reviews)
  local t1 t2 in="$IMDB/reviews.jsonl" o="$OUT/imdb_vkbert_$1_$2.jsonl"
  if [ -n "${3:-}" ]; then head -n "$3" "$IMDB/reviews.jsonl" > "$WORK/reviews_$3.jsonl"; in="$WORK/reviews_$3.jsonl"; fi
  t1=$(date +%s.%N)
  vkb_score "$1" "$2" "$in" > "$o" || return 1
  t2=$(date +%s.%N)
  "$PY" - "$1" "$2" "$t1" "$t2" "$o" "$RES" <<'EOF'
import json, sys
dev, prec, t1, t2, path, res = sys.argv[1:]
n = sum(1 for line in open(path) if line.strip())
dt = float(t2) - float(t1)
name = next((o.get("device") for o in map(json.loads, (l for l in open(res) if l.startswith("{")))
             if o.get("peer", "vkbert") == "vkbert" and o.get("device")), dev)
o = {"peer": "vkbert", "device": name if dev == "gpu" else "cpu reference", "dtype": prec, "workload": "imdb",
     "batch": "auto", "seq": "imdb", "reviews": n, "seq_per_s": round(n / dt, 2), "ms_per_batch": None,
     "total_s": round(dt, 3), "note": "vkbert score end to end: process start, model load, tokenization included"}
print(json.dumps(o))
open(res, "a").write(json.dumps(o) + "\n")
EOF
}
s_bench_input() { # PRECISION: vkbert bench --input (reading+tokenizing+scoring, model loaded)
  vkb bench --model "$CK" --device gpu --precision "$1" --input "$IMDB/reviews.jsonl" --json | tee -a "$OUT/bench_input.jsonl"
}
s_imdb_labels() { # labels of GPU fp16/fp32 (and HF on CUDA) vs the CPU reference on its first N reviews
  local args=() f
  for f in "$OUT"/imdb_vkbert_gpu_*.jsonl "$OUT"/imdb_hf_cuda_fp32.jsonl; do
    [ -f "$f" ] && args+=(--compare "$f:1e9")  # labels only: logits differ by precision
  done
  "$PY" bench/peers/hf_oracle.py --reference "$OUT/imdb_vkbert_cpu_fp32.jsonl" --count "$IMDB_CPU_N" \
    "${args[@]}" | tee "$OUT/imdb_labels.jsonl"
}
s_oracle() { # the gold oracle: HF transformers on vkbert's token ids (bench/gpu-oracle.sh)
  OUT="$OUT/oracle" CK="$CK" IMDB="$IMDB" LIBS="$LIBS" DRY="$DRY" PY="$PY" bash "$ROOT/bench/gpu-oracle.sh"
}
export -f s_env s_devices s_coopmat s_coopmat_khr s_ops s_tests s_workload s_checkpoint s_check s_tune s_vkbert_bench s_torch \
  s_torch_cpu s_vkbert_imdb s_bench_input s_imdb_labels s_oracle vkb vkb_libs vkb_check vkb_score vkb_bench
export ROOT OUT DRY BUILD VKBERT IMDB CK CK_ARGS SHAPES PY LIBS RES WORK TESTS OPS_FILTER OPS_KHR SDPA IMDB_CPU_N COOPMAT_ARGS

# In order of importance; the budget cuts from the end.
step env 45 s_env
step devices 20 s_devices
step workload 20 s_workload
step checkpoint 60 s_checkpoint
step check_ops 60 s_ops
step coopmat_khr 40 s_coopmat_khr
step tune_fp16 90 s_tune fp16
step tests 90 s_tests
step check_fp16 45 s_check fp16
step check_fp32 45 s_check fp32
step vkbert_bench_fp16 60 s_vkbert_bench fp16
step vkbert_bench_fp32 60 s_vkbert_bench fp32
step torch_eager_fp16 50 s_torch own fp16 --gemm --sdpa "$SDPA"
step torch_hf_sdpa_fp16 45 s_torch hf fp16 --attn sdpa
step torch_compile_fp16 90 s_torch own fp16 --compile --shapes "$(echo $COMPILE_SHAPES | tr ' ' ,)" --imdb ""
step vkbert_imdb_gpu_fp16 40 s_vkbert_imdb gpu fp16
step torch_eager_fp32 45 s_torch own fp32
step torch_hf_sdpa_fp32 45 s_torch hf fp32 --attn sdpa --dump-logits "$OUT/imdb_hf_cuda_fp32.jsonl"
step vkbert_imdb_gpu_fp32 40 s_vkbert_imdb gpu fp32
step vkbert_imdb_cpu_fp32 60 s_vkbert_imdb cpu fp32 "$IMDB_CPU_N"
step imdb_labels 20 s_imdb_labels
[ "$DRY" = 1 ] && step torch_cpu 20 s_torch_cpu
step coopmat 30 s_coopmat
step oracle 90 s_oracle
step bench_input_fp16 30 s_bench_input fp16

# Always: the table (outside the budget, short).
timeout 30 "$PY" bench/peers/table.py "$RES" > "$OUT/table.md" 2> "$OUT/logs/table.log"
cat "$OUT/table.md"
echo
column -t "$OUT/steps.tsv" 2>/dev/null || cat "$OUT/steps.tsv"
echo "total $(( $(date +%s) - T0 ))s; results in $OUT"
# At most 8 files come back from $OUT: everything goes into one archive, with
# the three summaries beside it.
tar czf "$WORK/gpu-run.tgz" -C "$OUT" . && find "$OUT" -mindepth 1 -delete && mv "$WORK/gpu-run.tgz" "$OUT/" && \
  tar xzf "$OUT/gpu-run.tgz" -C "$OUT" ./table.md ./steps.tsv ./results.jsonl 2>/dev/null
ls -la "$OUT"
# Exit status: 0 when every step passed (a peer skipped for want of CUDA,
# transformers or torch.compile passes, with its note in results.jsonl); the
# dry run also fails when a step was cut by the budget, so CI knows every
# step ran.
awk -F'\t' -v dry="$DRY" 'NR > 1 && ($2 != 0 && ($2 != "skipped" || dry == 1)) { bad = 1; print "failed: " $1 " (" $2 ")" }
  END { exit bad }' "$OUT/steps.tsv"
