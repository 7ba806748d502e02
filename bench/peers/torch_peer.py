#!/usr/bin/env python3
"""PyTorch peer for vkbert's benchmarks: the same checkpoint, the same shapes.

Two implementations of the same HF architecture:
  --impl own  tools/distilbert_torch.py (HF-exact nn.Module), weights read from
              model.safetensors with tools/safetensors_io.py; works with
              Debian's PyTorch 1.13 (/usr/bin/python3) and with any newer one;
  --impl hf   transformers' DistilBertForSequenceClassification.from_pretrained
              (only where transformers is installed, e.g. the GPU machine).

Devices: --device cpu (torch.set_num_threads(--threads), default 2, as on the
shared 2-core machine) or --device cuda; --dtype qint8 (CPU):
torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8);
--dtype fp32|fp16 (fp16 on CUDA only:
PyTorch 1.13's CPU kernels have no fast fp16 GEMM, so that number would say
nothing).  Timing: --warmup untimed batches, then --runs timed batches (on CUDA
bracketed by torch.cuda.synchronize()); the median is reported with min/max.

Shapes: synthetic B x L batches (random ids in [1000, vocab), every token real,
attention_mask all ones: the same inputs `vkbert bench` times) and, with
--imdb FILE, the IMDB workload made by make_imdb_workload.py: reviews in input
order, batches of --imdb-batch (32) padded to the longest review of each batch,
as HF's DataCollatorWithPadding does; timed as whole passes (--imdb-runs), so
its seq_per_s is reviews/s.

Output: one JSON object per (peer, shape) line on stdout (and appended to
--out), e.g. {"peer": "pytorch", "impl": "own", "device": "cpu", "threads": 2,
"dtype": "fp32", "batch": 8, "seq": 128, "seq_per_s": 13.5, "ms_per_batch":
592.1, ...}.  Progress goes to stderr.

--compile times torch.compile of the same module (peer "pytorch-compile";
the compilation happens in the warm-up and is reported as compile_s; each new
shape compiles again, so give it few shapes).  --sdpa BxHxLxD,... times
torch.nn.functional.scaled_dot_product_attention alone (workload
"attention"; PyTorch picks its flash kernel on CUDA fp16).

--skip-missing: when PyTorch, CUDA (--device cuda), transformers (--impl hf)
or torch.compile is missing, print one JSON line {"peer": ..., "skipped":
reason} (also to --out) and exit 0, so a dry run on a machine without them
takes the same path and records why.

--gemm also times plain torch.matmul at the model's linear-layer shapes
(M = B*L, N = dim/hidden, K = dim/hidden): the ceiling vkbert's GEMM is held
to on the GPU.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.normpath(os.path.join(HERE, "..", "..", "tools"))
DEFAULT_SHAPES = "1x128,8x128,32x128,32x256,64x512"

torch = None  # imported in main(), after the arguments (a skip costs no import)


def import_torch():
    """Imports PyTorch into the module; returns None or why it cannot."""
    global torch
    try:
        import torch as t
    except ImportError as e:  # --skip-missing turns this into a note
        return f"PyTorch not importable ({e})"
    torch = t
    return None


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def parse_shapes(s):
    out = []
    for part in filter(None, (p.strip() for p in s.split(","))):
        try:
            b, l = part.lower().split("x")
            out.append((int(b), int(l)))
        except ValueError:
            sys.exit(f"--shapes: '{part}' is not BxL (e.g. 8x128)")
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def read_config(model_dir):
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: {e}")


def load_own(model_dir):
    sys.path.insert(0, TOOLS)
    import distilbert_torch  # tools/: HF-exact module
    import safetensors_io

    cfg = read_config(model_dir)
    keys = ("vocab_size", "max_position_embeddings", "dim", "n_layers", "n_heads", "hidden_dim",
            "pad_token_id", "num_labels", "id2label")
    model = distilbert_torch.DistilBertForSequenceClassification({k: cfg[k] for k in keys if k in cfg})
    act = cfg.get("activation", "gelu")
    if act != "gelu":
        sys.exit(f"{model_dir}/config.json: activation '{act}' (tools/distilbert_torch.py has gelu only)")
    sd, _ = safetensors_io.load(os.path.join(model_dir, "model.safetensors"))
    # A checkpoint saved from DistilBertModel has no 'distilbert.' prefix.
    own = set(model.state_dict())
    if not (set(sd) & own) and any("distilbert." + k in own for k in sd):
        sd = {"distilbert." + k: v for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing:
        sys.exit(f"{model_dir}/model.safetensors: missing tensors {missing[:5]}")
    if unexpected:
        log(f"note: ignoring {len(unexpected)} tensors not in the classifier: {unexpected[:3]}")
    return model, cfg, "own"


def have_transformers():
    try:
        import transformers  # noqa: F401
        return True
    except ImportError:
        return False


def load_hf(model_dir, attn):
    try:
        import transformers
    except ImportError:
        sys.exit("--impl hf needs HF transformers (not installed here; use --impl own)")
    kw = {"attn_implementation": attn} if attn else {}
    model = transformers.DistilBertForSequenceClassification.from_pretrained(model_dir, **kw)
    cfg = read_config(model_dir)
    used = getattr(model.config, "_attn_implementation", None)
    return model, cfg, f"hf-transformers-{transformers.__version__}" + (f" attn={used}" if used else "")


class Runner:
    def __init__(self, model, impl, device, dtype):
        self.model, self.impl, self.device = model, impl, device
        self.cuda = device.type == "cuda"

    def __call__(self, ids, mask):
        if self.impl == "hf":
            return self.model(input_ids=ids, attention_mask=mask).logits
        return self.model(ids, mask)

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()


def time_batches(run, ids, mask, warmup, runs):
    """Median/min/max seconds of one forward over (ids, mask)."""
    with torch.inference_mode():
        for _ in range(warmup):
            run(ids, mask)
        run.sync()
        ts = []
        for _ in range(runs):
            run.sync()
            t0 = time.perf_counter()
            run(ids, mask)
            run.sync()
            ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts), max(ts)


def read_imdb(path, max_len):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ids = json.loads(line)
                if isinstance(ids, dict):
                    ids = ids["ids"]
                if not ids or not all(isinstance(i, int) for i in ids):
                    raise ValueError("not a non-empty array of ints")
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"{path}:{n}: {e}")
            rows.append(ids[:max_len])
    if not rows:
        sys.exit(f"{path}: no reviews")
    return rows


def imdb_batches(rows, bs, device):
    """Input order, padded to the longest of each batch (pad id 0, mask 0)."""
    out = []
    for i in range(0, len(rows), bs):
        chunk = rows[i:i + bs]
        L = max(len(r) for r in chunk)
        ids = torch.zeros(len(chunk), L, dtype=torch.long)
        mask = torch.zeros(len(chunk), L, dtype=torch.long)
        for j, r in enumerate(chunk):
            ids[j, :len(r)] = torch.tensor(r)
            mask[j, :len(r)] = 1
        out.append((ids.to(device), mask.to(device)))
    return out


def time_gemm(device, dtype, shapes, cfg, warmup, runs):
    """TFLOP/s of torch.matmul at the model's linear shapes (x @ W^T + b)."""
    d, h = cfg.get("dim", 768), cfg.get("hidden_dim", 3072)
    res = []
    for b, l in shapes:
        m = b * l
        for name, n, k in (("qkvo", d, d), ("ffn1", h, d), ("ffn2", d, h)):
            x = torch.randn(m, k, device=device, dtype=dtype)
            w = torch.randn(n, k, device=device, dtype=dtype)
            bias = torch.randn(n, device=device, dtype=dtype)
            f = lambda: torch.nn.functional.linear(x, w, bias)  # noqa: E731
            with torch.inference_mode():
                for _ in range(warmup):
                    f()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                ts = []
                for _ in range(runs):
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    f()
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    ts.append(time.perf_counter() - t0)
            med = statistics.median(ts)
            res.append({"kind": "gemm", "layer": name, "M": m, "N": n, "K": k,
                        "ms": round(med * 1e3, 4), "gflops": round(2.0 * m * n * k / med / 1e9, 1)})
    return res


