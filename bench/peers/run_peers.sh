#!/usr/bin/env bash
# Runs every CPU peer on the same checkpoint and shapes in one sitting and
# prints one Markdown table (seq/s, ms/batch, GFLOP/s, ratios vs vkbert).
#
#   bench/peers/run_peers.sh [--model DIR] [--shapes 1x128,8x128,...] [--imdb FILE | --no-imdb]
#                            [--vkbert-json FILE]... [--vkbert-bin build/vkbert]
#                            [--peers torch,ort] [--runs N] [--warmup N] [--imdb-runs N]
#                            [--precisions fp32,bf16,int8] [--tiny] [--out DIR]
#
# Peers: PyTorch CPU eager fp32, 2 threads (torch_peer.py, Debian python3-torch),
# the same with dynamic int8 quantization (peer torch-int8: quantize_dynamic of
# every nn.Linear, dtype qint8), and ONNX Runtime CPU, 2 threads, graph optimization 'all' (ort_peer.mjs on
# the export made by onnx_export.py, verified against PyTorch before timing).
# vkbert: its results come from `vkbert bench --json` lines given with
# --vkbert-json, or are measured in this sitting with --vkbert-bin (assumed
# CLI: `vkbert bench --model DIR --batch B --seq L --json`, and for the IMDB
# workload `vkbert bench --model DIR --input reviews.jsonl --json`, on every
# device in VKB_DEVICES, default "gpu cpu"; on the CPU once per --precisions
# entry, default fp32,bf16,int8, in alternation shape by shape; an entry with
# "+all", e.g. fp32+all, adds `--all-tokens`: the last layer on every token,
# as the peers run it (vkbert's default, logits, runs it on the first token
# only); the IMDB workload, `vkbert score`'s path, skips those).
#
# Defaults: the distilbert-base-shape random checkpoint bench/work/distilbert-base
# (made when missing, ~265 MB, git-ignored), shapes 1x128,8x128,32x128,32x256,
# 64x512 and the IMDB workload bench/work/imdb/ids.jsonl (made when missing).
# --tiny: a dim-64, 2-layer checkpoint for a quick smoke test of the pipeline.
# Everything lands in --out (default bench/work/results-DATE): results.jsonl,
# table.md, and one .log per step.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK="$ROOT/bench/work"
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import torch' 2>/dev/null || PY=python3

MODEL="" SHAPES="1x128,8x128,32x128,32x256,64x512" IMDB="$WORK/imdb/ids.jsonl" NO_IMDB=0
PEERS="torch,torch-int8,ort" PRECS="fp32,bf16,int8" RUNS="" WARMUP="" IMDB_RUNS="" TINY=0 OUTDIR="" VKBIN="" VKJSON=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --shapes) SHAPES=$2; shift 2 ;;
    --imdb) IMDB=$2; shift 2 ;;
    --no-imdb) NO_IMDB=1; shift ;;
    --vkbert-json) VKJSON+=("$2"); shift 2 ;;
    --vkbert-bin) VKBIN=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --precisions) PRECS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --imdb-runs) IMDB_RUNS=$2; shift 2 ;;
    --tiny) TINY=1; shift ;;
    --out) OUTDIR=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_peers.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$MODEL" ]; then
  if [ $TINY = 1 ]; then MODEL="$WORK/ckpt-tiny"; else MODEL="$WORK/distilbert-base"; fi
