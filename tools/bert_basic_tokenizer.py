#!/usr/bin/python3
"""Python re-implementation of HF BertTokenizerFast (uncased) encoding.

Used by the training tools so that the built-in model is trained on exactly
the ids the C tokenizer (loader/) produces.  Pipeline, as in the `tokenizers`
crate's BertNormalizer + BertPreTokenizer + WordPiece + BertProcessing:

 1. clean text: drop U+0000, U+FFFD and control characters (Unicode Cc, Cf,
    Co, Cs, except \\t \\n \\r, as HF's JS BertNormalizer does); every
    whitespace character becomes ' ';
 2. put spaces around CJK ideographs;
 3. lowercase, then strip accents (NFD, drop Mn), in the order of HF's JS
    tokenizer and of the original BERT code (the Rust crate strips first; no
    character is known where the order changes the result);
 4. split on whitespace, and isolate every punctuation character (ASCII
    !-/ :-@ [-` {-~ plus Unicode P* categories);
 5. WordPiece: greedy longest match, continuation pieces prefixed '##'; a word
    longer than 100 characters or with an unmatchable rest becomes [UNK];
 6. [CLS] pieces [SEP], truncated to max_len keeping the final [SEP].
"""
import re
import sys
import unicodedata

MAX_WORD_CHARS = 100
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# ASCII punctuation: BERT treats all of these as punctuation even where Unicode
# says symbol (e.g. $ + < = > ^ ` | ~).
_ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_ASCII_WORD_RE = re.compile(r"[!-/:-@\[-`{-~]|[^\s!-/:-@\[-`{-~]+")
# ASCII control characters other than \t \n \r (all Cc) are removed.
_ASCII_CTRL = {c: None for c in range(0x20) if c not in (9, 10, 13)}
_ASCII_CTRL[0x7F] = None
_ASCII_WS_RE = re.compile(r"[\t\n\r]")


def is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or
            0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F or
            0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def is_control(ch: str, private_use=True) -> bool:
    if ch in "\t\n\r":
        return False
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cf", "Cs") or (private_use and cat == "Co")


def is_whitespace(ch: str) -> bool:
    # \t \n \r are Cc but count as whitespace; the rest is Unicode White_Space
    # (str.isspace covers Zs, Zl, Zp and the ASCII ones).
    return ch in " \t\n\r" or ch.isspace()


def is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize(text: str, drop_private_use=True) -> str:
    """Steps 1-3; the result is split by pre_tokenize.  drop_private_use=False
    keeps Co characters: only for wordpiece_vocab.py --keep-private-use."""
    if text.isascii():
        # Fast path: no accents, CJK or Unicode whitespace/punctuation.
        return _ASCII_WS_RE.sub(" ", text.translate(_ASCII_CTRL)).lower()
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch, drop_private_use):
            continue
        if is_whitespace(ch):
            out.append(" ")
        elif is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    s = unicodedata.normalize("NFD", "".join(out).lower())
    return "".join(c for c in s if unicodedata.category(c) != "Mn")


def pre_tokenize(norm: str):
    """Step 4 on normalized text: list of words and single punctuation chars."""
    if norm.isascii():
        return _ASCII_WORD_RE.findall(norm)
    words, cur = [], []
    for ch in norm:
        if is_whitespace(ch):
            if cur:
                words.append("".join(cur))
                cur = []
        elif is_punct(ch):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


def basic_words(text: str, drop_private_use=True):
    return pre_tokenize(normalize(text, drop_private_use))


def load_vocab(path: str):
    with open(path, encoding="utf-8") as f:
        toks = [line.rstrip("\n") for line in f]
    while toks and toks[-1] == "":
        toks.pop()
    return {t: i for i, t in enumerate(toks)}


class BertTokenizer:
    def __init__(self, vocab, max_len=512):
        self.vocab = load_vocab(vocab) if isinstance(vocab, str) else dict(vocab)
        self.max_len = max_len
        for s in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"):
            if s not in self.vocab:
                raise ValueError(f"vocab lacks {s}")
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.pad = self.vocab["[PAD]"]
        self._cache = {}

    def wordpiece(self, word: str):
        """Ids of one pre-tokenized word (step 5)."""
        r = self._cache.get(word)
        if r is not None:
            return r
        if len(word) > MAX_WORD_CHARS:
            r = [self.unk]
        else:
            r, start, n, v = [], 0, len(word), self.vocab
            while start < n:
                end, found = n, None
                while start < end:
                    sub = word[start:end] if start == 0 else "##" + word[start:end]
                    found = v.get(sub)
                    if found is not None:
                        break
                    end -= 1
                if found is None:
                    r = [self.unk]
                    break
                r.append(found)
                start = end
        if len(self._cache) < 1_000_000:
            self._cache[word] = r
        return r

    def tokenize_ids(self, text: str):
        """Word-piece ids of text, no specials, no truncation."""
        ids = []
        for w in basic_words(text):
            ids.extend(self.wordpiece(w))
        return ids

    def encode(self, text: str, max_len=None):
        """[CLS] ids [SEP], truncated to max_len keeping [SEP] (step 6)."""
        m = self.max_len if max_len is None else max_len
        ids = self.tokenize_ids(text)[: max(m - 2, 0)]
        return [self.cls] + ids + [self.sep]


if __name__ == "__main__":
    # Usage: bert_basic_tokenizer.py VOCAB [TEXT...]: prints ids, one text a line
    # (texts from stdin when none are given).
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit("usage: bert_basic_tokenizer.py VOCAB [TEXT...]  (texts from stdin when none)")
    try:
        tok = BertTokenizer(sys.argv[1])
    except (OSError, UnicodeDecodeError) as e:
        sys.exit("bert_basic_tokenizer.py: %s: %s" % (sys.argv[1], e))
    texts = sys.argv[2:] or [line.rstrip("\n") for line in sys.stdin]
    inv = {i: t for t, i in tok.vocab.items()}
    for t in texts:
        ids = tok.encode(t)
        print(" ".join(map(str, ids)), "\t", " ".join(inv[i] for i in ids))
