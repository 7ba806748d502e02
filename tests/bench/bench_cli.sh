#!/bin/bash
# bench_cli.sh VKBERT DEV - `vkbert bench` on the committed tiny checkpoint:
# the JSON object has every documented field with sane values (positive
# speed, GFLOP/s consistent with the FLOP formula, per-kernel times on the
# GPU), the text report prints, and the end-to-end mode scores a JSONL file.
# DEV: cpu or gpu (skips, 77, when no Vulkan device exists).
set -u
BIN=$1 DEV=$2
PY=/usr/bin/python3
if [ "$DEV" = gpu ] && ! "$BIN" devices >/dev/null 2>&1; then echo "no Vulkan device"; exit 77; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" bench --model data/tiny-f32 --device "$DEV" --batch 3 --seq 16 --iters 2 --json > "$tmp/b.json" \
  || fail "bench --json exited $?"
$PY - "$tmp/b.json" "$DEV" <<'PY' || exit 1
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "one JSON object per run, got %d lines" % len(lines)
o = json.loads(lines[0])
for k in ["seq_per_s", "ms_per_batch", "gflops", "device", "driver", "vendor", "precision",
          "batch", "seq", "peak_mem_bytes", "load_s", "kernels"]:
    assert k in o, "missing " + k
assert o["batch"] == 3 and o["seq"] == 16 and o["mode"] == "batch"
assert o["seq_per_s"] > 0 and o["ms_per_batch"] > 0
assert abs(o["seq_per_s"] - 3 / (o["ms_per_batch"] / 1e3)) < 1e-2 * o["seq_per_s"]
# tiny-f32: 2 layers, dim 32, hidden 64, 2 labels (FLOP formula atop host/cli_bench.c)
T, D, F, B, L = 48, 32, 64, 3, 16
flop = 2 * (2 * T * (4 * D * D + 2 * D * F) + 4 * B * L * L * D) + 2 * B * (D * D + D * 2)
assert abs(o["gflop_per_batch"] - flop * 1e-9) < 1e-4, (o["gflop_per_batch"], flop)
assert o["all_tokens"] is False
if sys.argv[2] == "gpu":
    assert o["peak_mem_bytes"] > 0 and o["weight_bytes"] > 0
    ks = o["kernels"]
    for k in ["embedding", "gemm_qkv", "attention", "gemm_attn_out", "layernorm",
              "gemm_ffn1", "gemm_ffn2", "gemm_head"]:
        assert k in ks and ks[k] >= 0, "kernel " + k
    assert o["kernel_calls"]["layernorm"] == 4
else:
    assert o["vendor"] == "cpu" and o["precision"] == "fp32"
PY

# --all-tokens: the last layer on every token (the same FLOP count), said so
"$BIN" bench --model data/tiny-f32 --device "$DEV" --batch 3 --seq 16 --iters 2 --all-tokens --json > "$tmp/a.json" \
  || fail "bench --all-tokens exited $?"
$PY - "$tmp/a.json" "$tmp/b.json" <<'PY' || exit 1
import json, sys
a, b = (json.loads(open(f).read()) for f in sys.argv[1:3])
assert a["all_tokens"] is True and a["seq_per_s"] > 0 and a["gflop_per_batch"] == b["gflop_per_batch"], a
PY
"$BIN" bench --model data/tiny-f32 --device "$DEV" --batch 2 --seq 8 --iters 1 --all-tokens | grep -q "last layer on every token" \
  || fail "the text report does not say --all-tokens"
"$BIN" bench --model data/tiny-f32 --device "$DEV" --input /dev/null --all-tokens >/dev/null 2>&1; [ $? = 2 ] \
  || fail "--all-tokens with --input accepted"

"$BIN" bench --model data/tiny-f32 --device "$DEV" --batch 2 --seq 8 --iters 1 > "$tmp/b.txt" \
  || fail "bench (text) exited $?"
grep -q "seq/s" "$tmp/b.txt" || fail "no seq/s in the text report"

for i in $(seq 1 40); do echo "{\"text\": \"review number $i was a good film\"}"; done > "$tmp/in.jsonl"
echo 'not json' >> "$tmp/in.jsonl"
"$BIN" bench --model data/tiny-f32 --device "$DEV" --input "$tmp/in.jsonl" --json > "$tmp/e.json" \
  || fail "bench --input exited $?"
$PY - "$tmp/e.json" <<'PY' || exit 1
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["mode"] == "end-to-end" and o["reviews"] == 40 and o["skipped"] == 1, o
assert o["reviews_per_s"] > 0
PY

# several devices in turn: one JSON object each, in order; a table in text mode
LIST=$([ "$DEV" = gpu ] && echo gpu,cpu || echo cpu,cpu)
"$BIN" bench --model data/tiny-f32 --device "$LIST" --batch 2 --seq 8 --iters 1 --json > "$tmp/m.json" \
  || fail "bench --device $LIST exited $?"
$PY - "$tmp/m.json" "$DEV" <<'PY' || exit 1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert len(rows) == 2, "two devices, %d objects" % len(rows)
assert all(r["batch"] == 2 and r["seq"] == 8 and r["seq_per_s"] > 0 for r in rows)
assert rows[1]["vendor"] == "cpu"
assert (rows[0]["vendor"] != "cpu") == (sys.argv[2] == "gpu"), rows[0]["vendor"]
PY
"$BIN" bench --model data/tiny-f32 --device "$LIST" --batch 2 --seq 8 --iters 1 > "$tmp/m.txt" \
  || fail "bench --device $LIST (text) exited $?"
grep -q "^--device .*vs first" "$tmp/m.txt" || fail "no side-by-side table"
[ "$(grep -c "^cpu  .*CPU reference" "$tmp/m.txt")" -ge 1 ] || fail "table lacks the cpu row"
"$BIN" bench --model data/tiny-f32 --device gpu,tpu >/dev/null 2>&1; [ $? = 2 ] || fail "bad device list accepted"

# usage errors
"$BIN" bench --model data/tiny-f32 --shape distilbert-base >/dev/null 2>&1; [ $? = 2 ] || fail "--model with --shape"
"$BIN" bench --model data/tiny-f32 --device "$DEV" --seq 100000 >/dev/null 2>&1; [ $? = 2 ] || fail "--seq past max_pos"
echo ok