fi
OUTDIR=${OUTDIR:-$WORK/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUTDIR" || exit 2
RES="$OUTDIR/results.jsonl"
: > "$RES"
FAILED=()
step() { echo "== $*" >&2; }

# -- the checkpoint ------------------------------------------------------------
make_ckpt() { # DIR: tools/make_checkpoint.py weights + the BERT vocab (bench_checkpoint.py)
  if [ $TINY = 1 ]; then
    "$PY" "$HERE/bench_checkpoint.py" --out "$1" --dim 64 --layers 2 --heads 2 --hidden 256
  else
    "$PY" "$HERE/bench_checkpoint.py" --out "$1"
  fi
}
if [ ! -f "$MODEL/model.safetensors" ] || [ ! -f "$MODEL/config.json" ]; then
  step "making checkpoint $MODEL"
  make_ckpt "$MODEL" || { echo "cannot make checkpoint $MODEL" >&2; exit 1; }
fi

# -- the IMDB workload ---------------------------------------------------------
if [ $NO_IMDB = 0 ] && [ ! -f "$IMDB" ]; then
  step "making the IMDB workload $(dirname "$IMDB")"
  "$PY" "$HERE/make_imdb_workload.py" --out "$(dirname "$IMDB")" || { echo "no IMDB workload; continuing without" >&2; NO_IMDB=1; }
fi
IMDB_ARGS=()
[ $NO_IMDB = 0 ] && IMDB_ARGS=(--imdb "$IMDB")
COMMON=()
[ -n "$RUNS" ] && COMMON+=(--runs "$RUNS")
[ -n "$WARMUP" ] && COMMON+=(--warmup "$WARMUP")
[ -n "$IMDB_RUNS" ] && COMMON+=(--imdb-runs "$IMDB_RUNS")

{
  echo "# sitting $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores"
  echo "# model $MODEL: $(tr -d '\n ' < "$MODEL/config.json" | head -c 400)"
  echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUTDIR/sitting.txt"

# -- PyTorch CPU -----------------------------------------------------------------
if [[ ",$PEERS," == *",torch,"* ]]; then
  step "PyTorch CPU (2 threads, fp32, eager)"
  "$PY" "$HERE/torch_peer.py" --model "$MODEL" --device cpu --threads 2 --shapes "$SHAPES" \
      "${IMDB_ARGS[@]}" "${COMMON[@]}" --out "$RES" > /dev/null 2> "$OUTDIR/torch.log" \
    || { FAILED+=(torch); tail -5 "$OUTDIR/torch.log" >&2; }
fi

# -- PyTorch CPU, dynamic int8 ------------------------------------------------------
if [[ ",$PEERS," == *",torch-int8,"* ]]; then
  step "PyTorch CPU (2 threads, quantize_dynamic qint8, eager)"
  "$PY" "$HERE/torch_peer.py" --model "$MODEL" --device cpu --threads 2 --dtype qint8 --shapes "$SHAPES" \
      "${IMDB_ARGS[@]}" "${COMMON[@]}" --out "$RES" > /dev/null 2> "$OUTDIR/torch-int8.log" \
    || { FAILED+=(torch-int8); tail -5 "$OUTDIR/torch-int8.log" >&2; }
fi

# -- ONNX Runtime CPU -------------------------------------------------------------
if [[ ",$PEERS," == *",ort,"* ]]; then
  ONNX="$MODEL.onnx"
  if [ ! -d "$HERE/node_modules/onnxruntime-node" ]; then
    step "installing onnxruntime-node (CPU only)"
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix "$HERE" --no-audit --no-fund >&2 || FAILED+=(npm)
  fi
  if [ ! -f "$ONNX" ] || [ "$MODEL/model.safetensors" -nt "$ONNX" ]; then
    step "exporting $ONNX (opset 14)"
    "$PY" "$HERE/onnx_export.py" --model "$MODEL" --out "$ONNX" > "$OUTDIR/onnx_export.log" 2>&1 \
      || { FAILED+=(onnx_export); tail -5 "$OUTDIR/onnx_export.log" >&2; }
  fi
  step "ONNX Runtime CPU (2 threads, optimization 'all')"
  node "$HERE/ort_peer.mjs" --model "$ONNX" --verify --threads 2 --shapes "$SHAPES" \
      "${IMDB_ARGS[@]}" "${COMMON[@]}" --out "$RES" > /dev/null 2> "$OUTDIR/ort.log" \
    || { FAILED+=(ort); tail -5 "$OUTDIR/ort.log" >&2; }
fi

# -- vkbert (measured now, or given) ---------------------------------------------
if [ -n "$VKBIN" ]; then
  # every device in VKB_DEVICES (default: the best Vulkan device and the CPU
  # reference), VKB_ITERS timed batches each (default 3: lavapipe is slow)
  IFS=, read -r -a SH <<< "$SHAPES"
  IFS=, read -r -a PR <<< "$PRECS"
  for dev in ${VKB_DEVICES:-gpu cpu}; do
    # the CPU: every precision of --precisions, alternated per shape; a GPU: its default
    precs=(""); [ "$dev" = cpu ] && precs=("${PR[@]}")
    step "vkbert bench ($VKBIN, --device $dev${precs[0]:+, precisions ${precs[*]}})"
    items=("${SH[@]}"); [ $NO_IMDB = 0 ] && items+=(imdb)
    for s in "${items[@]}"; do
      for p in "${precs[@]}"; do
        pa=(); [ -n "$p" ] && pa=(--precision "${p%+all}")
        [ "$p" != "${p%+all}" ] && { [ "$s" = imdb ] && continue; pa+=(--all-tokens); }
        if [ "$s" = imdb ]; then
          "$VKBIN" bench --model "$MODEL" --device "$dev" "${pa[@]}" --input "$(dirname "$IMDB")/reviews.jsonl" --json \
            >> "$OUTDIR/vkbert.jsonl" 2>> "$OUTDIR/vkbert.log" || FAILED+=("vkbert-$dev${p:+-$p}-imdb")
        else
          b=${s%x*} l=${s#*x}
          "$VKBIN" bench --model "$MODEL" --device "$dev" "${pa[@]}" --batch "$b" --seq "$l" --iters "${VKB_ITERS:-3}" --json \
            >> "$OUTDIR/vkbert.jsonl" 2>> "$OUTDIR/vkbert.log" || FAILED+=("vkbert-$dev${p:+-$p}-$s")
        fi
      done
    done
  done
  VKJSON+=("$OUTDIR/vkbert.jsonl")
fi
for f in "${VKJSON[@]+"${VKJSON[@]}"}"; do
  [ -f "$f" ] && grep '^{' "$f" >> "$RES"
done

"$PY" "$HERE/table.py" "$RES" | tee "$OUTDIR/table.md"
echo >&2
echo "results: $RES, table: $OUTDIR/table.md, logs: $OUTDIR/*.log" >&2
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "FAILED steps: ${FAILED[*]}" >&2
  exit 1
fi
