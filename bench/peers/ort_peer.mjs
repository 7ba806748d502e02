#!/usr/bin/env node
// ONNX Runtime CPU peer for vkbert's benchmarks (npm onnxruntime-node).
//
// Runs the ONNX export of the benchmark checkpoint (onnx_export.py) with
// graphOptimizationLevel 'all' and intraOpNumThreads 2 (the shared machine has
// 2 cores), on the same shapes as torch_peer.py and `vkbert bench`: synthetic
// B x L batches (random ids in [1000, vocab), attention_mask all ones) and the
// IMDB workload (ids JSONL from make_imdb_workload.py, input order, batches of
// 32 padded to the longest of each batch).  Median of --runs timed batches
// after --warmup untimed ones; the workload is timed as whole passes.
//
// --verify compares ONNX Runtime's logits on MODEL.check.json (written by
// onnx_export.py: padded inputs and PyTorch's logits) and exits non-zero if
// they differ by more than 1e-3, so a wrong export is never timed.
//
// Output: one JSON object per shape line on stdout, like torch_peer.py.
// Usage: node bench/peers/ort_peer.mjs --model model.onnx [--shapes 1x128,8x128]
//        [--imdb ids.jsonl] [--threads 2] [--warmup 1] [--runs 3] [--imdb-runs 1]
//        [--vocab 30522] [--verify] [--out FILE]
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';

const DEFAULT_SHAPES = '1x128,8x128,32x128,32x256,64x512';

function die(msg) {
  process.stderr.write(`ort_peer: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { shapes: DEFAULT_SHAPES, threads: 2, warmup: 1, runs: 3, imdbRuns: 1, imdbBatch: 32,
              maxLen: 512, vocab: 30522, seed: 0, verify: false, verifyOnly: false };
  const num = (k, v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) die(`${k}: '${v}' is not an integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => (i + 1 < argv.length ? argv[++i] : die(`${k} needs a value`));
    switch (k) {
      case '--model': a.model = v(); break;
      case '--shapes': a.shapes = v(); break;
      case '--imdb': a.imdb = v(); break;
      case '--threads': a.threads = num(k, v()); break;
      case '--warmup': a.warmup = num(k, v()); break;
      case '--runs': a.runs = num(k, v()); break;
      case '--imdb-runs': a.imdbRuns = num(k, v()); break;
      case '--imdb-batch': a.imdbBatch = num(k, v()); break;
      case '--max-len': a.maxLen = num(k, v()); break;
      case '--vocab': a.vocab = num(k, v()); break;
      case '--seed': a.seed = num(k, v()); break;
      case '--out': a.out = v(); break;
      case '--verify': a.verify = true; break;
      case '--verify-only': a.verify = true; a.verifyOnly = true; break;
      case '-h': case '--help':
        process.stdout.write(fs.readFileSync(new URL(import.meta.url)).toString()
          .split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
        process.exit(0);
      default: die(`unknown argument '${k}'`);
    }
  }
  if (!a.model) die('--model FILE.onnx is required');
  if (a.runs < 1 || a.imdbRuns < 1 || a.warmup < 0 || a.threads < 1) die('bad --runs/--warmup/--threads');
  return a;
}

function parseShapes(s) {
  return s.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const m = /^(\d+)x(\d+)$/i.exec(p);
    if (!m) die(`--shapes: '${p}' is not BxL`);
    return [Number(m[1]), Number(m[2])];
  });
}