def time_sdpa(device, dtype, specs, warmup, runs):
    """ms and TFLOP/s of F.scaled_dot_product_attention at B x H x L x D (no mask)."""
    res = []
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        return [{"kind": "sdpa", "skipped": f"PyTorch {torch.__version__} has no scaled_dot_product_attention"}]
    for spec in filter(None, (p.strip() for p in specs.split(","))):
        try:
            b, h, l, d = (int(x) for x in spec.lower().split("x"))
        except ValueError:
            sys.exit(f"--sdpa: '{spec}' is not BxHxLxD (e.g. 32x12x128x64)")
        q, k, v = (torch.randn(b, h, l, d, device=device, dtype=dtype) for _ in range(3))
        f = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v)  # noqa: E731
        with torch.inference_mode():
            for _ in range(warmup):
                f()
            if device.type == "cuda":
                torch.cuda.synchronize()
            ts = []
            for _ in range(runs):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                f()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                ts.append(time.perf_counter() - t0)
        med = statistics.median(ts)
        res.append({"kind": "sdpa", "B": b, "H": h, "L": l, "D": d, "ms": round(med * 1e3, 4),
                    "gflops": round(4.0 * b * h * l * l * d / med / 1e9, 1)})
    return res


def model_flops(cfg, b, l):
    """FLOPs of the linear layers and attention of one B x L batch (2 per MAC)."""
    d, h, n = cfg.get("dim", 768), cfg.get("hidden_dim", 3072), cfg.get("n_layers", 6)
    t = b * l
    per_layer = 2 * t * (4 * d * d + 2 * d * h) + 2 * 2 * b * l * l * d
    return n * per_layer + 2 * b * (d * d + d * cfg.get("num_labels", 2))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="checkpoint directory (config.json + model.safetensors)")
    ap.add_argument("--impl", choices=("own", "hf"), default="own")
    ap.add_argument("--attn", default=None, help="HF attn_implementation (eager|sdpa); default: HF's choice")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--dtype", choices=("fp32", "fp16", "qint8"), default="fp32",
                    help="qint8: CPU, torch.quantization.quantize_dynamic of every nn.Linear "
                         "(s8 weights, u8 activations quantized per batch)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads on CPU (default 2)")
    ap.add_argument("--shapes", default=DEFAULT_SHAPES, help=f"BxL list (default {DEFAULT_SHAPES}); '' for none")
    ap.add_argument("--imdb", default=None, help="IMDB workload ids JSONL (make_imdb_workload.py)")
    ap.add_argument("--imdb-batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=None, help="untimed batches (default: 1 cpu, 5 cuda)")
    ap.add_argument("--runs", type=int, default=None, help="timed batches per shape (default: 3 cpu, 20 cuda)")
    ap.add_argument("--imdb-runs", type=int, default=None, help="timed passes over the workload (default: 1 cpu, 3 cuda)")
    ap.add_argument("--gemm", action="store_true", help="also time torch matmul at the linear-layer shapes")
    ap.add_argument("--compile", action="store_true", help="time torch.compile of the module (peer pytorch-compile)")
    ap.add_argument("--compile-mode", default="default", help="torch.compile mode (default: default)")
    ap.add_argument("--sdpa", default="", help="also time SDPA alone at BxHxLxD,... (e.g. 32x12x128x64)")
    ap.add_argument("--skip-missing", action="store_true",
                    help="a missing PyTorch/CUDA/transformers/torch.compile gives a 'skipped' JSON line and exit 0")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    ap.add_argument("--dump-logits", default=None,
                    help="after timing, write the IMDB workload's logits here (one JSON line per review)")
    a = ap.parse_args(argv)

    peer = "pytorch-compile" if a.compile else "pytorch-hf" if a.impl == "hf" else "pytorch"
    missing = None
    if a.device.startswith("cuda") and not any(os.path.exists(d) for d in ("/dev/nvidiactl", "/dev/nvidia0")):
        missing = "--device cuda: no NVIDIA device (/dev/nvidiactl, /dev/nvidia0)"  # no 2-5 s PyTorch import
    if not missing:
        missing = import_torch()
    if not missing and a.device.startswith("cuda") and not torch.cuda.is_available():
        missing = "--device cuda: torch.cuda.is_available() is false"
    if not missing and a.impl == "hf" and not have_transformers():
        missing = "--impl hf: HF transformers not installed"
    if not missing and a.compile and not hasattr(torch, "compile"):
        missing = f"--compile: PyTorch {torch.__version__} has no torch.compile"
    if missing:
        if not a.skip_missing:
            sys.exit(missing)
        note = json.dumps({"peer": peer, "impl": a.impl, "device": a.device, "dtype": a.dtype,
                           "skipped": missing})
        print(note, flush=True)
        if a.out:
            with open(a.out, "a", encoding="utf-8") as f:
                f.write(note + "\n")
        log(f"skipped: {missing}")
        return 0
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if a.dtype == "fp16" and not cuda:
        sys.exit("--dtype fp16 is for --device cuda (PyTorch CPU fp16 is not a meaningful peer)")
    if a.dtype == "qint8" and cuda:
        sys.exit("--dtype qint8 (dynamic quantization) is for --device cpu")
    warmup = a.warmup if a.warmup is not None else (5 if cuda else 1)
    runs = a.runs if a.runs is not None else (20 if cuda else 3)
    imdb_runs = a.imdb_runs if a.imdb_runs is not None else (3 if cuda else 1)
    if runs < 1 or imdb_runs < 1 or warmup < 0:
        sys.exit("--runs/--imdb-runs must be >= 1 and --warmup >= 0")
    if not cuda:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dt = torch.float16 if a.dtype == "fp16" else torch.float32

    t0 = time.perf_counter()
    model, cfg, impl_name = load_hf(a.model, a.attn) if a.impl == "hf" else load_own(a.model)
    model = model.to(device=device, dtype=dt).eval()
    if a.dtype == "qint8":
        # what PyTorch users do for int8 CPU inference: dynamic quantization
        # of the linear layers (fbgemm on x86)
        model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        impl_name += " quantize_dynamic"
    if a.compile:
        model = torch.compile(model, mode=a.compile_mode)
        impl_name += f" torch.compile mode={a.compile_mode}"
    load_s = time.perf_counter() - t0
    run = Runner(model, a.impl, device, dt)
    if cuda:
        dev_name = torch.cuda.get_device_name(device)
        drv = f"cuda {torch.version.cuda}"
    else:
        dev_name = f"cpu {cpu_model()}"
        drv = f"{torch.get_num_threads()} threads"
    base = {"peer": peer, "impl": impl_name,
            "device": "cuda" if cuda else "cpu", "device_name": dev_name, "driver": drv,
            "dtype": a.dtype, "torch": torch.__version__}
    if not cuda:
        base["threads"] = torch.get_num_threads()
    log(f"# {base['peer']} ({impl_name}) on {dev_name}, {a.dtype}, load {load_s:.2f}s, "
        f"warmup {warmup}, runs {runs}")
    out_f = open(a.out, "a", encoding="utf-8") if a.out else None

    def emit(obj):
        line = json.dumps(obj)
        print(line, flush=True)
        if out_f:
            out_f.write(line + "\n")
            out_f.flush()

    vocab = cfg.get("vocab_size", 30522)
    lo = min(1000, vocab - 1)
    g = torch.Generator().manual_seed(a.seed)
    shapes = parse_shapes(a.shapes)
    for b, l in shapes:
        if l > cfg.get("max_position_embeddings", 512):
            log(f"skip {b}x{l}: longer than max_position_embeddings")
            continue
        ids = torch.randint(lo, vocab, (b, l), generator=g).to(device)
        mask = torch.ones(b, l, dtype=torch.long, device=device)
        tc = time.perf_counter()
        if a.compile:  # the compilation for this shape, outside the timed runs
            with torch.inference_mode():
                run(ids, mask)
            run.sync()
        compile_s = time.perf_counter() - tc
        med, mn, mx = time_batches(run, ids, mask, warmup, runs)
        r = dict(base, workload="synthetic", batch=b, seq=l, seq_per_s=round(b / med, 3),
                 ms_per_batch=round(med * 1e3, 3), ms_min=round(mn * 1e3, 3), ms_max=round(mx * 1e3, 3),
                 runs=runs, warmup=warmup, gflops=round(model_flops(cfg, b, l) / med / 1e9, 1))
        if cuda:
            r["peak_mem_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        if a.compile:
            r["compile_s"] = round(compile_s, 2)
        emit(r)

    if a.imdb:
        rows = read_imdb(a.imdb, a.max_len)
        batches = imdb_batches(rows, a.imdb_batch, device)
        real = sum(len(r) for r in rows)
        padded = sum(ids.numel() for ids, _ in batches)
        flops = sum(model_flops(cfg, ids.shape[0], ids.shape[1]) for ids, _ in batches)
        with torch.inference_mode():
            for ids, mask in batches[:warmup]:
                run(ids, mask)
            run.sync()
            ts = []
            for _ in range(imdb_runs):
                run.sync()
                t0 = time.perf_counter()
                for ids, mask in batches:
                    run(ids, mask)
                run.sync()
                ts.append(time.perf_counter() - t0)
        med = statistics.median(ts)
        emit(dict(base, workload="imdb", batch=a.imdb_batch, seq="imdb", reviews=len(rows),
                  mean_tokens=round(real / len(rows), 1), padded_over_real=round(padded / real, 3),
                  seq_per_s=round(len(rows) / med, 3), ms_per_batch=round(med * 1e3 / len(batches), 3),
                  total_s=round(med, 3), runs=imdb_runs, warmup=min(warmup, len(batches)),
                  gflops=round(flops / med / 1e9, 1)))

        if a.dump_logits:
            # An untimed extra pass, so the label-agreement check never perturbs timing.
            with torch.inference_mode(), open(a.dump_logits, "w", encoding="utf-8") as f:
                for ids, mask in batches:
                    for row in run(ids, mask).float().cpu().tolist():
                        f.write(json.dumps({"logits": row, "label": max(range(len(row)), key=row.__getitem__)}) + "\n")

    if a.gemm:
        for r in time_gemm(device, dt, shapes, cfg, warmup, runs):
            emit(dict(base, workload="gemm", **r))
    if a.sdpa:
        for r in time_sdpa(device, dt, a.sdpa, warmup, runs):
            emit(dict(base, workload="attention", **r))
    if out_f:
        out_f.close()


if __name__ == "__main__":
    main()
