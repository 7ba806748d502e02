#!/usr/bin/env bash
# bench/gpu-oracle.sh - the gold-oracle check on the lent GPU machine: HF
# transformers' DistilBertForSequenceClassification on vkbert's token ids vs
# vkbert's logits (GPU fp32, GPU fp16, CPU reference), and HF's Rust tokenizer
# vs vkbert's tokenizer, on a distilbert-base-shape checkpoint with the BERT
# vocab.  Carry: .gl build/vkbert bench/work/imdb (see bench/gpu-run.sh).
set -u
cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-/tmp/vkb-oracle}; mkdir -p "$OUT"
IMDB=${IMDB:-bench/work/imdb} CK=${CK:-/tmp/vkb-bench/distilbert-base} LIBS=${LIBS:-/tmp/vkb-libs}
PY=${PY:-python3}
if [ "${DRY:-0}" != 1 ]; then # DRY=1 (gpu-run.sh --dry-run): this machine's own Vulkan loader and driver
  for f in .gl/*.deb; do
    case "$f" in *libvulkan1*|*libglvnd0*|*libegl1*|*libgl1*|*libglx0*|*libgles2*|*libopengl0*) dpkg -x "$f" / ;;
                 *) dpkg -x "$f" "$LIBS" ;; esac
  done; ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export LD_LIBRARY_PATH_VKB="$LIBS/usr/lib/x86_64-linux-gnu:$LIBS/usr/lib/x86_64-linux-gnu/openblas-pthread"
VKBERT=${VKBERT:-./build/vkbert}; export VKBERT
vkb() { LD_LIBRARY_PATH="$LD_LIBRARY_PATH_VKB" "$VKBERT" "$@"; }
[ -f "$CK/model.safetensors" ] || timeout 60 "$PY" bench/peers/bench_checkpoint.py --out "$CK" --vocab "$IMDB/vocab.txt" > "$OUT/checkpoint.log" 2>&1
{ printf '%s\n' '{"text": "A truly wonderful film."}' '{"text": "Terrible, boring, and far too long!"}' \
    '{"text": "x"}' '{"text": "Caf\u00e9 d\u00e9j\u00e0 vu \u2014 na\u00efve \u4e2d\u6587 \ud83d\ude00 OK?"}'
  head -n 196 "$IMDB/reviews.jsonl"; } > "$OUT/in.jsonl"
vkb tokenize --model "$CK" < "$OUT/in.jsonl" > "$OUT/ids.jsonl"
for d in "gpu fp32" "gpu fp16" "cpu fp32"; do set -- $d
  timeout 90 bash -c 'vkb() { LD_LIBRARY_PATH="$LD_LIBRARY_PATH_VKB" "$VKBERT" "$@"; };
    vkb score --model "$1" --device "$2" --precision "$3" --logits --quiet "$4"' _ "$CK" "$1" "$2" "$OUT/in.jsonl" \
    > "$OUT/vkbert_$1_$2.jsonl" 2> "$OUT/vkbert_$1_$2.err"
done
if ! "$PY" -c 'import transformers' 2>/dev/null; then
  echo '{"skipped": "HF transformers not installed: no gold-oracle comparison"}' | tee "$OUT/oracle.jsonl"
  exit 0
fi
timeout 180 "$PY" bench/peers/hf_oracle_ids.py --model "$CK" --texts "$OUT/in.jsonl" --ids "$OUT/ids.jsonl" \
  --compare "$OUT/vkbert_gpu_fp32.jsonl:1e-3" --compare "$OUT/vkbert_gpu_fp16.jsonl:2e-2" \
  --compare "$OUT/vkbert_cpu_fp32.jsonl:1e-3" 2>"$OUT/oracle.err" | tee "$OUT/oracle.jsonl"
rc=${PIPESTATUS[0]}; echo "oracle rc=$rc"; tail -n 3 "$OUT/oracle.err"; exit "$rc"