// Small deterministic PRNG (mulberry32): the same ids every run.
function rng(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function feeds(rows, L) {
  const B = rows.length;
  const ids = new BigInt64Array(B * L);
  const mask = new BigInt64Array(B * L);
  rows.forEach((r, b) => {
    for (let j = 0; j < r.length; j++) {
      ids[b * L + j] = BigInt(r[j]);
      mask[b * L + j] = 1n;
    }
  });
  return { input_ids: new ort.Tensor('int64', ids, [B, L]),
           attention_mask: new ort.Tensor('int64', mask, [B, L]) };
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function modelFlops(cfg, b, l) {
  // linear layers + attention, 2 FLOPs per MAC (same count as torch_peer.py)
  const { dim: d, hidden: h, layers: n, labels } = cfg;
  const t = b * l;
  return n * (2 * t * (4 * d * d + 2 * d * h) + 4 * b * l * l * d) + 2 * b * (d * d + d * labels);
}

function readImdb(path, maxLen) {
  const rows = [];
  fs.readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let ids;
    try {
      ids = JSON.parse(line);
      if (!Array.isArray(ids)) ids = ids.ids;
    } catch (e) {
      die(`${path}:${i + 1}: ${e.message}`);
    }
    if (!Array.isArray(ids) || !ids.length || !ids.every(Number.isInteger)) {
      die(`${path}:${i + 1}: not a non-empty array of ints`);
    }
    rows.push(ids.slice(0, maxLen));
  });
  if (!rows.length) die(`${path}: no reviews`);
  return rows;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const opts = { graphOptimizationLevel: 'all', intraOpNumThreads: a.threads, interOpNumThreads: 1,
                 executionMode: 'sequential', executionProviders: ['cpu'] };
  const t0 = performance.now();
  let sess;
  try {
    sess = await ort.InferenceSession.create(a.model, opts);
  } catch (e) {
    die(`${a.model}: ${e.message}`);
  }
  const loadMs = performance.now() - t0;
  // Model shape for the GFLOP/s column and the vocab range of the synthetic
  // ids: from MODEL.config.json (written by onnx_export.py), else distilbert-base.
  let cfg = { dim: 768, hidden: 3072, layers: 6, labels: 2 };
  const cfgPath = a.model + '.config.json';
  if (fs.existsSync(cfgPath)) {
    const c = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg = { dim: c.dim, hidden: c.hidden_dim, layers: c.n_layers,
            labels: c.id2label ? Object.keys(c.id2label).length : 2 };
    if (c.vocab_size) a.vocab = c.vocab_size;
  }
  process.stderr.write(`# onnxruntime-node ${ort.env.versions?.node ?? '?'} cpu, ${a.threads} threads, `
    + `load ${loadMs.toFixed(0)} ms, inputs ${sess.inputNames}, outputs ${sess.outputNames}\n`);

  if (a.verify) {
    const chkPath = a.model + '.check.json';
    let chk;
    try {
      chk = JSON.parse(fs.readFileSync(chkPath, 'utf8'));
    } catch (e) {
      die(`--verify: ${chkPath}: ${e.message}`);
    }
    const rows = chk.input_ids.map((r, i) => r.filter((_, j) => chk.attention_mask[i][j] === 1));
    const L = chk.input_ids[0].length;
    const f = feeds(rows, L);
    // feeds() pads with id 0 where mask is 0, as the check inputs do.
    const out = (await sess.run(f)).logits;
    let maxDiff = 0;
    const want = chk.logits.flat();
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - want[i]));
    // Also a batch of one unpadded row must give its padded row's logits.
    const one = (await sess.run(feeds([rows[0]], rows[0].length))).logits;
    for (let i = 0; i < one.data.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(one.data[i] - want[i]));
    }
    const ok = maxDiff <= 1e-3 && out.dims.join('x') === `${chk.logits.length}x${chk.logits[0].length}`;
    process.stderr.write(`# verify: ORT vs PyTorch logits max |diff| ${maxDiff.toExponential(2)} `
      + `on ${rows.length} padded + 1 unpadded inputs: ${ok ? 'ok' : 'MISMATCH'}\n`);
    if (!ok) process.exit(1);
    if (a.verifyOnly) return;
  }

  const outF = a.out ? fs.openSync(a.out, 'a') : null;
  const base = { peer: 'onnxruntime', impl: `onnxruntime-node-${ort.env.versions?.node ?? '?'}`,
                 device: 'cpu', device_name: `cpu ${os.cpus()[0]?.model ?? ''}`.trim(),
                 driver: `${a.threads} threads`, dtype: 'fp32', threads: a.threads };
  const emit = (o) => {
    const line = JSON.stringify(o);
    process.stdout.write(line + '\n');
    if (outF !== null) fs.writeSync(outF, line + '\n');
  };
  const rand = rng(a.seed + 1);
  const lo = Math.min(1000, a.vocab - 1);
  for (const [B, L] of parseShapes(a.shapes)) {
    const rows = Array.from({ length: B }, () => Array.from({ length: L },
      () => lo + Math.floor(rand() * (a.vocab - lo))));
    const f = feeds(rows, L);
    for (let i = 0; i < a.warmup; i++) await sess.run(f);
    const ts = [];
    for (let i = 0; i < a.runs; i++) {
      const s = performance.now();
      await sess.run(f);
      ts.push(performance.now() - s);
    }
    const med = median(ts);
    emit({ ...base, workload: 'synthetic', batch: B, seq: L, seq_per_s: +(B / med * 1e3).toFixed(3),
           ms_per_batch: +med.toFixed(3), ms_min: +Math.min(...ts).toFixed(3),
           ms_max: +Math.max(...ts).toFixed(3), runs: a.runs, warmup: a.warmup,
           gflops: +(modelFlops(cfg, B, L) / med / 1e6).toFixed(1) });
  }

  if (a.imdb) {
    const rows = readImdb(a.imdb, a.maxLen);
    const batches = [];
    let real = 0; let padded = 0; let flops = 0;
    for (let i = 0; i < rows.length; i += a.imdbBatch) {
      const chunk = rows.slice(i, i + a.imdbBatch);
      const L = Math.max(...chunk.map((r) => r.length));
      batches.push(feeds(chunk, L));
      real += chunk.reduce((s, r) => s + r.length, 0);
      padded += chunk.length * L;
      flops += modelFlops(cfg, chunk.length, L);
    }
    for (const f of batches.slice(0, a.warmup)) await sess.run(f);
    const ts = [];
    for (let r = 0; r < a.imdbRuns; r++) {
      const s = performance.now();
      for (const f of batches) await sess.run(f);
      ts.push(performance.now() - s);
    }
    const med = median(ts);
    emit({ ...base, workload: 'imdb', batch: a.imdbBatch, seq: 'imdb', reviews: rows.length,
           mean_tokens: +(real / rows.length).toFixed(1), padded_over_real: +(padded / real).toFixed(3),
           seq_per_s: +(rows.length / med * 1e3).toFixed(3), ms_per_batch: +(med / batches.length).toFixed(3),
           total_s: +(med / 1e3).toFixed(3), runs: a.imdbRuns, warmup: Math.min(a.warmup, batches.length),
           gflops: +(flops / med / 1e6).toFixed(1) });
  }
  if (outF !== null) fs.closeSync(outF);
}

main().catch((e) => die(e.stack || String(e)));
