"""Reviews/s of the Dask recipe with 1, 2, ... worker processes on this
machine, against a single process without Dask.

    VKBERT_LIBRARY=build/libvkbert.so /usr/bin/python3 python/bench/dask_workers.py \
        --model tests/data/tiny-f32 --device cpu --n 2000 --workers 1 2

Every configuration scores the same first N reviews of
../shared/data/imdb/train.jsonl.gz through vkbert.dask.score_files (plain
JSONL input split into 4 partitions per worker, JSONL parts written out).
Models are loaded in every worker before the clock starts (client.run), so
the figures are steady-state throughput, not start-up.  Each worker gets
--threads CPU threads (OpenBLAS too), so 2 workers x 1 thread and 1 worker x
2 threads use the same cores.  Prints one line per configuration and the
1-minute load average before and after (this machine is shared)."""
import argparse
import gzip
import itertools
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))


def median(xs):
    return statistics.median(xs)


def fmt(times):
    return "/".join("%.2f" % t for t in times)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model dir (default models/default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per worker")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration (median shown)")
    ap.add_argument("--data", default=os.path.join(os.environ.get(
        "VKB_SHARED", os.path.join(REPO, "..", "shared")), "data", "imdb", "train.jsonl.gz"))
    a = ap.parse_args()
    # Set before any worker process starts (they inherit the environment).
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(REPO, "python")] + os.environ.get("PYTHONPATH", "").split(os.pathsep))
    import vkbert
    import vkbert.dask as vd
    from distributed import Client, LocalCluster

    with gzip.open(a.data, "rt", encoding="utf-8") as f:
        lines = list(itertools.islice(f, a.n))
    texts = [json.loads(l)["text"] for l in lines]
    opts = dict(path=a.model, device=a.device, threads=a.threads)
    print("model %s, device %s, %d reviews, %d thread(s) per worker, load %.2f"
          % (a.model or "models/default", a.device, len(lines), a.threads, os.getloadavg()[0]))

    with vkbert.Model(a.model, device=a.device, threads=a.threads) as m:
        m.score(texts[:16])
        times = []
        for _ in range(a.repeat):
            t0 = time.time()
            r = m.score(texts)
            times.append(time.time() - t0)
        dt = median(times)
    print("single process (no Dask): %7.1f reviews/s  (median of %s s; %s; mean %.0f tokens)"
          % (len(texts) / dt, fmt(times), m.device, sum(x["n_tokens"] for x in r) / len(r)))

    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "reviews.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            f.writelines(lines)
        for k in a.workers:
            with LocalCluster(n_workers=k, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None) as cl, Client(cl) as c:
                vd.preload(c, a.model, a.device, threads=a.threads)  # load first
                times = []
                for i in range(a.repeat):
                    t0 = time.time()
                    parts = vd.score_files(inp, os.path.join(tmp, "out%d-%d" % (k, i)),
                                           blocksize=max(1, os.path.getsize(inp) // (4 * k)),
                                           **opts)
                    times.append(time.time() - t0)
                dt = median(times)
                st = c.run(vd.worker_stats)
            print("dask %d worker(s):          %7.1f reviews/s  (median of %s s, %d parts, records per worker %s)"
                  % (k, len(lines) / dt, fmt(times), len(parts),
                     sorted(s["records"] for s in st.values())))
    print("load after: %.2f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
