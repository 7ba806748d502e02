#!/usr/bin/python3
"""Learn a WordPiece vocabulary (vocab.txt) from the TRAIN split only.

Method: byte-pair-style merges on pre-tokenized words, the same scheme as the
HF `tokenizers` WordPieceTrainer (which runs a BPE trainer with the '##'
continuation prefix).  Every word is the sequence of its characters, the
first plain and the rest '##'-prefixed; the most frequent adjacent pair of
symbols (counted over word frequencies) is merged into one new symbol, until
the vocabulary has the requested size.  Encoding then uses WordPiece's greedy
longest match (bert_basic_tokenizer.py), like BERT.

Words are produced by the exact normalizer/pre-tokenizer the model sees at
inference (bert_basic_tokenizer.basic_words), so no learned piece is
unreachable.  Characters seen fewer than --min-char-count times are left out
of the alphabet (words holding them encode to [UNK]); printable ASCII is
always in, in both forms (that includes the 52 uppercase-letter entries, which
lowercased input never reaches; kept so the shipped vocabulary stays
reproducible by this script).

Vocabulary size: 16000 by default.  Compute at training time is dominated by
sequence length, not by the embedding table, so a larger vocabulary makes
reviews shorter (more of each review fits in the trained length) and gives
frequent sentiment words ("wonderful", "worst", "waste") their own embedding;
16000 x dim 128 fp16 is only 4 MB.  Much beyond that, pieces get too few
training occurrences in 22k reviews to learn useful embeddings from scratch.

Usage: /usr/bin/python3 tools/wordpiece_vocab.py [--train tools/work/train.jsonl]
       [--size 16000] [--out tools/work/vocab.txt]
"""
import argparse
import collections
import heapq
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_basic_tokenizer import SPECIALS, basic_words  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def count_words(path, drop_private_use=True):
    counts = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            counts.update(basic_words(json.loads(line)["text"], drop_private_use))
    return counts


def learn(counts, size, min_char_count=5):
    chars = collections.Counter()
    for w, c in counts.items():
        for ch in w:
            chars[ch] += c
    alphabet = {ch for ch, c in chars.items() if c >= min_char_count}
    alphabet |= {chr(c) for c in range(0x21, 0x7F)}
    vocab = list(SPECIALS)
    seen = set(vocab)
    for ch in sorted(alphabet):
        for t in (ch, "##" + ch):
            if t not in seen:
                seen.add(t)
                vocab.append(t)

    words, freqs = [], []
    for w, c in sorted(counts.items()):
        if all(ch in alphabet for ch in w):
            words.append([w[0]] + ["##" + ch for ch in w[1:]])
            freqs.append(c)

    pair_count = collections.defaultdict(int)
    pair_where = collections.defaultdict(set)
    for i, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += freqs[i]
            pair_where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)

    while len(vocab) < size and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc or negc == 0:
            continue  # stale heap entry
        a, b = pair
        new = a + b[2:]
        if new not in seen:
            seen.add(new)
            vocab.append(new)
        changed = set()
        for i in list(pair_where[pair]):
            syms, f = words[i], freqs[i]
            for x, y in zip(syms, syms[1:]):
                pair_count[(x, y)] -= f
                changed.add((x, y))
            merged, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                    merged.append(new)
                    j += 2
                else:
                    merged.append(syms[j])
                    j += 1
            for x, y in zip(syms, syms[1:]):
                pair_where[(x, y)].discard(i)
            for x, y in zip(merged, merged[1:]):
                pair_count[(x, y)] += f
                pair_where[(x, y)].add(i)
                changed.add((x, y))
            words[i] = merged
        for p in changed:
            c = pair_count[p]
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                pair_count.pop(p, None)
                pair_where.pop(p, None)
    return vocab


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default=os.path.join(HERE, "work", "train.jsonl"))
    ap.add_argument("--size", type=int, default=16000)
    ap.add_argument("--min-char-count", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "work", "vocab.txt"))
    ap.add_argument("--keep-private-use", action="store_true",
                    help="count private-use (Co) characters as word characters, as the tokenizer did when "
                         "models/default/vocab.txt was made; the tokenizer now drops them like HF, so this only "
                         "adds unreachable entries and exists to reproduce that vocabulary byte for byte")
    a = ap.parse_args(argv)
    t0 = time.time()
    counts = count_words(a.train, not a.keep_private_use)
    print(f"{len(counts)} distinct words, {sum(counts.values())} total ({time.time() - t0:.1f}s)")
    vocab = learn(counts, a.size, a.min_char_count)
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for t in vocab:
            f.write(t + "\n")
    os.replace(tmp, a.out)
    print(f"wrote {len(vocab)} tokens to {a.out} ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    try:
        main()
    except (OSError, EOFError) as e:  # a missing or unreadable file: a message, not a traceback
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
