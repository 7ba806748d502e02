#!/usr/bin/python3
"""Unit tests of the training tools (small and CPU-cheap; no ../shared data).

Run: /usr/bin/python3 tools/test_tools.py   (exit 77 when torch is missing)
"""
import json
import os
import struct
import sys
import tempfile
import unittest

try:
    import torch
except ImportError:
    print("torch missing (use /usr/bin/python3): skipping")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bert_basic_tokenizer as bt  # noqa: E402
import distilbert_torch as dt  # noqa: E402
import export_model  # noqa: E402
import imdb_split  # noqa: E402
import safetensors_io as st  # noqa: E402
import wordpiece_vocab as wv  # noqa: E402

VOCAB = bt.SPECIALS + ["the", "movie", "was", "great", "un", "##aff", "##able", "!", ",", ".", "'", "s",
                       "it", "a", "##b", "b", "naive", "東", "x", "$", "3", "5", "hello", "world"]


class Tokenizer(unittest.TestCase):
    def setUp(self):
        self.t = bt.BertTokenizer({w: i for i, w in enumerate(VOCAB)})

    def ids(self, *toks):
        return [VOCAB.index(x) for x in toks]

    def test_basic_words(self):
        self.assertEqual(bt.basic_words("Héllo, WORLD!! It's 3.5$"),
                         ["hello", ",", "world", "!", "!", "it", "'", "s", "3", ".", "5", "$"])
        # controls dropped (zero-width space is Cf, so it joins), Unicode whitespace splits
        self.assertEqual(bt.basic_words("a\u200bb\x00c\ufffdd e\u2028f\u3000g\th"), ["abcd", "e", "f", "g", "h"])
        self.assertEqual(bt.basic_words("naïve 東京x ¿qué?"), ["naive", "東", "京", "x", "¿", "que", "?"])
        self.assertEqual(bt.basic_words("ÅNGSTRÖM ǅ"), ["angstrom", "ǆ"])
        self.assertEqual(bt.basic_words(" \n\r\t "), [])
        # private-use characters are dropped like HF does, unless asked (wordpiece_vocab --keep-private-use)
        self.assertEqual(bt.basic_words("a\ue000b \uf0b7"), ["ab"])
        self.assertEqual(bt.basic_words("a\ue000b \uf0b7", drop_private_use=False), ["a\ue000b", "\uf0b7"])

    def test_wordpiece(self):
        self.assertEqual(self.t.encode("unaffable!"), self.ids("[CLS]", "un", "##aff", "##able", "!", "[SEP]"))
        # an unmatchable rest makes the whole word [UNK], not a prefix of it
        self.assertEqual(self.t.encode("unaffz"), self.ids("[CLS]", "[UNK]", "[SEP]"))
        self.assertEqual(self.t.encode("abb"), self.ids("[CLS]", "a", "##b", "##b", "[SEP]"))
        # 100 chars still wordpieced, 101 -> [UNK]
        self.assertEqual(self.t.encode("a" + "b" * 99)[1:3], self.ids("a", "##b"))
        self.assertEqual(self.t.encode("a" + "b" * 100), self.ids("[CLS]", "[UNK]", "[SEP]"))
        self.assertEqual(self.t.encode(""), self.ids("[CLS]", "[SEP]"))

    def test_truncation_keeps_sep(self):
        ids = self.t.encode("the movie was great , the movie was great", max_len=5)
        self.assertEqual(ids, self.ids("[CLS]", "the", "movie", "was", "[SEP]"))
        self.assertEqual(self.t.encode("the movie", max_len=2), self.ids("[CLS]", "[SEP]"))

    def test_missing_special(self):
        with self.assertRaises(ValueError):
            bt.BertTokenizer({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2})


class Split(unittest.TestCase):
    def test_stable(self):
        ids = [f"train/pos/{i}_7.txt" for i in range(2000)]
        dev = [i for i in ids if imdb_split.is_dev(i)]
        self.assertTrue(150 < len(dev) < 250, len(dev))
        self.assertEqual(dev, [i for i in ids if imdb_split.is_dev(i)])
        # fixed value: the split must never change between Python runs or versions
        self.assertEqual(imdb_split.is_dev("train/pos/34_8.txt"), True)
        self.assertEqual(imdb_split.is_dev("train/pos/0_9.txt"), False)


