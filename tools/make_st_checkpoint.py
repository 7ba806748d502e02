#!/usr/bin/python3
"""Turns a DistilBERT checkpoint directory into a sentence-transformers
model directory: copies config.json, model.safetensors, vocab.txt and
tokenizer_config.json from SRC to OUT and writes the files
sentence-transformers saves for a Transformer -> Pooling [-> Normalize]
pipeline:

  modules.json               the modules, in order
  1_Pooling/config.json      word_embedding_dimension and the pooling_mode_* flags
  sentence_bert_config.json  max_seq_length
  2_Normalize/               (empty) with --normalize

`vkbert embed` takes its default pooling and normalization from these files.

Usage: /usr/bin/python3 tools/make_st_checkpoint.py SRC OUT --pooling cls [--normalize]
"""
import argparse
import json
import os
import shutil
import sys

FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json")
ST = "sentence_transformers.models."


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--pooling", choices=("mean", "cls", "max"), default="mean")
    ap.add_argument("--normalize", action="store_true")
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "1_Pooling"), exist_ok=True)
    for f in FILES:
        if os.path.exists(os.path.join(a.src, f)):
            shutil.copyfile(os.path.join(a.src, f), os.path.join(a.out, f))
    with open(os.path.join(a.src, "config.json")) as f:
        cfg = json.load(f)
    modules = [{"idx": 0, "name": "0", "path": "", "type": ST + "Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": ST + "Pooling"}]
    if a.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": ST + "Normalize"})
        os.makedirs(os.path.join(a.out, "2_Normalize"), exist_ok=True)
        # git keeps no empty folders; sentence-transformers needs none inside
        open(os.path.join(a.out, "2_Normalize", ".keep"), "w").close()
    with open(os.path.join(a.out, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
        f.write("\n")
    pool = {"word_embedding_dimension": cfg["dim"],
            "pooling_mode_cls_token": a.pooling == "cls",
            "pooling_mode_mean_tokens": a.pooling == "mean",
            "pooling_mode_max_tokens": a.pooling == "max",
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True}
    with open(os.path.join(a.out, "1_Pooling", "config.json"), "w") as f:
        json.dump(pool, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": cfg["max_position_embeddings"], "do_lower_case": False}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
