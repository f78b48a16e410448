# Checks that a safetensors checkpoint written by the C++ engine opens with the reference Python
# package and loads into the PyTorch replica of the same network (load_state_dict, strict).
# The file is tests/data/safetensors/cpp_written.safetensors, which the C++ test
# SafetensorsTest.WritesTheInteropFile proves is what our writer produces today; to check a
# freshly written one, run that test with EBM_SAFETENSORS_INTEROP_OUT=/some/file.safetensors and
# pass the path here:
#   PYTHONPATH=/tmp/st /usr/bin/python3 tests/reference/check_safetensors_interop.py [PATH]
# (safetensors from pip: `pip install --target /tmp/st safetensors`; torch from Debian's
# python3-torch). Without the safetensors package it prints SKIP and exits 0; without torch it
# checks through numpy only. Every value follows pattern() below, as in the C++ test.
# make_safetensors_goldens.py imports Net and pattern_state_dict from here for the reverse
# direction (a PyTorch state_dict the C++ test loads).
import json
import os
import sys

try:
    import numpy as np
except ImportError:  # main() skips
    np = None

DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "safetensors",
                       "cpp_written.safetensors")


def pattern(name, n, integer=False):
    """The value of element i of tensor `name`: exact in F16, BF16, F32 and F64."""
    k = sum(name.encode()) % 97
    i = np.arange(n, dtype=np.int64)
    if integer:
        return i * 1000003 + k
    return (((i * 7 + k * 5) % 23) - 11).astype(np.float64) / 16.0


# name -> (dtype tag, shape) of the C++-written file.
MODEL = {
    "blocks.0.conv1.weight": ("F32", (8, 3, 3, 3)),
    "blocks.0.conv1.bias": ("F32", (8,)),
    "blocks.0.bn.weight": ("F32", (8,)),
    "blocks.0.bn.bias": ("F32", (8,)),
    "blocks.0.bn.running_mean": ("F32", (8,)),
    "blocks.0.bn.running_var": ("F32", (8,)),
    "blocks.0.bn.num_batches_tracked": ("I64", ()),
    "fc.weight": ("F32", (1, 32)),
    "fc.bias": ("F32", (1,)),
}
EXPECTED = dict(MODEL)
EXPECTED.update({"ema." + k: v for k, v in MODEL.items()})
EXPECTED.update({
    "optimizer.step": ("I64", ()),
    "optimizer.exp_avg.fc.weight": ("F64", (1, 32)),
    "rng.state": ("I64", (4,)),
    "half.f16": ("F16", (3,)),
    "half.bf16": ("BF16", (2, 2)),
    "buffer.empty": ("F32", (0, 4)),
})


def expected_values(name, dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    return pattern(name, n, integer=dtype == "I64").reshape(shape)


def torch_replica():
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block()])
            self.fc = nn.Linear(32, 1)

    return Net()


def pattern_state_dict(net):
    """Fills a replica's state_dict with pattern() values (for the reverse-direction golden)."""
    import torch
    sd = net.state_dict()
    out = {}
    for name, t in sd.items():
        v = expected_values(name, "I64" if t.dtype == torch.int64 else "F32", tuple(t.shape))
        out[name] = torch.from_numpy(np.array(v)).to(t.dtype)
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    try:
        from safetensors import safe_open
    except ImportError:
        print("SKIP: the safetensors Python package is not installed")
        return 0
    if np is None:
        print("SKIP: numpy is not installed")
        return 0
    # 1. numpy: metadata and every tensor numpy can hold (it has no bfloat16).
    np_dtypes = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64}
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
        names = set(f.keys())
        assert names == set(EXPECTED), f"names differ: {sorted(names ^ set(EXPECTED))}"
        for name, (dtype, shape) in EXPECTED.items():
            if dtype == "BF16":
                continue
            a = f.get_tensor(name)
            assert a.dtype == np_dtypes[dtype] and a.shape == shape, (name, a.dtype, a.shape)
            assert np.array_equal(a.astype(np.float64 if dtype != "I64" else np.int64),
                                  expected_values(name, dtype, shape)), name
    config = json.loads(meta["config"])
    assert meta["step"] == "1234" and config["sampler"]["steps"] == 60, meta
    print(f"numpy: {len(EXPECTED) - 1} tensors and metadata {sorted(meta)} match; config = {config}")
    # 2. torch: load_file, every tensor, then load_state_dict into the replica (model and EMA).
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError:
        print("torch not available: skipped the PyTorch part")
        return 0
    sd = load_file(path)
    tdt = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16,
           "BF16": torch.bfloat16, "I64": torch.int64}
    for name, (dtype, shape) in EXPECTED.items():
        t = sd[name]
        assert t.dtype == tdt[dtype] and tuple(t.shape) == shape, (name, t.dtype, t.shape)
        want = torch.from_numpy(np.array(expected_values(name, dtype, shape)))
        assert torch.equal(t.to(want.dtype), want), name
    for prefix in ("", "ema."):
        net = torch_replica()
        net.load_state_dict({k: sd[prefix + k] for k in MODEL}, strict=True)
        got = net.state_dict()
        assert all(torch.equal(got[k], sd[prefix + k]) for k in MODEL), prefix
        print(f"torch {torch.__version__}: load_state_dict(strict=True) of '{prefix}*' into the replica: ok")
    print(f"OK: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
