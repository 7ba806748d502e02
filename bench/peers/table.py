#!/usr/bin/env python3
"""Prints one Markdown table from benchmark JSON lines (peers and vkbert).

Input: files of JSON lines as torch_peer.py, ort_peer.mjs and
`vkbert bench --json` write them; other lines are ignored.  A line is a
result when it has seq_per_s (or reviews_per_s) and batch/seq (or
workload "imdb").  Lines whose "peer" is missing or "vkbert" are vkbert's.

Rows: one per (shape, engine), shapes in the order first seen.  Columns:
seq/s (reviews/s for the IMDB workload), ms per batch, GFLOP/s when given, and
for every vkbert variant (device + precision) the ratio
"vkbert seq/s / this engine's seq/s" at the same shape (> 1: vkbert faster).
Lines of workload "gemm" (torch_peer.py --gemm) go to a second table.

Usage: table.py FILE... (use - for stdin)
"""
import json
import sys


def load(paths):
    rows = []
    for p in paths:
        f = sys.stdin if p == "-" else open(p, encoding="utf-8")
        with f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
    return rows


def norm(o):
    """Maps one result line to (shape key, engine key, fields) or None."""
    # "skipped": a peer's reason for not running (a string); vkbert bench
    # --input reports a count of skipped records under the same key
    if o.get("workload") in ("gemm", "attention") or isinstance(o.get("skipped"), str):
        return None
    sps = o.get("seq_per_s", o.get("reviews_per_s"))
    if not isinstance(sps, (int, float)):
        return None
    peer = o.get("peer") or "vkbert"
    dtype = o.get("dtype") or o.get("precision") or "?"
    if o.get("all_tokens"):  # vkbert bench --all-tokens: the last layer on every token
        dtype += ", all tokens"
    dev = o.get("device_name") or o.get("device") or "?"
    if isinstance(dev, dict):  # vkbert may report {"name":..., "driver":...}
        dev = dev.get("name", "?")
    driver = o.get("driver")
    if isinstance(driver, dict):
        driver = driver.get("version") or driver.get("name")
    imdb = o.get("workload") == "imdb" or o.get("seq") == "imdb" or "reviews_per_s" in o
    if imdb:
        shape = f"IMDB {o.get('reviews', 2000)} reviews"  # vkbert (length-grouped) and peers (B=32) side by side
    else:
        b, l = o.get("batch", o.get("B")), o.get("seq", o.get("L", o.get("seq_len")))
        if b is None or l is None:
            return None
        shape = f"{b}×{l}"
    impl = o.get("impl", "")
    if peer == "vkbert":
        label = "vkbert"
    elif peer == "pytorch" and dtype == "qint8":
        label = "PyTorch eager, dynamic int8 (quantize_dynamic)"
    elif peer == "pytorch":
        label = "PyTorch eager" + (" (tools/distilbert_torch.py)" if impl == "own" else "")
    elif peer == "pytorch-hf":
        label = "PyTorch, HF transformers" + (f" [{impl.split('attn=')[1]}]" if "attn=" in impl else "")
    elif peer == "pytorch-compile":
        label = "PyTorch torch.compile"
    elif peer == "onnxruntime":
        label = "ONNX Runtime"
    else:
        label = peer
    threads = o.get("threads")
    devtxt = str(dev) + (f", {threads} threads" if threads else "")
    if driver and peer == "vkbert":
        devtxt += f" ({driver})"
    return shape, (label, devtxt, dtype), {
        "sps": float(sps), "ms": o.get("ms_per_batch"), "gflops": o.get("gflops"), "vkbert": peer == "vkbert",
        "variant": f"{dev} {dtype}"}


def fmt(x, nd=1):
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    return f"{x:.{nd}f}" if abs(x) < 1000 else f"{x:.0f}"


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    raw = load(argv)
    shapes, table = [], {}
    for o in raw:
        n = norm(o)
        if n is None:
            continue
        shape, eng, f = n
        if shape not in table:
            shapes.append(shape)
            table[shape] = {}
        table[shape][eng] = f  # a later line for the same engine wins
    variants = []
    for s in shapes:
        for f in table[s].values():
            if f["vkbert"] and f["variant"] not in variants:
                variants.append(f["variant"])
    hdr = ["B×L", "engine", "device", "dtype", "seq/s", "ms/batch", "GFLOP/s"]
    hdr += [f"vkbert {v} ÷ this" for v in variants]
    out = ["| " + " | ".join(hdr) + " |", "|" + " --- |" * len(hdr)]
    for s in shapes:
        vk = {f["variant"]: f["sps"] for f in table[s].values() if f["vkbert"]}
        # vkbert rows first, then peers by speed (fastest first)
        for eng, f in sorted(table[s].items(), key=lambda kv: (not kv[1]["vkbert"], -kv[1]["sps"])):
            ratios = []
            for v in variants:
                if v in vk and not f["vkbert"]:
                    ratios.append(f"{vk[v] / f['sps']:.2f}×")
                else:
                    ratios.append("")
            cells = [s, eng[0], eng[1], eng[2], fmt(f["sps"], 2 if f["sps"] < 100 else 1),
                     fmt(f["ms"], 2 if (f["ms"] or 0) < 100 else 1), fmt(f["gflops"])] + ratios
            out.append("| " + " | ".join(cells) + " |")
    if not shapes:
        print("(no results)")
    else:
        print("\n".join(out))
    gemm = [o for o in raw if o.get("workload") == "gemm"]
    if gemm:
        print("\nPyTorch matmul (x·Wᵀ+b) at the model's linear shapes:\n")
        print("| device | dtype | M | N | K | ms | GFLOP/s |\n| --- | --- | --- | --- | --- | --- | --- |")
        for o in gemm:
            print(f"| {o.get('device_name', o.get('device'))} | {o.get('dtype')} | {o['M']} | {o['N']} | "
                  f"{o['K']} | {o['ms']} | {o['gflops']} |")
    att = [o for o in raw if o.get("workload") == "attention" and not isinstance(o.get("skipped"), str)]
    if att:
        print("\nPyTorch scaled_dot_product_attention alone:\n")
        print("| device | dtype | B | H | L | D | ms | GFLOP/s |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
        for o in att:
            print(f"| {o.get('device_name', o.get('device'))} | {o.get('dtype')} | {o['B']} | {o['H']} | "
                  f"{o['L']} | {o['D']} | {o['ms']} | {o['gflops']} |")
    skipped = [o for o in raw if isinstance(o.get("skipped"), str)]
    if skipped:
        print("\nSkipped:\n")
        for o in skipped:
            print(f"- {o.get('peer')} {o.get('impl', '')} {o.get('device', '')} {o.get('dtype', '')}: {o['skipped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
