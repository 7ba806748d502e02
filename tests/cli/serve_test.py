#!/usr/bin/env python3
"""serve_test.py - `vkbert serve` against real servers on loopback, with a
client in Python's standard library only.

usage: serve_test.py VKBERT MODEL DEVICE [CLIENTS REQUESTS]

  1. load: CLIENTS threads (default 32) x REQUESTS requests (default 200) of
     mixed lengths (single texts, batches, truncated texts, raw_scores) on
     keep-alive connections; every request answered, each answer the same as
     `vkbert score` on the same text (labels exactly; scores bit-identical on
     the CPU, within 1e-5 on a Vulkan device),
     none lost or duplicated; /metrics agrees on the count.
  2. errors: 422 (malformed JSON, wrong types, pairs, empty), 413 (too long
     with truncate=false; body over --max-body-bytes), 429 (over
     --max-concurrent-requests, the others still served), 404, 405, an idle
     client timed out, a non-loopback --host refused without --allow-remote.
  3. device failures (VKB_FAULT_AFTER_BATCHES): a failed batch fails only its
     requests with 503 and a message, the device is reopened and later
     requests succeed; a device that keeps failing is reported by /health.
  4. graceful shutdown under load: SIGTERM, the requests in flight are
     answered, exit status 0.
  4b. sequential: with --max-concurrent-requests 1, a client that sends its
     next request as soon as it has an answer (new connections and one
     keep-alive connection, errors among them) is never refused 429: a
     request's slot is given back when its answer is queued, not when
     libmicrohttpd reports the request completed (after the sending).
  5. embed: 8 threads x 20 concurrent POST /embed requests (single texts and
     batches, normalize true / false / absent, mixed lengths), every vector
     the same as `vkbert embed` (with or without --normalize) whatever shared
     its batch (bit-identical or to 1e-5, as for /predict), interleaved with /predict requests; /info
     and /metrics; the /embed errors (422, 413, 429); a base model with
     sentence-transformers files serves /embed (cls, normalized) and
     answers /predict with 400.
"""
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_client  # noqa: E402
from serve_client import call, once  # noqa: E402

B, M, DEV = sys.argv[1], sys.argv[2], sys.argv[3]


# answers vs `vkbert score` / `vkbert embed`: exact on the CPU
TOL = 0.0 if DEV == "cpu" else 1e-5
CLIENTS = int(sys.argv[4]) if len(sys.argv) > 4 else 32
REQS = int(sys.argv[5]) if len(sys.argv) > 5 else 200
TMP = tempfile.mkdtemp(prefix="vkb_serve_")
FAILS = []


def fail(msg):
    print("FAIL:", msg, flush=True)
    FAILS.append(msg)


def ok(msg):
    print("ok:", msg, flush=True)


def Server(*args, env=None, model=None):
    return serve_client.Server(B, model or M, DEV, TMP, *args, env=env)


# ---- texts and what `vkbert score` says about them ----------------------------
WORDS = ("the movie was great terrible boring wonderful plot acting scenes music a an and "
         "not very really quite awful brilliant film story characters ending loved hated it "
         "this that director camera slow fast funny sad").split()
rng = random.Random(7)
TEXTS = []
for i in range(600):
    n = rng.choice([1, 2, 3, 5, 8, 12, 20, 30, 45, 60, 90, 150])  # some beyond max_len: truncated
    TEXTS.append("%d %s" % (i, " ".join(rng.choice(WORDS) for _ in range(n))))
src = os.path.join(TMP, "texts.jsonl")
with open(src, "w") as f:
    for t in TEXTS:
        f.write(json.dumps({"text": t}) + "\n")
out = subprocess.run([B, "score", "--model", M, "--device", DEV, "--quiet", "--all-scores", "--logits", src],
                     capture_output=True, text=True)
if out.returncode != 0:
    print(out.stderr)
    sys.exit(1)
EXPECT = [json.loads(l) for l in out.stdout.splitlines()]
assert len(EXPECT) == len(TEXTS)


EXACT = [0, 0]  # answers bit-identical to vkbert score's, answers checked