class Vocab(unittest.TestCase):
    def test_learn(self):
        from collections import Counter
        counts = Counter({"lowest": 5, "lower": 6, "newest": 7, "widest": 3, "low": 10})
        v = wv.learn(counts, 240, min_char_count=1)
        self.assertEqual(v[:5], bt.SPECIALS)
        self.assertEqual(len(v), len(set(v)))
        self.assertIn("##est", v)
        self.assertIn("low", v)
        self.assertLessEqual(len(v), 240)
        t = bt.BertTokenizer({w: i for i, w in enumerate(v)})
        self.assertNotIn(t.unk, t.encode("lowest newest widest"))


class Safetensors(unittest.TestCase):
    def test_roundtrip(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            ts = {"a": torch.randn(3, 4), "b": torch.randn(5).half(), "c": torch.randn(2, 2).bfloat16(),
                  "e": torch.zeros(0, 3)}
            st.save(ts, p, {"format": "pt"})
            with open(p, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
            self.assertEqual(n % 8, 0)
            back, meta = st.load(p)
            self.assertEqual(meta, {"format": "pt"})
            for k in ts:
                self.assertEqual(back[k].dtype, ts[k].dtype)
                self.assertTrue(torch.equal(back[k], ts[k]), k)

    def bad(self, data):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.safetensors")
            with open(p, "wb") as f:
                f.write(data)
            with self.assertRaises(ValueError):
                st.load(p)

    def test_malformed(self):
        self.bad(b"\x01\x00")
        self.bad(struct.pack("<Q", 1000) + b"{}")
        h = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}).encode()
        self.bad(struct.pack("<Q", len(h)) + h + b"\x00" * 8)  # offsets disagree with shape
        h = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
        self.bad(struct.pack("<Q", len(h)) + h + b"\x00" * 8)  # past end of file
        h = json.dumps({"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}).encode()
        self.bad(struct.pack("<Q", len(h)) + h + b"\x00" * 8)  # unsupported dtype


class Model(unittest.TestCase):
    CFG = dict(vocab_size=50, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=16)

    def test_names(self):
        m = dt.DistilBertForSequenceClassification(self.CFG)
        names = set(m.state_dict())
        for n in ("distilbert.embeddings.word_embeddings.weight", "distilbert.embeddings.position_embeddings.weight",
                  "distilbert.embeddings.LayerNorm.weight", "distilbert.transformer.layer.1.attention.q_lin.weight",
                  "distilbert.transformer.layer.0.attention.out_lin.bias", "distilbert.transformer.layer.0.sa_layer_norm.bias",
                  "distilbert.transformer.layer.1.ffn.lin1.weight", "distilbert.transformer.layer.1.ffn.lin2.bias",
                  "distilbert.transformer.layer.1.output_layer_norm.weight", "pre_classifier.weight", "classifier.bias"):
            self.assertIn(n, names)
        self.assertEqual(len(names), 4 + 16 * 2 + 4)
        self.assertEqual(tuple(m.state_dict()["distilbert.transformer.layer.0.ffn.lin1.weight"].shape), (64, 32))

    def test_padding_is_invisible(self):
        torch.manual_seed(0)
        m = dt.DistilBertForSequenceClassification(self.CFG).eval()
        ids = torch.randint(5, 50, (1, 7))
        padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], 1)
        mask = torch.cat([torch.ones(1, 7), torch.zeros(1, 5)], 1)
        with torch.no_grad():
            self.assertTrue(torch.allclose(m(ids), m(padded, mask), atol=1e-5))

    def test_reference_maths(self):
        # One layer recomputed by hand from the weights: post-LN, q scaled by 1/sqrt(dh), erf GELU.
        torch.manual_seed(1)
        m = dt.DistilBertForSequenceClassification(self.CFG).eval()
        sd = m.state_dict()
        ids = torch.randint(0, 50, (1, 6))
        ln = torch.nn.functional.layer_norm
        x = sd["distilbert.embeddings.word_embeddings.weight"][ids[0]] + \
            sd["distilbert.embeddings.position_embeddings.weight"][:6]
        x = ln(x, (32,), sd["distilbert.embeddings.LayerNorm.weight"], sd["distilbert.embeddings.LayerNorm.bias"], 1e-12)
        for li in range(2):
            p = f"distilbert.transformer.layer.{li}."
            lin = lambda n, h: h @ sd[p + n + ".weight"].T + sd[p + n + ".bias"]  # noqa: E731
            q, k, v = (lin("attention." + n, x).view(6, 4, 8).transpose(0, 1) for n in ("q_lin", "k_lin", "v_lin"))
            a = torch.softmax(q @ k.transpose(1, 2) / 8 ** 0.5, -1) @ v
            h = lin("attention.out_lin", a.transpose(0, 1).reshape(6, 32)) + x
            h = ln(h, (32,), sd[p + "sa_layer_norm.weight"], sd[p + "sa_layer_norm.bias"], 1e-12)
            f = lin("ffn.lin1", h)
            f = lin("ffn.lin2", 0.5 * f * (1 + torch.erf(f / 2 ** 0.5))) + h
            x = ln(f, (32,), sd[p + "output_layer_norm.weight"], sd[p + "output_layer_norm.bias"], 1e-12)
        c = torch.relu(x[0] @ sd["pre_classifier.weight"].T + sd["pre_classifier.bias"])
        want = c @ sd["classifier.weight"].T + sd["classifier.bias"]
        with torch.no_grad():
            self.assertTrue(torch.allclose(m(ids)[0], want, atol=1e-5))

    def test_hf_config_roundtrip(self):
        c = dict(dt.DEFAULTS, **self.CFG)
        hc = export_model.hf_config(c)
        self.assertEqual(hc["architectures"], ["DistilBertForSequenceClassification"])
        self.assertEqual(hc["id2label"], {"0": "NEGATIVE", "1": "POSITIVE"})
        m = dt.DistilBertForSequenceClassification(hc)
        self.assertEqual(m.config["num_labels"], 2)
        self.assertEqual(m.distilbert.embeddings.position_embeddings.weight.shape[0], 16)


