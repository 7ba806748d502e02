#!/usr/bin/env python3
"""serve_bench.py - `vkbert serve` under load: requests/s and p50/p99 latency
at 1, 8 and 64 concurrent clients (one text per request, keep-alive
connections, a Python standard-library load generator), compared with
`vkbert score`'s reviews/s on the same texts and device.

usage: python3 bench/serve_bench.py [--bin build/vkbert] [--model DIR]
           [--device cpu] [--texts 300] [--clients 1,8,64] [--max-len N]
           [--rounds R] [--client c|python]

Texts: the first --texts reviews of ../shared/data/imdb/train.jsonl.gz.
`vkbert score`'s figure is its own summary line (items/s over the scoring,
model loading excluded).  Score and serve run alternately, one pair per
level and round (this machine is shared: its speed changes from minute to
minute), and each pair's ratio is reported, then the median and range of the
ratios per level.

The load generator runs on the same machine as the server and takes CPU from
it.  --client c (the default when build/bench/serve_load exists) uses that C
client (a thread and a keep-alive connection per client, blocking sockets);
--client python the standard-library one (http.client threads), which costs
far more CPU.  The client's CPU time is reported as a share of the run's wall
time, beside the server's.
"""
import argparse
import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.join(root, "build", "vkbert"))
ap.add_argument("--model", default=None)
ap.add_argument("--device", default="cpu")
ap.add_argument("--texts", type=int, default=300)
ap.add_argument("--clients", default="1,8,64")
ap.add_argument("--max-len", type=int, default=0)
ap.add_argument("--rounds", type=int, default=1)
ap.add_argument("--serve-arg", action="append", default=[],
                help="an extra argument for vkbert serve (repeatable), e.g. --serve-arg=--batch-cost-tokens=0")
ap.add_argument("--client", choices=["c", "python"], default=None)
ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "imdb", "train.jsonl.gz"))
a = ap.parse_args()
loader = os.path.join(os.path.dirname(os.path.abspath(a.bin)), "bench", "serve_load")
if a.client is None:
    a.client = "c" if os.access(loader, os.X_OK) else "python"

texts = []
with gzip.open(a.data, "rt") as f:
    for line in f:
        texts.append(json.loads(line)["text"])
        if len(texts) == a.texts:
            break
common = ["--device", a.device] + (["--model", a.model] if a.model else []) + \
         (["--max-len", str(a.max_len)] if a.max_len else [])
tmp = tempfile.mkdtemp(prefix="vkb_serve_bench_")
src = os.path.join(tmp, "texts.jsonl")
with open(src, "w") as f:
    for t in texts:
        f.write(json.dumps({"text": t}) + "\n")
bodies = os.path.join(tmp, "bodies.jsonl")
with open(bodies, "w") as f:
    for t in texts:
        f.write(json.dumps({"inputs": t, "truncate": True}) + "\n")

# vkbert score on the same texts (run again before each level: on a shared
# machine the load of other processes changes from minute to minute)
def score():
    import resource
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([a.bin, "score", "-o", os.devnull] + common + [src], capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"([0-9.]+) items/s on (.*?);", p.stderr)
    if p.returncode or not m:
        sys.exit("vkbert score failed: " + p.stderr)
    pad = re.search(r"padding overhead ([0-9.]+)", p.stderr)
    # CPU per review, model loading included (a few % of the run)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / len(texts)
    return float(m.group(1)), m.group(2), float(pad.group(1)) if pad else float("nan"), cpu


score_rate, device, _, _ = score()
print("vkbert score: %d texts, %.1f reviews/s on %s" % (len(texts), score_rate, device), flush=True)

log = os.path.join(tmp, "serve.log")
srv = subprocess.Popen([a.bin, "serve", "--port", "0", "--quiet", "--max-concurrent-requests", "1024"] + common +
                       a.serve_arg,
                       stderr=open(log, "w"))
port = None
for _ in range(1200):
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(log).read())
    if m:
        port = int(m.group(1))
        break
    time.sleep(0.05)
if not port:
    srv.kill()
    sys.exit("server did not start: " + open(log).read())


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def metrics():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    v = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, x = line.rpartition(" ")
            v[k] = float(x)
    return v