def check_answer(pred, i, raw):
    """pred: TEI's [{"score","label"},...] for TEXTS[i]; error string or None."""
    e = EXPECT[i]
    labels = list(e["scores"].keys())
    vals = dict(zip(labels, e["logits"])) if raw else e["scores"]
    if not isinstance(pred, list) or len(pred) != len(labels):
        return "text %d: not a prediction list: %r" % (i, pred)
    if pred[0]["label"] != e["label"]:
        return "text %d: label %s, score says %s" % (i, pred[0]["label"], e["label"])
    EXACT[1] += 1
    EXACT[0] += all(p["score"] == vals[p["label"]] for p in pred)
    for p in pred:
        if abs(p["score"] - vals[p["label"]]) > TOL:
            return "text %d: %s %r, score says %r" % (i, p["label"], p["score"], vals[p["label"]])
    if any(pred[k]["score"] < pred[k + 1]["score"] for k in range(len(pred) - 1)):
        return "text %d: not sorted best first" % i
    return None


# ---- 1. load ---------------------------------------------------------------------
def load_test():
    srv = Server("--quiet")
    results = {}
    lock = threading.Lock()
    errors = []

    def client(cid):
        r = random.Random(cid)
        c = srv.conn()
        for k in range(REQS):
            kind = r.random()
            raw = r.random() < 0.3
            if kind < 0.7:
                idx = [r.randrange(len(TEXTS))]
                body = {"inputs": TEXTS[idx[0]], "truncate": True}
            else:
                idx = [r.randrange(len(TEXTS)) for _ in range(r.randint(2, 5))]
                body = {"inputs": [TEXTS[i] for i in idx], "truncate": True}
            if raw:
                body["raw_scores"] = True
            try:
                st, ans = call(c, "POST", "/predict", body)
            except Exception as ex:  # noqa: BLE001
                errors.append("client %d request %d: %r" % (cid, k, ex))
                return
            with lock:
                if (cid, k) in results:
                    errors.append("duplicate answer %d/%d" % (cid, k))
                results[(cid, k)] = (st, ans, idx, raw, isinstance(body["inputs"], str))
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
    for (cid, k), (st, ans, idx, raw, single) in sorted(results.items()):
        if st != 200:
            bad += 1
            if bad < 5:
                fail("load: request %d/%d: status %d %r" % (cid, k, st, ans))
            continue
        preds = [ans] if single else ans
        if len(preds) != len(idx):
            bad += 1
            fail("load: request %d/%d: %d answers for %d inputs" % (cid, k, len(preds), len(idx)))
            continue
        for p, i in zip(preds, idx):
            msg = check_answer(p, i, raw)
            if msg:
                bad += 1
                if bad < 5:
                    fail("load: request %d/%d: %s" % (cid, k, msg))
    if bad == 0 and not errors:
        ok("load: %d clients x %d requests in %.1f s (%.0f req/s), all answered as vkbert score "
           "(%d of %d answers bit-identical)" % (CLIENTS, REQS, dt, CLIENTS * REQS / dt, EXACT[0], EXACT[1]))
    st, met = once(srv, "GET", "/metrics")
    m = re.search(r"^vkbert_requests_success_total (\d+)$", met, re.M)
    if st != 200 or not m or int(m.group(1)) != CLIENTS * REQS:
        fail("metrics: success count %s, expected %d" % (m and m.group(1), CLIENTS * REQS))
    else:
        for name in ("vkbert_queue_depth", "vkbert_batch_size_bucket", "vkbert_tokens_per_second",
                     "vkbert_request_duration_seconds_bucket", 'vkbert_errors_total{kind="overloaded"}'):
            if name not in met:
                fail("metrics: no %s" % name)
        if not re.search(r"^vkbert_device_reopens_total 0$", met, re.M):
            fail("metrics: the scorer was restarted during the load test")
        bs = re.search(r"^vkbert_batch_size_sum (\d+)\nvkbert_batch_size_count (\d+)$", met, re.M)
        ok("metrics: %d requests counted; mean dynamic batch %.1f texts"
           % (CLIENTS * REQS, int(bs.group(1)) / max(1, int(bs.group(2)))))
    st, inf = once(srv, "GET", "/info")
    if st != 200 or not isinstance(inf.get("max_input_length"), int) or inf["max_input_length"] < 2 or "device" not in inf or \
            inf.get("model_type", {}).get("classifier", {}).get("id2label") is None or "version" not in inf:
        fail("info: %d %r" % (st, inf))
    else:
        ok("info: %s on %s" % (inf["model_id"], inf["device"]))
    rc = srv.stop()
    if rc != 0:
        fail("load server exit status %r" % rc)