class DefaultModel(unittest.TestCase):
    """The committed models/default/ is self-consistent and loads strictly."""
    DIR = os.path.join(HERE, "..", "models", "default")

    def setUp(self):
        if not os.path.exists(os.path.join(self.DIR, "model.safetensors")):
            self.skipTest("models/default not exported yet")

    def test_consistent(self):
        with open(os.path.join(self.DIR, "config.json")) as f:
            c = json.load(f)
        with open(os.path.join(self.DIR, "tokenizer_config.json")) as f:
            tc = json.load(f)
        with open(os.path.join(self.DIR, "vocab.txt"), encoding="utf-8") as f:
            vocab = [line.rstrip("\n") for line in f]
        self.assertEqual(vocab[:5], bt.SPECIALS)
        self.assertEqual(len(vocab), c["vocab_size"])
        self.assertEqual(len(set(vocab)), len(vocab))
        self.assertEqual(tc["model_max_length"], c["max_position_embeddings"])
        self.assertTrue(tc["do_lower_case"])
        self.assertEqual(c["pad_token_id"], vocab.index("[PAD]"))
        self.assertLess(os.path.getsize(os.path.join(self.DIR, "model.safetensors")), 20e6)
        tensors, _ = st.load(os.path.join(self.DIR, "model.safetensors"))
        self.assertTrue(all(t.dtype == torch.float16 for t in tensors.values()))
        model, _ = export_model.load_exported(self.DIR)  # strict names and shapes
        tok = bt.BertTokenizer(os.path.join(self.DIR, "vocab.txt"))
        with torch.no_grad():
            pos = model(torch.tensor([tok.encode("This movie was absolutely amazing, I loved every minute of it!")]))
            neg = model(torch.tensor([tok.encode("A dull, boring waste of time. The worst film I have seen.")]))
        self.assertEqual(int(pos.argmax()), 1)
        self.assertEqual(int(neg.argmax()), 0)


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main(verbosity=1)
