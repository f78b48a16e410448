# Writes the safetensors goldens of tests/cpu/test_safetensors.cpp into tests/data/safetensors/
# with the reference writer (the `safetensors` Python package, Rust inside), so the C++ reader is
# tested on files it did not write and the C++ writer must reproduce them byte for byte.
# Run from the repository root with an interpreter that has safetensors, numpy and torch, e.g.
#   pip install --target /tmp/st safetensors   (the package is not in Debian)
#   PYTHONPATH=/tmp/st /usr/bin/python3 tests/reference/make_safetensors_goldens.py
# The values below are spelled out again in the test (torch_module's follow pattern() of
# check_safetensors_interop.py). Each file has at most one metadata key:
# the reference keeps __metadata__ in a hash map, so the order of several keys is not stable.
import os
import sys

import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "safetensors")
os.makedirs(OUT, exist_ok=True)

# float32, float64 0-d, int64, an empty float32, and a config string that needs escapes
# (quotes, a newline, a tab, a control character) and holds non-ASCII text.
tiny = {
    "net.weight": np.array([[0.5, -1.25, 3.0], [1e-3, 7.0, -0.0]], dtype="<f4"),
    "net.bias": np.array([1.0, -2.0], dtype="<f4"),
    "ema.scale": np.array(3.141592653589793, dtype="<f8"),
    "step": np.array([1234567890123], dtype="<i8"),
    "buffer.empty": np.zeros((0, 3), dtype="<f4"),
}
config = '{"lr": 0.0001, "name": "igebm \u00e9\u6f22", "note": "a \\"b\\"\\n\tc\u0001"}'
save_file(tiny, os.path.join(OUT, "tiny.safetensors"), metadata={"config": config})

# No tensors, no metadata: the smallest valid file.
save_file({}, os.path.join(OUT, "empty.safetensors"))

# Half types through torch (numpy has no bfloat16); values exact in both.
try:
    import torch
    from safetensors.torch import save_file as torch_save_file

    half = {
        "h": torch.tensor([1.0, -0.5, 65504.0], dtype=torch.float16),
        "bf": torch.tensor([[1.0, -2.0], [0.15625, 3.0e38]], dtype=torch.bfloat16),
        "x": torch.tensor([2.0], dtype=torch.float32),
    }
    torch_save_file(half, os.path.join(OUT, "half.safetensors"))

    # The reverse direction of the interop check: a PyTorch replica's state_dict (conv OIHW,
    # BatchNorm with its int64 num_batches_tracked, linear), values from pattern(), metadata as
    # Hugging Face writes it. The C++ test loads it with the checked loader.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from check_safetensors_interop import pattern_state_dict, torch_replica

    torch_save_file(pattern_state_dict(torch_replica()), os.path.join(OUT, "torch_module.safetensors"),
                    metadata={"format": "pt"})
except ImportError:
    print("torch not found: half.safetensors not rewritten")

print("wrote", sorted(os.listdir(OUT)))
