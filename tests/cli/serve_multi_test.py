#!/usr/bin/env python3
"""serve_multi_test.py - `vkbert serve --device LIST` (one /predict worker per
device, all taking windows from one queue) against real servers on loopback,
with a client in Python's standard library only.

usage: serve_multi_test.py VKBERT MODEL DEVICES [CLIENTS REQUESTS]

  1. load: CLIENTS threads x REQUESTS requests of mixed lengths; every request
     answered once, none lost or duplicated; each answer the same as `vkbert
     score` gives on one of the devices (labels exactly, scores to 1e-5: the
     client does not choose the device, and the CPU and lavapipe may differ
     in the last bits); /metrics shows every device ran batches and the
     per-device counts add up; /info lists the devices.
  2. faults: VKB_FAULT_AFTER_BATCHES=0 with VKB_FAULT_DEVICE=1 (every batch
     of device 1 fails): its requests get 503 with the reason until it is
     lost for good, then /health answers 200 "degraded" naming it, /metrics
     vkbert_device_up 0 for it and 1 for device 0, and every request is
     answered 200 by device 0.  Every device failing: /health 503.
"""
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_client  # noqa: E402
from serve_client import call, once  # noqa: E402

B, M, DEVS = sys.argv[1], sys.argv[2], sys.argv[3]
CLIENTS = int(sys.argv[4]) if len(sys.argv) > 4 else 16
REQS = int(sys.argv[5]) if len(sys.argv) > 5 else 60
TMP = tempfile.mkdtemp(prefix="vkb_serve_multi_")
FAILS = []


def fail(msg):
    print("FAIL:", msg, flush=True)
    FAILS.append(msg)


def ok(msg):
    print("ok:", msg, flush=True)


def Server(*args, env=None):
    return serve_client.Server(B, M, DEVS, TMP, *args, env=env)


WORDS = ("the movie was great terrible boring wonderful plot acting scenes music a an and "
         "not very really quite awful brilliant film story characters ending loved hated it").split()