def run(n_clients):
    """(requests/s, p50, p99, errors, client CPU share, server CPU share,
    padding overhead, share of the wall time in forwards, server CPU s per request)"""
    m0 = metrics()
    s0 = cpu_of(srv.pid)
    r = run_c(n_clients) if a.client == "c" else run_py(n_clients)
    s1 = cpu_of(srv.pid)
    m1 = metrics()
    d = {k: m1[k] - m0.get(k, 0) for k in m1}
    pad = d["vkbert_padded_tokens_total"] / max(1, d["vkbert_tokens_total"])
    busy = d["vkbert_forward_seconds_total"] * r[0] / len(texts)
    return r + (pad, busy, (s1 - s0) / len(texts))


def run_c(n_clients):
    s0 = cpu_of(srv.pid)
    p = subprocess.run([loader, str(port), str(n_clients), bodies], capture_output=True, text=True)
    s1 = cpu_of(srv.pid)
    m = dict(kv.split("=") for kv in p.stdout.split())
    errors = [] if p.returncode == 0 else ["%s errors" % m.get("errors", "?")]
    dt = float(m["seconds"])
    return (float(m["rps"]), float(m["p50_ms"]) / 1e3, float(m["p99_ms"]) / 1e3, errors,
            float(m["cpu_s"]) / dt, (s1 - s0) / dt)


def run_py(n_clients):
    import resource
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    s0 = cpu_of(srv.pid)
    lat = []
    lock = threading.Lock()
    errors = []

    def client(cid):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        mine = []
        for i in range(cid, len(texts), n_clients):
            body = json.dumps({"inputs": texts[i], "truncate": True})
            t0 = time.perf_counter()
            c.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            mine.append(time.perf_counter() - t0)
            if r.status != 200:
                errors.append(r.status)
        c.close()
        with lock:
            lat.extend(mine)

    th = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    t0 = time.perf_counter()
    for t in th:
        t.start()
    for t in th:
        t.join()
    dt = time.perf_counter() - t0
    s1 = cpu_of(srv.pid)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    ccpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    lat.sort()
    return (len(texts) / dt, lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], errors,
            ccpu / dt, (s1 - s0) / dt)


try:
    run(4)  # warm-up
    levels = [int(x) for x in a.clients.split(",")]
    print("client: %s" % ("bench/serve_load (C)" if a.client == "c" else "Python http.client threads"))
    print("(client/server CPU: CPU time over the run's wall time, 200% = both cores; padding: padded/real "
          "tokens; busy: share of the wall time in forwards; CPU/review: server CPU s per request vs score's "
          "CPU s per review, model loading included)")
    print("| round | clients | requests/s | p50 latency | p99 latency | score reviews/s just before | "
          "serve/score | client CPU | server CPU | padding serve (score) | busy | CPU/review serve (score) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratios = {n: [] for n in levels}
    cpur = {n: [] for n in levels}
    for rnd in range(1, a.rounds + 1):
        for n in levels:
            score_rate, _, spad, scpu_r = score()
            rate, p50, p99, errors, ccpu, scpu, pad, busy, cpu_r = run(n)
            if errors:
                print("errors:", errors[:5])
            ratios[n].append(rate / score_rate)
            cpur[n].append(cpu_r / scpu_r)
            print("| %d | %d | %.1f | %.0f ms | %.0f ms | %.1f | %.0f%% | %.1f%% | %.0f%% | %.3f (%.3f) | %.0f%% | "
                  "%.3f (%.3f) |" % (rnd, n, rate, p50 * 1e3, p99 * 1e3, score_rate, 100 * rate / score_rate,
                                     100 * ccpu, 100 * scpu, pad, spad, 100 * busy, cpu_r, scpu_r), flush=True)
    print("per level over %d rounds: serve/score reviews/s median (min-max); server CPU per request / score's "
          "CPU per review, median (min-max):" % a.rounds)
    for n in levels:
        r = sorted(ratios[n])
        c = sorted(cpur[n])
        print("  %d clients: %.0f%% (%.0f-%.0f%%); CPU %.2f (%.2f-%.2f)" % (
            n, 100 * r[len(r) // 2], 100 * r[0], 100 * r[-1], c[len(c) // 2], c[0], c[-1]))
finally:
    srv.send_signal(signal.SIGTERM)
    srv.wait(120)
