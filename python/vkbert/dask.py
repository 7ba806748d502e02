"""vkbert.dask: score a large dataset on a Dask cluster, one model per worker.

    from distributed import Client
    import vkbert.dask as vd
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(...))
    parts = vd.score_files("reviews-*.jsonl.gz", "out/", path="models/default",
                           device=None, text_key="text")
    # out/part-00000.jsonl ...: per input record, in input order, the line
    # `vkbert score` writes: {<pass-through fields>,"label":...,"score":...}
    parts = vd.embed_files("docs-*.jsonl.gz", "emb/", path="my-st-model")
    # emb/part-*.jsonl: `vkbert embed`'s lines {<pass-through>,"embedding":[...]}

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


def _as_line(r):
    """A record of a bag as a JSON line: lines pass as they are; a dict is
    written compactly (its members then come out as `vkbert score` would
    write them for that line)."""
    if isinstance(r, (str, bytes)):
        return r
    if isinstance(r, dict):
        return json.dumps(r, ensure_ascii=False, separators=(",", ":"))
    raise TypeError("records must be JSON lines (str/bytes) or dicts, not %s"
                    % type(r).__name__)


def score_partition(records, path=None, device=None, text_key="text", all_scores=False,
                    with_logits=False, top_k=0, model_options=None, with_file=False, embed=None):
    """Scores one partition: records are JSON lines (str or bytes), dicts,
    or (line, path) pairs (dask.bag.read_text(..., include_path=True)).
    Returns one output line (str, no newline) per record, in order: exactly
    what `vkbert score` writes for it (Model.score_lines: every pass-through
    field, "label", "score", ...; {"line": N, "error": ...} for a record it
    cannot read, so one bad record does not fail a long job).  N counts the
    lines of the partition (the file's line numbers when a file is one
    partition).  with_file adds "file" to error lines, as `vkbert score`
    does when given several files.  embed: a dict (pooling=..., normalize=...,
    None values = the model's defaults) gives `vkbert embed`'s lines
    (Model.embed_lines) instead of scores."""
    model = worker_model(path, device, **(model_options or {}))
    out = []
    group, src, first = [], None, 1

    def flush():
        if group and embed is not None:
            out.extend(model.embed_lines(group, text_key=text_key, pooling=embed.get("pooling"),
                                         normalize=embed.get("normalize"),
                                         source=src if with_file else None, first_line=first))
        elif group:
            out.extend(model.score_lines(group, text_key=text_key, all_scores=all_scores,
                                         with_logits=with_logits, top_k=top_k,
                                         source=src if with_file else None, first_line=first))

    for r in records:
        p = None
        if isinstance(r, tuple) and len(r) == 2:
            r, p = r
        if p != src:
            flush()
            group, src, first = [], p, 1
        group.append(_as_line(r))
    flush()
    with _lock:
        _stats["partitions"] += 1
        _stats["records"] += len(out)
    return out


def score_bag(bag, path=None, device=None, text_key="text", all_scores=False,
              with_logits=False, top_k=0, with_file=False, embed=None, **model_options):
    """A lazy bag of output lines (str, no newline; `vkbert score`'s exact
    bytes) for a bag of records (JSON lines, dicts or (line, path) pairs),
    partition by partition; .map(json.loads) gives dicts.  model_options go
    to vkbert.Model (precision, max_len, batch_tokens, threads, fp64_accum,
    ...)."""
    return bag.map_partitions(score_partition, path=path, device=device, text_key=text_key,
                              all_scores=all_scores, with_logits=with_logits, top_k=top_k,
                              model_options=model_options, with_file=with_file, embed=embed)


def _part_name(i):
    return "%05d" % i


def write_jsonl(results, out_dir, compute_kwargs=None):
    """Writes a bag of output lines (score_bag) as out_dir/part-NNNNN.jsonl,
    one part per partition (in partition order), and returns the paths.
    Runs on the current Dask client, if any."""
    os.makedirs(out_dir, exist_ok=True)
    return results.to_textfiles(
        os.path.join(os.fspath(out_dir), "part-*.jsonl"), name_function=_part_name,
        last_endline=True, encoding="utf-8",
        **(compute_kwargs or {}))


def score_files(inputs, out_dir, path=None, device=None, text_key="text",
                blocksize=None, npartitions=None, all_scores=False, with_logits=False,
                top_k=0, compute_kwargs=None, embed=None, **model_options):
    """Scores JSONL files (a path, glob or list; .gz read transparently) into
    out_dir/part-*.jsonl and returns the part paths; `cat` of the parts is
    byte for byte what `vkbert score` writes for the same files.  By default
    each file is one partition (give many files); blocksize splits
    uncompressed files into partitions of that many bytes (e.g. "64MiB"; it
    cannot split compressed files: Dask refuses), npartitions repartitions
    after reading.  compute_kwargs go to Dask's compute (e.g.
    resources={"GPU": 1})."""
    bag = db.read_text(inputs, blocksize=blocksize, linedelimiter="\n", include_path=True,
                       encoding="utf-8", errors="surrogateescape")
    with_file = len(_paths(inputs)) > 1  # as `vkbert score FILE...`
    if npartitions:
        bag = bag.repartition(npartitions)
    res = score_bag(bag, path=path, device=device, text_key=text_key, all_scores=all_scores,
                    with_logits=with_logits, top_k=top_k, with_file=with_file, embed=embed,
                    **model_options)
    return write_jsonl(res, out_dir, compute_kwargs)


def embed_files(inputs, out_dir, path=None, device=None, text_key="text", pooling=None,
                normalize=None, **kwargs):
    """score_files for embeddings: out_dir/part-*.jsonl whose `cat` is byte
    for byte what `vkbert embed` writes for the same files (pooling,
    normalize as Model.embed; None = the model's defaults)."""
    return score_files(inputs, out_dir, path=path, device=device, text_key=text_key,
                       embed={"pooling": pooling, "normalize": normalize}, **kwargs)


def _paths(inputs):
    """The files a read_text urlpath names (for "several files")."""
    from fsspec.core import get_fs_token_paths
    return get_fs_token_paths(inputs)[2]
