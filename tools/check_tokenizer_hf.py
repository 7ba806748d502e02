#!/usr/bin/python3
"""Check bert_basic_tokenizer.py against Hugging Face's JS tokenizer.

Builds a BERT-style tokenizer.json (BertNormalizer lowercase, BertPreTokenizer,
WordPiece, [CLS] A [SEP]) around VOCAB, encodes every text of the given JSONL
files (plus a few hard strings) with @huggingface/tokenizers under node (from
tests/tokenizer/node_modules; run `npm ci --prefix tests/tokenizer` first) and
with the Python tokenizer, and reports every difference (exit 1 if any).
Exit 77 when node or the npm package is missing.

Known difference, left out of the hard strings: CJK ideographs outside the
BMP (U+20000..) get spaces around them in the Rust `tokenizers` crate and
here, but not in the JS package 0.2.0 (it tests UTF-16 code units).

Usage: /usr/bin/python3 tools/check_tokenizer_hf.py VOCAB FILE.jsonl...
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bert_basic_tokenizer import BertTokenizer, SPECIALS  # noqa: E402

NODE_MODULES = os.path.join(HERE, "..", "tests", "tokenizer", "node_modules")
HARD = ["Héllo, WORLD!! It's 3.5$ — naïve", "東京タワー 京x", "a\u200bb\u00adc\ufeffd", "tab\there\nnew\r\n",
        "\u0000nul \ufffd rep \ue000 pua", "ǅ İstanbul ΣΊΣΥΦΟΣ Ångström ﬁ", "x" * 101, "a" * 100,
        "¿qué? «ok» 1,000.5% #tag @user <br /><br />", "\u2028line\u2029para\u00a0nbsp\u3000ideo"]

JS = r"""
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";
const tj = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const tok = new Tokenizer(tj, {do_lower_case: true, model_max_length: 1000000});
const lines = fs.readFileSync(process.argv[3], "utf8").split("\n").filter(l => l.length);
const out = lines.map(l => JSON.stringify(tok.encode(JSON.parse(l)).ids));
fs.writeFileSync(process.argv[4], out.join("\n") + "\n");
"""


def tokenizer_json(vocab):
    ids = {t: i for i, t in enumerate(vocab)}
    sp = lambda t: {"id": t, "ids": [ids[t]], "tokens": [t]}  # noqa: E731
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in SPECIALS],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}},
                                    {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                           "special_tokens": {"[CLS]": sp("[CLS]"), "[SEP]": sp("[SEP]")}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(NODE_MODULES, "@huggingface", "tokenizers")):
        print("node or @huggingface/tokenizers missing: skipping")
        sys.exit(77)
    with open(sys.argv[1], encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    texts = list(HARD)
    for p in sys.argv[2:]:
        with open(p, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    tok = BertTokenizer({t: i for i, t in enumerate(vocab)})
    # The script must sit beside node_modules' parent for the bare import to resolve.
    with tempfile.TemporaryDirectory(dir=os.path.dirname(NODE_MODULES)) as d:
        js, tj, inp, outp = (os.path.join(d, n) for n in ("c.mjs", "tokenizer.json", "in.jsonl", "out.jsonl"))
        with open(js, "w") as f:
            f.write(JS)
        with open(tj, "w") as f:
            json.dump(tokenizer_json(vocab), f)
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps(t) + "\n")
        subprocess.run([node, js, tj, inp, outp], check=True)
        with open(outp) as f:
            ref = [json.loads(line) for line in f]
    bad = 0
    for t, r in zip(texts, ref):
        mine = [tok.cls] + tok.tokenize_ids(t) + [tok.sep]
        if mine != r:
            bad += 1
            if bad <= 5:
                print(f"MISMATCH {t[:80]!r}\n  py {mine[:40]}\n  js {r[:40]}")
    print(f"{len(texts) - bad}/{len(texts)} texts identical")
    sys.exit(1 if bad or len(ref) != len(texts) else 0)


if __name__ == "__main__":
    main()
