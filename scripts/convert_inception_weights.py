#!/usr/bin/env python3
"""Converts pytorch-fid's FID Inception weights (pt_inception-2015-12-05-6726825d.pth, the 2015 TF
graph ported to PyTorch; ../shared/specs/formats.md §3.1) into the safetensors file that the
engine's FidInceptionV3 loads (eval/inception.h). No package ships the weights: download the .pth
yourself, e.g. from pytorch-fid's GitHub release "fid_weights" (torch-fidelity hosts the same
tensors as weights-inception-2015-12-05-6726825d.pth), then run, with Debian's interpreter and
torch + safetensors (scripts/install-deps.sh --torch):

    /usr/bin/python3 scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth \\
        inception-2015-12-05.safetensors

The state_dict names are kept as they are (torchvision's Inception3 names: Conv2d_1a_3x3.conv.weight,
Mixed_5b.branch1x1.bn.running_mean, ..., fc.weight [1008, 2048]); every name and shape is checked
against tests/data/eval/fid_inception_names.json (the names and shapes of pytorch-fid's network,
made by the replica tests/reference/fid_inception.py); BatchNorm's num_batches_tracked counters
are dropped (eval mode never reads them) and every tensor is written as contiguous float32.
Prints the SHA-256 of the input and of the output: the engine records the latter in eval.json.
"""
import argparse
import hashlib
import json
import os
import sys

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = os.path.join(HERE, "..", "tests", "data", "eval", "fid_inception_names.json")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="pytorch-fid's pt_inception-2015-12-05-*.pth")
    ap.add_argument("output", help="the safetensors file to write")
    ap.add_argument("--names", default=NAMES, help="names and shapes to check against (default: %(default)s)")
    args = ap.parse_args()

    state = torch.load(args.input, map_location="cpu")
    if not isinstance(state, dict):
        sys.exit(f"{args.input}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    state = {k: v for k, v in state.items() if not k.endswith(".num_batches_tracked")}

    with open(args.names) as f:
        expected = [(n, s) for n, s in json.load(f)["state_dict"] if not n.endswith(".num_batches_tracked")]
    problems = []
    for name, shape in expected:
        if name not in state:
            problems.append(f"missing: {name} {shape}")
        elif list(state[name].shape) != shape:
            problems.append(f"shape: {name} is {list(state[name].shape)}, expected {shape}")
    known = {n for n, _ in expected}
    problems += [f"unexpected: {n}" for n in state if n not in known]
    if problems:
        sys.exit(f"{args.input} is not pytorch-fid's FID Inception state_dict:\n  " + "\n  ".join(problems))

    out = {name: state[name].detach().to(torch.float32).contiguous() for name, _ in expected}
    input_sha = sha256(args.input)
    save_file(out, args.output, metadata={
        "network": "pytorch-fid FID Inception v3 (inception-2015-12-05)",
        "source_file": os.path.basename(args.input),
        "source_sha256": input_sha,
        "converter": "scripts/convert_inception_weights.py",
    })
    print(f"input  {args.input}  sha256 {input_sha}")
    print(f"output {args.output}  sha256 {sha256(args.output)}")
    print(f"{len(out)} tensors, {sum(t.numel() for t in out.values())} values (float32)")


if __name__ == "__main__":
    main()