rng = random.Random(11)
TEXTS = ["%d %s" % (i, " ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 3, 8, 20, 45, 90, 150]))))
         for i in range(300)]
src = os.path.join(TMP, "texts.jsonl")
with open(src, "w") as f:
    for t in TEXTS:
        f.write(json.dumps({"text": t}) + "\n")
EXPECT = {}  # device -> list of score's answers
for dev in dict.fromkeys(DEVS.split(",")):
    out = subprocess.run([B, "score", "--model", M, "--device", dev, "--quiet", "--all-scores", src],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr)
        sys.exit(1)
    EXPECT[dev] = [json.loads(l) for l in out.stdout.splitlines()]


def check(pred, i):
    """None when pred is what `vkbert score` gives for TEXTS[i] on one of the devices."""
    why = []
    for dev, exp in EXPECT.items():
        e = exp[i]
        if not isinstance(pred, list) or len(pred) != len(e["scores"]):
            return "text %d: not a prediction list: %r" % (i, pred)
        if pred[0]["label"] != e["label"]:
            why.append("%s: label %s, score says %s" % (dev, pred[0]["label"], e["label"]))
            continue
        bad = [p for p in pred if abs(p["score"] - e["scores"][p["label"]]) > 1e-5]
        if not bad:
            return None
        why.append("%s: %r vs %r" % (dev, bad[0], e["scores"]))
    return "text %d: %s" % (i, "; ".join(why))


def metric(met, name, index):
    m = re.search(r'^%s\{index="%d",device="[^"]*"\} ([0-9.e+]+)$' % (name, index), met, re.M)
    return float(m.group(1)) if m else None


def load_test():
    srv = Server("--quiet")
    results, errors, lock = {}, [], threading.Lock()

    def client(cid):
        r = random.Random(cid)
        c = srv.conn()
        for k in range(REQS):
            idx = [r.randrange(len(TEXTS)) for _ in range(1 if r.random() < 0.7 else r.randint(2, 5))]
            try:
                st, ans = call(c, "POST", "/predict", {"inputs": [TEXTS[i] for i in idx], "truncate": True})
            except Exception as ex:  # noqa: BLE001
                errors.append("client %d request %d: %r" % (cid, k, ex))
                return
            with lock:
                if (cid, k) in results:
                    errors.append("duplicate answer %d/%d" % (cid, k))
                results[(cid, k)] = (st, ans, idx)
        c.close()

    t0 = time.time()
    th = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    dt = time.time() - t0
    for e in errors[:5]:
        fail(e)
    if len(results) != CLIENTS * REQS:
        fail("load: %d answers for %d requests" % (len(results), CLIENTS * REQS))
    bad = 0
    for (cid, k), (st, ans, idx) in sorted(results.items()):
        msg = "status %d %r" % (st, ans) if st != 200 else \
            "%d answers for %d inputs" % (len(ans), len(idx)) if len(ans) != len(idx) else \
            next((m for m in (check(p, i) for p, i in zip(ans, idx)) if m), None)
        if msg:
            bad += 1
            if bad < 5:
                fail("load: request %d/%d: %s" % (cid, k, msg))
    if bad == 0 and not errors:
        ok("load on %s: %d clients x %d requests in %.1f s, all answered once as vkbert score on a device"
           % (DEVS, CLIENTS, REQS, dt))
    st, met = once(srv, "GET", "/metrics")
    n = len(DEVS.split(","))
    batches = [metric(met, "vkbert_device_batches_total", i) for i in range(n)]
    tokens = [metric(met, "vkbert_device_tokens_total", i) for i in range(n)]
    tot = re.search(r"^vkbert_forward_batches_total (\d+)$", met, re.M)
    tot_tok = re.search(r"^vkbert_tokens_total (\d+)$", met, re.M)
    if st != 200 or None in batches or not all(b > 0 for b in batches) or not tot or \
            sum(batches) != int(tot.group(1)) or sum(tokens) != int(tot_tok.group(1)) or \
            [metric(met, "vkbert_device_up", i) for i in range(n)] != [1] * n:
        fail("metrics: per-device batches %r tokens %r, total %s" % (batches, tokens, tot and tot.group(1)))
    else:
        ok("metrics: batches per device %r (total %s), tokens per device %r"
           % ([int(b) for b in batches], tot.group(1), [int(t) for t in tokens]))
    m = re.search(r"^vkbert_requests_success_total (\d+)$", met, re.M)
    if not m or int(m.group(1)) != CLIENTS * REQS:
        fail("metrics: success count %s, expected %d" % (m and m.group(1), CLIENTS * REQS))
    st, inf = once(srv, "GET", "/info")
    devs = inf.get("devices") if isinstance(inf, dict) else None
    if st != 200 or not isinstance(devs, list) or len(devs) != n or \
            not all(d.get("healthy") is True and d.get("max_batch_tokens", 0) > 0 for d in devs):
        fail("info: %d %r" % (st, inf))
    else:
        ok("info: device %r, devices %r" % (inf["device"], [d["device"] for d in devs]))
    rc = srv.stop()
    if rc != 0:
        fail("load server exit status %r" % rc)


def burst(srv, k):
    out = [None] * k

    def one(j):
        i = (j * 7) % len(TEXTS)
        st, ans = once(srv, "POST", "/predict", {"inputs": TEXTS[i], "truncate": True})
        out[j] = (st, ans, i)

    th = [threading.Thread(target=one, args=(j,)) for j in range(k)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    return out


def fault_test():
    srv = Server("--quiet", env={"VKB_FAULT_AFTER_BATCHES": "0", "VKB_FAULT_DEVICE": "1"})
    n503 = 0
    health = None
    for _ in range(50):
        for st, ans, i in burst(srv, 8):
            if st == 503:
                n503 += 1
                if "device lost" not in ans.get("error", ""):
                    fail("fault: 503 without the reason: %r" % ans)
            elif st != 200 or check(ans, i):
                fail("fault: status %d %r" % (st, ans))
        health = once(srv, "GET", "/health")
        if health[0] == 200 and health[1].get("status") == "degraded":
            break
    st, h = health
    if st != 200 or h.get("status") != "degraded" or len(h.get("devices_lost", [])) != 1 or \
            "device lost" not in h["devices_lost"][0].get("error", ""):
        fail("fault: /health %d %r" % (st, h))
    else:
        ok("fault: device 1 failed %d requests with 503, then /health 200 %r" % (n503, h))
    res = burst(srv, 24)
    if any(st != 200 or check(ans, i) for st, ans, i in res):
        fail("fault: after device 1 was lost: %r" % [r[0] for r in res])
    else:
        ok("fault: device 0 answered all of 24 concurrent requests after device 1 was lost")
    _, met = once(srv, "GET", "/metrics")
    up = [metric(met, "vkbert_device_up", i) for i in (0, 1)]
    if up != [1, 0] or "vkbert_device_lost 0" not in met:
        fail("fault: vkbert_device_up %r" % up)
    _, inf = once(srv, "GET", "/info")
    if inf.get("healthy") is not True or [d["healthy"] for d in inf["devices"]][:2] != [True, False]:
        fail("fault: /info %r" % inf)
    rc = srv.stop()
    if rc != 0:
        fail("fault server exit status %r" % rc)
    srv = Server("--quiet", env={"VKB_FAULT_AFTER_BATCHES": "0"})
    for _ in range(20):
        burst(srv, 4)
        st, h = once(srv, "GET", "/health")
        if st == 503:
            break
    res = [once(srv, "POST", "/predict", {"inputs": "x"})[0] for _ in range(3)]
    if st != 503 or "device lost" not in h.get("error", "") or res != [503] * 3:
        fail("all devices lost: /health %d %r, predict %r" % (st, h, res))
    else:
        ok("all devices lost: /health 503 %s" % h["error"])
    rc = srv.stop()
    if rc != 0:
        fail("fault server exit status %r" % rc)


for name, fn in (("load", load_test), ("faults", fault_test)):
    try:
        fn()
    except Exception as ex:  # noqa: BLE001
        fail("%s: %r" % (name, ex))
if FAILS:
    print("%d check(s) failed" % len(FAILS))
    sys.exit(1)
print("all ok")