# ---- 2. errors -----------------------------------------------------------------------
def error_test():
    srv = Server("--quiet", "--max-body-bytes", "4096", "--max-concurrent-requests", "2", "--timeout", "2")
    long_text = " ".join(["word"] * 300)
    cases = [
        ("malformed JSON", b'{"inputs": "abc"', 422),
        ("trailing junk", b'{"inputs": "abc"} x', 422),
        ("not an object", [1, 2], 422),
        ("no inputs", {"text": "x"}, 422),
        ("number inputs", {"inputs": 5}, 422),
        ("number in list", {"inputs": ["a", 5]}, 422),
        ("pair", {"inputs": [["a", "b"]]}, 422),
        ("empty list", {"inputs": []}, 422),
        ("empty text", {"inputs": ""}, 422),
        ("truncate not bool", {"inputs": "a", "truncate": "yes"}, 422),
        ("raw_scores not bool", {"inputs": "a", "raw_scores": 1}, 422),
        ("invalid UTF-8", b'{"inputs": "\xff\xfe"}', 422),
        ("too long, truncate false", {"inputs": long_text[:3000], "truncate": False}, 413),
        ("too long, no truncate", {"inputs": ["ok", long_text[:3000]]}, 413),
        ("body over --max-body-bytes", {"inputs": long_text * 4}, 413),
        ("empty body", b"", 422),
    ]
    for name, body, want in cases:
        try:
            st, ans = once(srv, "POST", "/predict", body)
        except Exception as ex:  # noqa: BLE001
            fail("%s: %r" % (name, ex))
            continue
        if st != want or not isinstance(ans, dict) or not ans.get("error") or not ans.get("error_type"):
            fail("%s: %d %r (expected %d with a JSON error)" % (name, st, ans, want))
        else:
            ok("%s: %d %s" % (name, st, ans["error"]))
    st, ans = once(srv, "POST", "/predict", {"inputs": long_text[:3000], "truncate": True})
    if st != 200:
        fail("truncate true: %d %r" % (st, ans))
    for method, path, want in (("GET", "/nowhere", 404), ("POST", "/embeddings", 404), ("GET", "/predict", 405),
                               ("POST", "/health", 405)):
        st, ans = once(srv, method, path, "{}" if method == "POST" else None)
        if st != want or "error" not in ans:
            fail("%s %s: %d %r" % (method, path, st, ans))
        else:
            ok("%s %s: %d" % (method, path, st))
    # 429: 2 in flight at most; slow requests (64 long texts each) from 12 clients
    statuses = []
    slock = threading.Lock()
    big = {"inputs": [long_text[:3000] + str(i) for i in range(64)], "truncate": True}
    big_b = json.dumps(big)
    if len(big_b) > 4096:  # stay under --max-body-bytes: fewer, shorter texts
        big = {"inputs": [long_text[:250] + str(i) for i in range(12)], "truncate": True}

    def hammer():
        for _ in range(4):
            try:
                st, ans = once(srv, "POST", "/predict", big)
            except Exception as ex:  # noqa: BLE001
                st, ans = -1, repr(ex)
            with slock:
                statuses.append((st, ans))

    th = [threading.Thread(target=hammer) for _ in range(12)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    n429 = sum(1 for s, a in statuses if s == 429 and a.get("error_type") == "overloaded")
    n200 = sum(1 for s, _ in statuses if s == 200)
    other = [(s, a) for s, a in statuses if s not in (200, 429)]
    if n429 == 0 or n200 == 0 or other:
        fail("429: %d x 429, %d x 200, others %r" % (n429, n200, other[:3]))
    else:
        ok("429: %d over the limit refused, %d served" % (n429, n200))
    st, _ = once(srv, "POST", "/predict", {"inputs": "still serving"})
    if st != 200:
        fail("after 429s: %d" % st)
    # an idle client is timed out (--timeout 2)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")
    s.settimeout(15)
    t0 = time.time()
    try:
        data = s.recv(100)
        closed = True
    except socket.timeout:
        data, closed = b"", False
    dt = time.time() - t0
    s.close()
    if not closed or dt > 10:
        fail("idle client not timed out (%.1f s, %r)" % (dt, data))
    else:
        ok("idle client disconnected after %.1f s" % dt)
    st, _ = once(srv, "GET", "/health")
    if st != 200:
        fail("health after errors: %d" % st)
    st, met = once(srv, "GET", "/metrics")
    for kind in ("validation", "too_large", "overloaded", "not_found", "method_not_allowed"):
        m = re.search(r'^vkbert_errors_total\{kind="%s"\} (\d+)$' % kind, met, re.M)
        if not m or int(m.group(1)) == 0:
            fail("metrics: errors of kind %s not counted" % kind)
    rc = srv.stop()
    if rc != 0:
        fail("error server exit status %r" % rc)
    # a non-loopback address needs --allow-remote
    p = subprocess.run([B, "serve", "--model", M, "--device", DEV, "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 2 or "--allow-remote" not in p.stderr:
        fail("--host 0.0.0.0 without --allow-remote: %d %s" % (p.returncode, p.stderr))
    else:
        ok("--host 0.0.0.0 refused without --allow-remote")


# ---- 3. device failures ------------------------------------------------------------------
def fault_test():
    srv = Server("--quiet", env={"VKB_FAULT_AFTER_BATCHES": "3"})
    res = []
    for i in range(10):
        st, ans = once(srv, "POST", "/predict", {"inputs": TEXTS[i], "truncate": True})
        res.append(st)
        if st == 200 and check_answer(ans, i, False):
            fail("fault: " + check_answer(ans, i, False))
        if st == 503 and "device lost" not in ans.get("error", ""):
            fail("fault: 503 without the reason: %r" % ans)
    # every 4th batch fails (3 good ones per scorer), the scorer is rebuilt
    if res != [200, 200, 200, 503, 200, 200, 200, 503, 200, 200]:
        fail("fault: statuses %r" % res)
    else:
        ok("fault: failed batches answered 503 (device lost), the device reopened: %r" % res)
    st, _ = once(srv, "GET", "/health")
    if st != 200:
        fail("fault: health %d after a recovered failure" % st)
    srv.stop()
    srv = Server("--quiet", env={"VKB_FAULT_AFTER_BATCHES": "0"})
    res = [once(srv, "POST", "/predict", {"inputs": "x"})[0] for _ in range(4)]
    st, h = once(srv, "GET", "/health")
    _, met = once(srv, "GET", "/metrics")
    if res != [503] * 4 or st != 503 or "device lost" not in h.get("error", "") or \
            "vkbert_device_lost 1" not in met:
        fail("lost for good: predict %r, health %d %r" % (res, st, h))
    else:
        ok("lost for good: /health %d %s" % (st, h["error"]))
    rc = srv.stop()
    if rc != 0:
        fail("fault server exit status %r" % rc)


# ---- 4. graceful shutdown under load -----------------------------------------------------
def shutdown_test():
    srv = Server("--quiet")
    stop = threading.Event()
    stats = {"ok": 0, "wrong": 0, "503": 0, "conn": 0, "other": []}
    lock = threading.Lock()
    signalled = threading.Event()

    def client(cid):
        r = random.Random(100 + cid)
        while not stop.is_set():
            idx = [r.randrange(len(TEXTS)) for _ in range(r.randint(1, 8))]
            try:
                c = srv.conn(timeout=60)
                st, ans = call(c, "POST", "/predict", {"inputs": [TEXTS[i] for i in idx], "truncate": True})
                c.close()
            except (ConnectionError, OSError, http.client.HTTPException):
                with lock:
                    stats["conn"] += 1
                if signalled.is_set():
                    return
                continue
            with lock:
                if st == 200:
                    bad = [check_answer(p, i, False) for p, i in zip(ans, idx)]
                    stats["wrong" if any(bad) or len(ans) != len(idx) else "ok"] += 1
                elif st == 503 and ans.get("error_type") == "shutting_down":
                    stats["503"] += 1
                else:
                    stats["other"].append((st, ans))

    th = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in th:
        t.start()
    time.sleep(1.5)
    signalled.set()
    t0 = time.time()
    rc = srv.stop(signal.SIGTERM)
    dt = time.time() - t0
    stop.set()
    for t in th:
        t.join()
    if rc != 0 or stats["wrong"] or stats["other"] or stats["ok"] == 0:
        fail("shutdown: exit %r, %r\n%s" % (rc, stats, srv.stderr()))
    else:
        ok("shutdown under load: exit 0 after %.2f s; %d answered, %d refused while stopping, "
           "%d connections closed" % (dt, stats["ok"], stats["503"], stats["conn"]))
    # SIGINT too
    srv = Server("--quiet")
    rc = srv.stop(signal.SIGINT)
    if rc != 0:
        fail("SIGINT: exit %r" % rc)


# ---- 5. embed ---------------------------------------------------------------------------
def embed_expect(normalize, model=None, extra=()):
    args = [B, "embed", "--model", model or M, "--device", DEV, "--quiet", src] + \
        (["--normalize"] if normalize else []) + list(extra)
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("vkbert embed: " + p.stderr)
    v = [json.loads(l)["embedding"] for l in p.stdout.splitlines()]
    assert len(v) == len(TEXTS)
    return v


def embed_test():
    exp = {False: embed_expect(False), True: embed_expect(True)}
    dim = len(exp[False][0])
    if all(abs(sum(x * x for x in v) - 1) < 1e-4 for v in exp[False][:20]):
        fail("embed: the unnormalized vectors are already unit length: the test cannot tell them apart")
    srv = Server("--quiet")
    st, inf = once(srv, "GET", "/info")
    emb = inf.get("model_type", {}).get("embedding") if isinstance(inf, dict) else None
    if st != 200 or not emb or emb.get("pooling") != "mean" or emb.get("dim") != dim:
        fail("info: embedding %r (expected mean pooling, dim %d)" % (emb, dim))
    else:
        ok("/info: embedding %r" % emb)

    # the /embed lane's device is opened by the first POST /embed, not at start
    def embed_open():
        st, text = once(srv, "GET", "/metrics")
        m = re.search(r"^vkbert_embed_backend_open (\d)$", text, re.M) if st == 200 else None
        return int(m.group(1)) if m else None
    before = embed_open()
    st, _ = once(srv, "POST", "/predict", {"inputs": "a fine film"})
    mid = embed_open()
    st2, _ = once(srv, "POST", "/embed", {"inputs": "a fine film"})
    after = embed_open()
    if (before, mid, st, st2, after) != (0, 0, 200, 200, 1):
        fail("lazy /embed lane: open before %r, after /predict %r (%d), after /embed %r (%d)" % (
            before, mid, st, after, st2))
    else:
        ok("the /embed lane's device is opened by the first POST /embed (not at start, not by /predict)")
    errors = []
    lock = threading.Lock()
    counts = [0, 0, 0]  # embed requests, vectors checked, predict requests

    def client(cid):
        r = random.Random(100 + cid)
        c = srv.conn()
        for k in range(20):
            n = r.choice([1, 1, 2, 3, 5, 8])
            idx = [r.randrange(len(TEXTS)) for _ in range(n)]
            body = {"inputs": TEXTS[idx[0]] if n == 1 and r.random() < 0.5 else [TEXTS[i] for i in idx],
                    "truncate": True}
            norm = r.choice([None, True, False])
            if norm is not None:
                body["normalize"] = norm
            try:
                if k % 5 == 4:  # a /predict among them: the lanes do not mix
                    st, ans = call(c, "POST", "/predict", {"inputs": TEXTS[idx[0]], "truncate": True})
                    e = None if st == 200 else "predict: %d %r" % (st, ans)
                    if e is None:
                        e = check_answer(ans, idx[0], False)
                    with lock:
                        counts[2] += 1
                        if e:
                            errors.append(e)
                    continue
                st, ans = call(c, "POST", "/embed", body)
            except Exception as ex:  # noqa: BLE001
                with lock:
                    errors.append("client %d: %r" % (cid, ex))
                c.close()
                c = srv.conn()
                continue
            want = exp[norm is not False]
            e = None
            if st != 200 or not isinstance(ans, list) or len(ans) != n:
                e = "embed: %d %r (expected %d vectors)" % (st, str(ans)[:200], n)
            else:
                for v, i in zip(ans, idx):
                    if len(v) != dim or any(abs(a - b) > TOL for a, b in zip(v, want[i])):
                        e = "text %d (normalize %r): %r, vkbert embed says %r" % (i, norm, v[:4], want[i][:4])
                        break
            with lock:
                counts[0] += 1
                counts[1] += n
                if e:
                    errors.append(e)
        c.close()

    th = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if errors:
        fail("embed load: %d error(s), first %s" % (len(errors), errors[:3]))
    else:
        ok("embed load: %d /embed requests (%d vectors) equal to vkbert embed, %d /predict among them"
           % (counts[0], counts[1], counts[2]))
    st, met = once(srv, "GET", "/metrics")
    m = re.search(r"^vkbert_embed_requests_total (\d+)$", met, re.M)
    m2 = re.search(r"^vkbert_embed_requests_success_total (\d+)$", met, re.M)
    sent = counts[0] + 1  # and the one that opened the lane
    if not m or int(m.group(1)) != sent or not m2 or int(m2.group(1)) != sent:
        fail("metrics: embed requests %r / %r, sent %d" % (m and m.group(1), m2 and m2.group(1), sent))
    else:
        ok("/metrics counts %s /embed requests" % m.group(1))
    rc = srv.stop()
    if rc != 0:
        fail("embed server exit status %r" % rc)

    # errors, as the other routes
    srv = Server("--quiet", "--max-body-bytes", "4096", "--max-concurrent-requests", "2")
    long_text = " ".join(["word"] * 300)
    cases = [
        ("malformed JSON", b'{"inputs": "abc"', 422),
        ("no inputs", {"text": "x"}, 422),
        ("number inputs", {"inputs": 5}, 422),
        ("number in list", {"inputs": ["a", 5]}, 422),
        ("empty list", {"inputs": []}, 422),
        ("empty text", {"inputs": ""}, 422),
        ("normalize not bool", {"inputs": "a", "normalize": "yes"}, 422),
        ("truncate not bool", {"inputs": "a", "truncate": 1}, 422),
        ("too long, truncate false", {"inputs": long_text[:3000], "truncate": False}, 413),
        ("too long, no truncate", {"inputs": ["ok", long_text[:3000]]}, 413),
        ("body over --max-body-bytes", {"inputs": long_text * 4}, 413),
    ]
    for name, body, want in cases:
        st, ans = once(srv, "POST", "/embed", body)
        if st != want or not isinstance(ans, dict) or not ans.get("error") or not ans.get("error_type"):
            fail("embed %s: %d %r (expected %d with a JSON error)" % (name, st, ans, want))
        else:
            ok("embed %s: %d %s" % (name, st, ans["error"]))
    st, ans = once(srv, "GET", "/embed")
    if st != 405:
        fail("GET /embed: %d %r" % (st, ans))
    st, ans = once(srv, "POST", "/embed", {"inputs": long_text[:3000], "truncate": True, "normalize": False})
    i = TEXTS.index(next(t for t in TEXTS if len(t.split()) > 140))
    st2, ans2 = once(srv, "POST", "/embed", {"inputs": TEXTS[i], "truncate": True})
    if st != 200 or len(ans) != 1 or len(ans[0]) != dim or st2 != 200 or \
            any(abs(a - b) > TOL for a, b in zip(ans2[0], exp[True][i])):
        fail("embed truncate true: %d %r / %d" % (st, str(ans)[:100], st2))
    statuses = []
    slock = threading.Lock()
    big = {"inputs": [long_text[:250] + str(i) for i in range(12)], "truncate": True}

    def hammer():
        for _ in range(4):
            try:
                st, ans = once(srv, "POST", "/embed", big)
            except Exception as ex:  # noqa: BLE001
                st, ans = -1, repr(ex)
            with slock:
                statuses.append((st, ans))
    th = [threading.Thread(target=hammer) for _ in range(12)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    n429 = sum(1 for s, a in statuses if s == 429 and a.get("error_type") == "overloaded")
    n200 = sum(1 for s, _ in statuses if s == 200)
    other = [(s, a) for s, a in statuses if s not in (200, 429)]
    if n429 == 0 or n200 == 0 or other:
        fail("embed 429: %d x 429, %d x 200, others %r" % (n429, n200, other[:3]))
    else:
        ok("embed 429: %d over the limit refused, %d served" % (n429, n200))
    rc = srv.stop()
    if rc != 0:
        fail("embed error server exit status %r" % rc)

    # a base model with sentence-transformers files (cls pooling, Normalize):
    # /embed only, with the model's pooling, as `vkbert embed`
    st_model = os.path.join(os.path.dirname(M), "base-st")
    want = embed_expect(False, st_model)  # normalized by the model's default
    srv = Server("--quiet", model=st_model)
    st, inf = once(srv, "GET", "/info")
    mt = inf.get("model_type", {}) if isinstance(inf, dict) else {}
    if st != 200 or "classifier" in mt or mt.get("embedding", {}).get("pooling") != "cls":
        fail("base-st /info: %d %r" % (st, inf))
    st, ans = once(srv, "POST", "/embed", {"inputs": TEXTS[:7], "truncate": True})
    if st != 200 or len(ans) != 7 or any(abs(a - b) > TOL for v, w in zip(ans, want) for a, b in zip(v, w)):
        fail("base-st /embed: %d %r" % (st, str(ans)[:200]))
    else:
        ok("base model (sentence-transformers cls + Normalize): /embed equals vkbert embed")
    # "normalize": false turns the model's Normalize off, as `vkbert embed --no-normalize`
    want_nn = embed_expect(False, st_model, ["--no-normalize"])
    st, ans = once(srv, "POST", "/embed", {"inputs": TEXTS[:7], "truncate": True, "normalize": False})
    if st != 200 or len(ans) != 7 or any(abs(a - b) > 1e-5 for v, w in zip(ans, want_nn) for a, b in zip(v, w)) \
            or all(abs(sum(x * x for x in v) - 1) < 1e-4 for v in ans):
        fail("base-st /embed normalize false: %d %r" % (st, str(ans)[:200]))
    else:
        ok("base model: /embed \"normalize\": false equals vkbert embed --no-normalize (not unit vectors)")
    st, ans = once(srv, "POST", "/predict", {"inputs": "a"})
    if st != 400 or "classifier" not in ans.get("error", ""):
        fail("base-st /predict: %d %r" % (st, ans))
    rc = srv.stop()
    if rc != 0:
        fail("base-st server exit status %r" % rc)


# ---- 4b. one request at a time is never refused -------------------------------------
def sequential_test():
    srv = Server("--quiet", "--max-concurrent-requests", "1")
    try:
        statuses = []
        for i in range(60):  # a new connection each
            body = {"inputs": TEXTS[i], "truncate": True} if i % 5 else {"inputs": []}  # a 422 now and then
            st, _ = once(srv, "POST", "/predict", body)
            statuses.append((st, 200 if i % 5 else 422))
        c = srv.conn()
        try:
            for i in range(60):  # one keep-alive connection
                st, _ = call(c, "POST", "/predict", {"inputs": [TEXTS[i], TEXTS[i + 1]], "truncate": True})
                statuses.append((st, 200))
        finally:
            c.close()
        bad = [(st, want) for st, want in statuses if st != want]
        if bad:
            fail("sequential requests with --max-concurrent-requests 1: %d of %d answered otherwise, e.g. %r"
                 % (len(bad), len(statuses), bad[:3]))
        else:
            ok("sequential requests with --max-concurrent-requests 1: %d answered, none refused" % len(statuses))
    finally:
        srv.stop()


# ---- 6. /info: the precision the device runs in, not the one asked for -----------------
def info_test():
    auto = "fp32"
    if DEV != "cpu":
        p = subprocess.run([B, "devices", "--json"], capture_output=True, text=True)
        devs = json.loads(p.stdout)["devices"]
        idx = int(DEV.split(":")[1]) if ":" in DEV else 0
        auto = devs[idx]["kernels"]["precision"]
    # (the CPU reference refuses --precision fp16: it computes in fp32)
    for req in (None, "fp32") + (() if DEV == "cpu" else ("fp16",)):
        want = req or auto
        srv = Server("--quiet", *(["--precision", req] if req else []))
        st, inf = once(srv, "GET", "/info")
        srv.stop()
        got = (inf.get("precision"), inf.get("model_dtype")) if isinstance(inf, dict) else None
        if st != 200 or got != (want, "float16" if want == "fp16" else "float32"):
            fail("/info with --precision %s on %s: %r, expected %s" % (req or "(auto)", DEV, got, want))
        else:
            ok("/info with --precision %s on %s: precision %s" % (req or "(auto)", DEV, want))


for name, fn in (("load", load_test), ("errors", error_test), ("faults", fault_test),
                 ("shutdown", shutdown_test), ("sequential", sequential_test), ("embed", embed_test),
                 ("info", info_test)):
    if len(sys.argv) > 6 and name not in sys.argv[6].split(","):
        continue
    try:
        fn()
    except Exception as ex:  # noqa: BLE001
        fail("%s: %r" % (name, ex))
if FAILS:
    print("%d check(s) failed" % len(FAILS))
    sys.exit(1)
print("all ok")
