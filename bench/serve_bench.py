#!/usr/bin/env python3
"""serve_bench.py - `vkbert serve` under load: requests/s and p50/p99 latency
at 1, 8 and 64 concurrent clients (one text per request, keep-alive
connections, a Python standard-library load generator), compared with
`vkbert score`'s reviews/s on the same texts and device.

usage: python3 bench/serve_bench.py [--bin build/vkbert] [--model DIR]
           [--device cpu] [--texts 300] [--clients 1,8,64] [--max-len N]

Texts: the first --texts reviews of ../shared/data/imdb/train.jsonl.gz.
`vkbert score`'s figure is its own summary line (items/s over the scoring,
model loading excluded).  The load generator runs on the same machine as the
server and takes CPU from it: on a small machine the figures are a floor.
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
ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "imdb", "train.jsonl.gz"))
a = ap.parse_args()

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

# vkbert score on the same texts (run again before each level: on a shared
# machine the load of other processes changes from minute to minute)
def score():
    p = subprocess.run([a.bin, "score"] + common + [src], capture_output=True, text=True)
    m = re.search(r"([0-9.]+) items/s on (.*?);", p.stderr)
    if p.returncode or not m:
        sys.exit("vkbert score failed: " + p.stderr)
    return float(m.group(1)), m.group(2)


score_rate, device = score()
print("vkbert score: %d texts, %.1f reviews/s on %s" % (len(texts), score_rate, device), flush=True)

log = os.path.join(tmp, "serve.log")
srv = subprocess.Popen([a.bin, "serve", "--port", "0", "--quiet", "--max-concurrent-requests", "1024"] + common,
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


def run(n_clients):
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
    lat.sort()
    return len(texts) / dt, lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], errors


try:
    run(4)  # warm-up
    print("| clients | requests/s | p50 latency | p99 latency | score reviews/s just before | serve/score |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in [int(x) for x in a.clients.split(",")]:
        score_rate, _ = score()
        rate, p50, p99, errors = run(n)
        if errors:
            print("errors:", errors[:5])
        print("| %d | %.1f | %.0f ms | %.0f ms | %.1f | %.0f%% |" % (n, rate, p50 * 1e3, p99 * 1e3, score_rate,
                                                                100 * rate / score_rate), flush=True)
finally:
    srv.send_signal(signal.SIGTERM)
    srv.wait(120)
