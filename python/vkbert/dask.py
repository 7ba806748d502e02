"""vkbert.dask: score a large dataset on a Dask cluster, one model per worker.

    from distributed import Client
    import vkbert.dask as vd
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(...))
    parts = vd.score_files("reviews-*.jsonl.gz", "out/", path="models/default",
                           device=None, text_key="text", id_key="id")
    # out/part-00000.jsonl ...: {"id": ..., "label": ..., "score": ...} per
    # input record, in input order (cat out/part-*.jsonl keeps that order)

Each worker process loads the model once, on first use, and keeps it in a
per-process cache keyed by (path, device, options): the functions shipped to
workers are plain module functions (pickled by name), so workers need this
package importable (PYTHONPATH) and libvkbert.so findable (VKBERT_LIBRARY).
device=None means "the worker's VKBERT_DEVICE environment variable, else
auto" (a hardware GPU, else the CPU reference): start one worker per GPU
with VKBERT_DEVICE=gpu:N to pin it (Vulkan has no CUDA_VISIBLE_DEVICES).  See docs/python.md.
"""
import json
import os
import re
import threading

import dask.bag as db

from .model import Model

_lock = threading.Lock()
_models = {}           # (path, device, options) -> Model, per worker process
_stats = {"loads": 0, "partitions": 0, "records": 0}


def worker_index(name):
    """The process number in a Dask worker name: `dask worker --nworkers N
    --name host` names its processes host-0 ... host-(N-1); LocalCluster
    names its workers 0, 1, ...  None when the name has no number."""
    if isinstance(name, int):
        return name
    m = re.search(r"(?:^|-)(\d+)$", str(name))
    return int(m.group(1)) if m else None


def resolve_device(device=None):
    """device, else $VKBERT_DEVICE, else "auto".  "gpu:worker" pins worker
    process number i (see worker_index) to Vulkan device gpu:i, which gives
    one GPU per process with a single `dask worker --nworkers N` command."""
    device = device or os.environ.get("VKBERT_DEVICE") or "auto"
    if device == "gpu:worker":
        from distributed import get_worker
        try:
            name = get_worker().name
        except ValueError:
            raise ValueError('device "gpu:worker" only works inside a Dask worker') from None
        i = worker_index(name)
        if i is None:
            raise ValueError('device "gpu:worker": worker name %r ends in no process number '
                             '(start workers with --nworkers N --name NAME)' % (name,))
        device = "gpu:%d" % i
    return device


def worker_model(path=None, device=None, **options):
    """The process's model for (path, device, options), loaded on first use.
    Dask runs tasks of one worker on its threads; Model serializes them on
    the backend, so one model per process is enough."""
    device = resolve_device(device)
    key = (None if path is None else os.path.abspath(os.fspath(path)), device,
           tuple(sorted(options.items())))
    with _lock:
        m = _models.get(key)
        if m is None:
            m = Model(path, device=device, **options)
            _models[key] = m
            _stats["loads"] += 1
        return m


def _load(path, device, options):
    m = worker_model(path, device, **options)
    return {"pid": os.getpid(), "device": m.device, "request": m.device_request}


def preload(client, path=None, device=None, **options):
    """Loads the model on every worker of a distributed.Client now (instead
    of on each worker's first partition) and returns {worker address:
    {"pid", "device", "request"}}: a check that each worker got the device
    it was meant to (e.g. its VKBERT_DEVICE)."""
    return client.run(_load, path, device, options)


def worker_stats():
    """Per-process counters: models loaded, partitions and records scored
    (for client.run(vkbert.dask.worker_stats) in tests and monitoring)."""
    with _lock:
        return dict(_stats, models=len(_models))


def release_models():
    """Frees the process's cached models (e.g. client.run(release_models))."""
    with _lock:
        for m in _models.values():
            m.close()
        _models.clear()


def score_partition(records, path=None, device=None, text_key="text", id_key="id",
                    all_scores=False, with_logits=False, model_options=None):
    """Scores one partition: records are dicts or JSON lines; returns one
    dict per record, in order: {"id", "label", "score"} (+ "scores",
    "logits"), or {"id", "error"} for a record without a text string (as
    `vkbert score` does, so one bad record does not fail a long job)."""
    recs = []
    for r in records:
        if isinstance(r, (str, bytes)):
            if not r.strip():
                continue  # blank line
            try:
                r = json.loads(r)
            except ValueError as e:
                recs.append((None, None, "invalid JSON: %s" % e))
                continue
        if not isinstance(r, dict):
            recs.append((None, None, "record is a %s, not an object" % type(r).__name__))
            continue
        rid = r.get(id_key) if id_key else None
        text = r.get(text_key)
        if not isinstance(text, str):
            recs.append((rid, None, "field %r is missing or not a string" % text_key))
            continue
        recs.append((rid, text, None))
    model = worker_model(path, device, **(model_options or {}))
    scored = model.score([t for _, t, e in recs if e is None],
                         all_scores=all_scores, with_logits=with_logits)
    out, k = [], 0
    for rid, _, e in recs:
        if e is not None:
            res = {"error": e}
        else:
            res = scored[k]
            k += 1
            res.pop("n_tokens", None)
        row = {"id": rid} if id_key else {}
        row.update(res)
        out.append(row)
    with _lock:
        _stats["partitions"] += 1
        _stats["records"] += len(out)
    return out


def score_bag(bag, path=None, device=None, text_key="text", id_key="id",
              all_scores=False, with_logits=False, **model_options):
    """A lazy bag of result dicts for a bag of records (dicts or JSON lines),
    partition by partition.  model_options go to vkbert.Model (precision,
    max_len, batch_tokens, threads, fp64_accum, ...)."""
    return bag.map_partitions(score_partition, path=path, device=device,
                              text_key=text_key, id_key=id_key, all_scores=all_scores,
                              with_logits=with_logits, model_options=model_options)


def _part_name(i):
    return "%05d" % i


def write_jsonl(results, out_dir, compute_kwargs=None):
    """Writes a bag of result dicts as out_dir/part-NNNNN.jsonl, one part per
    partition (in partition order), and returns the paths.  Runs on the
    current Dask client, if any."""
    os.makedirs(out_dir, exist_ok=True)
    return results.map(json.dumps).to_textfiles(
        os.path.join(os.fspath(out_dir), "part-*.jsonl"), name_function=_part_name,
        last_endline=True, **(compute_kwargs or {}))


def score_files(inputs, out_dir, path=None, device=None, text_key="text", id_key="id",
                blocksize=None, npartitions=None, all_scores=False, with_logits=False,
                compute_kwargs=None, **model_options):
    """Scores JSONL files (a path, glob or list; .gz read transparently) into
    out_dir/part-*.jsonl and returns the part paths.  blocksize splits
    uncompressed files into partitions of that many bytes (e.g. "64MiB"; a
    .gz file is one partition), npartitions repartitions after reading.
    compute_kwargs go to Dask's compute (e.g. resources={"GPU": 1})."""
    bag = db.read_text(inputs, blocksize=blocksize)
    if npartitions:
        bag = bag.repartition(npartitions)
    res = score_bag(bag, path=path, device=device, text_key=text_key, id_key=id_key,
                    all_scores=all_scores, with_logits=with_logits, **model_options)
    return write_jsonl(res, out_dir, compute_kwargs)
