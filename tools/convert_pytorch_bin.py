#!/usr/bin/python3
"""Convert a Hugging Face pytorch_model.bin checkpoint to model.safetensors.

vkbert reads only safetensors: a .bin file is a Python pickle, and unpickling
can run arbitrary code.  This tool loads it with torch.load(weights_only=True),
which refuses anything but tensors and plain containers, and writes every
tensor with its dtype unchanged (8-byte little-endian header length, JSON
header padded to 8 bytes, then the data).  Tied tensors are written once per
name.  Usage:

    /usr/bin/python3 tools/convert_pytorch_bin.py MODEL_DIR [--out FILE] [--force]
"""
import argparse
import json
import os
import sys

try:
    import torch
except ImportError as _e:  # a message, not a traceback
    sys.exit("%s: needs PyTorch (Debian: apt-get install python3-torch): %s"
             % (os.path.basename(__file__), _e))

DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}


def tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: same bits as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def convert(src, dst):
    state = torch.load(src, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{src}: expected a dict of tensors, got {type(state).__name__}")
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(state):
        t = state[name]
        if not isinstance(name, str) or not torch.is_tensor(t):
            raise ValueError(f"{src}: entry {name!r} is not a named tensor")
        if t.dtype not in DTYPES:
            raise ValueError(f"{src}: tensor {name!r}: dtype {t.dtype} has no safetensors equivalent")
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # data section 8-byte aligned
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, dst)
    return len(blobs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", help="directory holding pytorch_model.bin")
    ap.add_argument("--out", help="output file (default MODEL_DIR/model.safetensors)")
    ap.add_argument("--force", action="store_true", help="overwrite an existing output file")
    a = ap.parse_args()
    if sys.byteorder != "little":
        sys.exit("convert_pytorch_bin: only little-endian hosts are supported")
    src = os.path.join(a.model_dir, "pytorch_model.bin")
    dst = a.out or os.path.join(a.model_dir, "model.safetensors")
    if os.path.exists(dst) and not a.force:
        sys.exit(f"convert_pytorch_bin: {dst} exists (use --force to overwrite)")
    try:
        n = convert(src, dst)
    except Exception as e:  # unpickling errors, bad entries: one clear line
        sys.exit(f"convert_pytorch_bin: {src}: {e}")
    print(f"wrote {dst}: {n} tensors")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:  # a missing or unreadable file: a message, not a traceback
        sys.exit("%s: %s" % (os.path.basename(__file__), e))
