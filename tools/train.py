#!/usr/bin/python3
"""Train the built-in default model: a small DistilBERT classifier from scratch.

Trains DistilBertForSequenceClassification (distilbert_torch.py, HF names and
maths) on tools/work/train.jsonl with the vocabulary from wordpiece_vocab.py,
evaluates accuracy on tools/work/dev.jsonl after every epoch, keeps the best
epoch and exports it to models/default/ (export_model.py) when done.

Resumable: a checkpoint is written to WORK/ckpt.pt every --ckpt-minutes
(atomically); running the same command again continues from it (use --fresh
to start over).  Progress goes to WORK/train.log (and stdout).

Batches are length-bucketed (shuffle, then sort windows of 50 batches by
length) so little compute is spent on padding; AdamW with linear warmup and
linear decay; dropout 0.1; torch threads = --threads (2 on this machine).

--bench N: time N training steps at the chosen size and exit (for sizing).
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

try:
    import torch
except ImportError as _e:  # a message, not a traceback
    sys.exit("%s: needs PyTorch (Debian: apt-get install python3-torch): %s"
             % (os.path.basename(__file__), _e))
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bert_basic_tokenizer import BertTokenizer  # noqa: E402
from distilbert_torch import DistilBertForSequenceClassification  # noqa: E402

LOG = None


def log(msg):
    line = time.strftime("%Y-%m-%d %H:%M:%S ") + msg
    print(line, flush=True)
    if LOG:
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def load_split(path, tok, max_len):
    ids, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            ids.append(tok.encode(r["text"], max_len))
            labels.append(int(r["label"]))
    return ids, labels


def tokenized(a):
    """Token ids of both splits, cached per (vocab, max_len, split files)."""
    h = hashlib.sha256()
    for p in (a.vocab, a.train, a.dev):
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    h.update(str(a.max_len).encode())
    cache = os.path.join(a.work, f"tokens-{h.hexdigest()[:12]}.pt")
    if os.path.exists(cache):
        return torch.load(cache)
    t0 = time.time()
    tok = BertTokenizer(a.vocab, a.max_len)
    data = {"train": load_split(a.train, tok, a.max_len), "dev": load_split(a.dev, tok, a.max_len),
            "pad": tok.pad}
    torch.save(data, cache + ".tmp")
    os.replace(cache + ".tmp", cache)
    log(f"tokenized in {time.time() - t0:.1f}s -> {cache}")
    return data


def make_batches(lengths, batch, seed):
    """Shuffled, length-bucketed batches of indices (deterministic in seed)."""
    rng = random.Random(seed)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    win = batch * 50
    batches = []
    for s in range(0, len(idx), win):
        chunk = sorted(idx[s:s + win], key=lambda i: lengths[i])
        batches += [chunk[j:j + batch] for j in range(0, len(chunk), batch)]
    rng.shuffle(batches)
    return batches


def collate(seqs, pad):
    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


@torch.no_grad()
def evaluate(model, ids, labels, pad, batch=64):
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pred = [0] * len(ids)
    for s in range(0, len(order), batch):
        b = order[s:s + batch]
        x, m = collate([ids[i] for i in b], pad)
        p = model(x, m).argmax(-1).tolist()
        for i, v in zip(b, p):
            pred[i] = v
    model.train()
    return metrics(pred, labels)


def metrics(pred, labels):
    tp = sum(1 for p, y in zip(pred, labels) if p == 1 and y == 1)
    fp = sum(1 for p, y in zip(pred, labels) if p == 1 and y == 0)
    fn = sum(1 for p, y in zip(pred, labels) if p == 0 and y == 1)
    acc = sum(1 for p, y in zip(pred, labels) if p == y) / len(labels)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"accuracy": acc, "f1": f1, "precision": prec, "recall": rec, "n": len(labels)}


def progress(step, total, warmup, elapsed, budget):
    """Fraction of the decay phase done: by steps, or by wall time when the
    time budget runs out first (the machine is shared, so step time varies);
    the learning rate thus always reaches zero by the end of the budget."""
    by_steps = (step - warmup) / max(1, total - warmup)
    return max(by_steps, elapsed / budget)


def lr_at(step, total, warmup, peak, frac):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, 1.0 - frac)


def save_atomic(obj, path):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def main(argv=None):
    global LOG
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--train", default=None)
    ap.add_argument("--dev", default=None)
    ap.add_argument("--vocab", default=None)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "default"))
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--budget-minutes", type=float, default=95.0,
                    help="training wall time (all runs together, evals included): the learning rate decays to "
                         "zero by then even if the planned epochs are not done; then the best eval is exported")
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--no-export", action="store_true")
    a = ap.parse_args(argv)
    a.train = a.train or os.path.join(a.work, "train.jsonl")
    a.dev = a.dev or os.path.join(a.work, "dev.jsonl")
    a.vocab = a.vocab or os.path.join(a.work, "vocab.txt")
    os.makedirs(a.work, exist_ok=True)
    LOG = None if a.bench else os.path.join(a.work, "train.log")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    data = tokenized(a)
    tr_ids, tr_y = data["train"]
    dv_ids, dv_y = data["dev"]
    pad = data["pad"]
    with open(a.vocab, encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f)
    cfg = dict(vocab_size=vocab_size, max_position_embeddings=a.max_len, dim=a.dim, n_layers=a.layers,
               n_heads=a.heads, hidden_dim=a.hidden, dropout=a.dropout, attention_dropout=a.dropout,
               seq_classif_dropout=a.dropout, pad_token_id=pad, initializer_range=0.02)
    model = DistilBertForSequenceClassification(cfg)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embeddings" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embeddings" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    lengths = [len(s) for s in tr_ids]
    per_epoch = len(make_batches(lengths, a.batch, 0))
    total = per_epoch * a.epochs
    warmup = max(1, int(total * a.warmup))

    if a.bench:
        batches = make_batches(lengths, a.batch, a.seed)
        model.train()
        times, toks = [], 0
        for s, b in enumerate(batches[:a.bench]):
            t0 = time.time()
            x, m = collate([tr_ids[i] for i in b], pad)
            loss = F.cross_entropy(model(x, m), torch.tensor([tr_y[i] for i in b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.time() - t0)
            toks += int(m.sum())
        n = sum(p.numel() for p in model.parameters())
        st = sum(times[1:]) / max(1, len(times) - 1)
        tps = toks / sum(times)
        est = sum(min(l, a.max_len) for l in lengths) / tps
        print(f"params {n / 1e6:.2f}M; {st:.3f}s/step (batch {a.batch}); {tps:.0f} real tokens/s; "
              f"est. {est / 60:.1f} min/epoch ({per_epoch} steps)")
        return

    ckpt = os.path.join(a.work, "ckpt.pt")
    best_path = os.path.join(a.work, "best.pt")
    state = {"step": 0, "elapsed": 0.0, "history": [], "best": None, "args": vars(a)}
    if os.path.exists(ckpt) and not a.fresh:
        c = torch.load(ckpt)
        if c["config"] != cfg:
            sys.exit(f"{ckpt}: checkpoint is for config {c['config']}, not {cfg}; use --fresh")
        model.load_state_dict(c["model"])
        opt.load_state_dict(c["opt"])
        state = c["state"]
        torch.set_rng_state(c["rng"])
        log(f"resumed at step {state['step']}/{total} after {state['elapsed'] / 60:.1f} min")
    else:
        n = sum(p.numel() for p in model.parameters())
        log(f"start: {n / 1e6:.2f}M params, config {json.dumps(cfg)}, {len(tr_ids)} train / {len(dv_ids)} dev, "
            f"{per_epoch} steps/epoch x {a.epochs} epochs, args {json.dumps(vars(a))}")

    def checkpoint():
        save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "config": cfg,
                     "rng": torch.get_rng_state()}, ckpt)

    model.train()
    t_run = time.time()
    elapsed0 = state["elapsed"]
    last_ckpt = time.time()
    loss_sum, loss_n, tok_n, t_log = 0.0, 0, 0, time.time()
    stopped = False
    while state["step"] < total and not state.get("done"):
        epoch, k = divmod(state["step"], per_epoch)
        batches = make_batches(lengths, a.batch, a.seed * 1000 + epoch)
        for b in batches[k:]:
            frac = progress(state["step"], total, warmup, state["elapsed"], a.budget_minutes * 60)
            if frac >= 1.0:
                log(f"time budget of {a.budget_minutes} min used at step {state['step']} "
                    f"(epoch {epoch + 1}, {k} steps in); stopping")
                stopped = True
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(state["step"], total, warmup, a.lr, frac)
            x, m = collate([tr_ids[i] for i in b], pad)
            loss = F.cross_entropy(model(x, m), torch.tensor([tr_y[i] for i in b]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state["step"] += 1
            state["elapsed"] = elapsed0 + time.time() - t_run
            loss_sum += float(loss)
            loss_n += 1
            tok_n += int(m.sum())
            if state["step"] % 50 == 0:
                dt = time.time() - t_log
                left = (total - state["step"]) * dt / loss_n
                log(f"epoch {epoch + 1} step {state['step']}/{total} loss {loss_sum / loss_n:.4f} "
                    f"lr {opt.param_groups[0]['lr']:.2e} {dt / loss_n:.2f}s/step {tok_n / dt:.0f} tok/s "
                    f"elapsed {state['elapsed'] / 60:.1f} min, ~{left / 60:.0f} min left")
                loss_sum, loss_n, tok_n, t_log = 0.0, 0, 0, time.time()
            if time.time() - last_ckpt > a.ckpt_minutes * 60:
                checkpoint()
                last_ckpt = time.time()
            k += 1
        if stopped and k == 0:
            break  # stopped at an epoch boundary: that epoch was evaluated already
        m_ = evaluate(model, dv_ids, dv_y, pad)
        m_["epoch"] = round(epoch + k / per_epoch, 3)
        m_["minutes"] = state["elapsed"] / 60
        state["history"].append(m_)
        log(f"epoch {m_['epoch']:g} dev accuracy {m_['accuracy']:.4f} f1 {m_['f1']:.4f} "
            f"precision {m_['precision']:.4f} recall {m_['recall']:.4f} (n={m_['n']})")
        if state["best"] is None or m_["accuracy"] > state["best"]["accuracy"]:
            state["best"] = m_
            save_atomic({"model": model.state_dict(), "config": cfg, "metrics": m_}, best_path)
            log(f"new best (epoch {m_['epoch']:g}) -> {best_path}")
        state["elapsed"] = elapsed0 + time.time() - t_run
        if stopped:
            state["done"] = True
            break
        checkpoint()
        last_ckpt = time.time()
    state["done"] = True
    checkpoint()
    log(f"training done: {state['step']} steps, {state['elapsed'] / 60:.1f} min; best {json.dumps(state['best'])}")
    with open(os.path.join(a.work, "history.json"), "w") as f:
        json.dump({"history": state["history"], "best": state["best"], "minutes": state["elapsed"] / 60,
                   "config": cfg, "args": state["args"]}, f, indent=1)
    if not a.no_export and state["best"] is not None:
        import export_model  # imported here so an edit made while training runs is picked up
        export_model.main(["--best", best_path, "--vocab", a.vocab, "--history",
                           os.path.join(a.work, "history.json"), "--dev", a.dev, "--out", a.out])
        log(f"exported to {a.out}")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:  # a missing or unreadable file: a message, not a traceback
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
