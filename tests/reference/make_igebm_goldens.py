# PyTorch goldens for the IGEBM networks (nn/igebm_models.h; replica: igebm_models.py), read by
# tests/cpu/test_igebm_models.cpp and tests/cuda/test_igebm_models_cuda.cpp. Run with Debian's
# interpreter (python3-torch 1.13 and the safetensors package; not the pyenv python3):
#   /usr/bin/python3 tests/reference/make_igebm_goldens.py
# Writes tests/data/models/igebm_<case>.safetensors, one small network each, and
# tests/data/models/igebm_counts.json (parameter and FLOP counts of the full-size networks).
#
# Each case: a network in a state away from its init (so every parameter matters: conv2 kernels
# both below and above the SN cap, gains != 1, biases != 0) with float32-representable weights,
# u, v and input x; then, in float64: E = f(x, y), ∇ₓ ΣE, and the gradient of every parameter
# of the loss ΣE + ΣE². Eval cases use the stored u, v (no power iteration); the train case runs
# one (u, v after it are stored too). Tensors: state.<name> (F32, state_dict), x (F32), labels
# (I64), energy, grad_x, grad.<name>, after.<name> (F64). __metadata__["config"] is JSON with the
# options, mode and the state_dict and parameter name lists in order.
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import igebm_models as M  # noqa: E402

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "models"))
torch.set_default_dtype(torch.float64)

# Pre-activations closer than this (relative to their RMS) to a ReLU/LeakyReLU kink could land on
# the other side in the float32 C++ run (its relative error is ~1e-6): such a seed is skipped.
KINK_MARGIN = 1e-5
# conv2 kernels are drawn either well below the capped SN's threshold (σ ≈ 0.1: raw kernel) or
# well above it (σ ≈ 5: W/σ); |σ + 1e-6 - 1| must stay above this.
CAP_MARGIN = 0.2


def perturb(model, gen):
    """A 'trained-looking' state: every parameter away from its init value."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("conv2.weight_orig"):
                block = int(name.split(".")[1])
                std = 0.01 if block % 2 == 0 else 0.5
                p.copy_(torch.randn(p.shape, generator=gen) * std)
            elif name.endswith("weight_orig"):
                p.copy_(torch.randn(p.shape, generator=gen))
            elif name.endswith(("gb1", "gb2", "cb2")):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            elif name.endswith("g2"):
                p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.3)
            elif name == "fc.bias":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            # fc.weight keeps its Xavier-uniform draw


def power_iterations(model, x, labels, n):
    """n rounds of the SN power iteration through training-mode forwards (dropout held off)."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    with torch.no_grad():
        for _ in range(n):
            model(x, labels)
    model.eval()


def round_to_float32(model):
    with torch.no_grad():
        for t in model.state_dict().values():
            t.copy_(t.float().double())


def check_caps(model):
    for name, m in model.named_modules():
        if isinstance(m, M.CappedSNConv2d):
            wm = m.weight_orig.detach().reshape(m.weight_orig.shape[0], -1)
            s = torch.dot(m.weight_u, torch.mv(wm, m.weight_v)).item() + 1e-6
            assert abs(s - 1.0) > CAP_MARGIN, f"{name}: σ' = {s} too close to the cap"


class KinkProbe:
    """Records min |z|/rms(z) over every ReLU/LeakyReLU input while active."""

    def __enter__(self):
        self.worst = float("inf")
        self.saved = (F.relu, F.leaky_relu)
        relu, leaky = self.saved

        def track(z):
            rms = z.detach().pow(2).mean().sqrt().item()
            if rms > 0:
                self.worst = min(self.worst, z.detach().abs().min().item() / rms)

        def relu_p(z, *a, **k):
            track(z)
            return relu(z, *a, **k)

        def leaky_p(z, *a, **k):
            track(z)
            return leaky(z, *a, **k)

        M.F.relu, M.F.leaky_relu = relu_p, leaky_p
        return self

    def __exit__(self, *exc):
        M.F.relu, M.F.leaky_relu = self.saved


def make_case(case, name, options, batch, mode, pre_iterations, seed):
    arch = M.architecture(name, **options)
    for attempt in range(50):
        s = seed + 1000 * attempt
        torch.manual_seed(s)
        gen = torch.Generator().manual_seed(s)
        model = M.IgebmResNet(arch).double()
        perturb(model, gen)
        x = torch.rand(batch, arch["in_channels"], arch["image_size"], arch["image_size"], generator=gen)
        x = x.float().double()
        labels = (torch.randint(0, arch["num_classes"], (batch,), generator=gen)
                  if arch["num_classes"] > 0 else None)
        power_iterations(model, x, labels, pre_iterations)
        round_to_float32(model)
        check_caps(model)
        state = {k: v.clone() for k, v in model.state_dict().items()}

        if mode == "train":
            model.train()
        else:
            model.eval()
        xg = x.clone().requires_grad_()
        with KinkProbe() as probe:
            energy = model(xg, labels)
        if probe.worst > KINK_MARGIN:
            break
        print(f"  {case}: seed {s} has a pre-activation {probe.worst:.1e}·rms from a kink; next")
    else:
        raise RuntimeError(f"{case}: no seed kept every pre-activation away from the kinks")

    grad_x, = torch.autograd.grad(energy.sum(), xg, retain_graph=True)
    loss = energy.sum() + energy.pow(2).sum()
    params = list(model.named_parameters())
    grads = torch.autograd.grad(loss, [p for _, p in params])

    tensors = {"state." + k: v.float().contiguous() for k, v in state.items()}
    tensors["x"] = x.float().contiguous()
    if labels is not None:
        tensors["labels"] = labels.contiguous()
    tensors["energy"] = energy.detach().contiguous()
    tensors["grad_x"] = grad_x.contiguous()
    for (k, _), g in zip(params, grads):
        tensors["grad." + k] = g.contiguous()
    if mode == "train":
        for k, v in model.state_dict().items():
            if k.endswith(("weight_u", "weight_v")):
                tensors["after." + k] = v.clone().contiguous()

    config = dict(model=name, mode=mode, seed=s, batch=batch, loss="sum(E) + sum(E^2)",
                  pre_iterations=pre_iterations, **options,
                  state_dict=list(state.keys()), parameters=[k for k, _ in params])
    path = os.path.join(OUT, f"igebm_{case}.safetensors")
    save_file(tensors, path, metadata={"config": json.dumps(config)})
    print(f"{path}: {os.path.getsize(path) / 1024:.0f} KiB, E = {energy.detach().tolist()}, "
          f"kink margin {probe.worst:.1e}")


def counts():
    """Conv-weight, parameter and forward-FLOP counts of the full-size networks (float32)."""
    torch.set_default_dtype(torch.float32)
    nets = {
        "resnet32": ("resnet32", dict()),
        "resnet32_large": ("resnet32_large", dict()),
        "resnet32_wider": ("resnet32_wider", dict()),
        "resnet32_wider_256_imagenet": ("resnet32_wider", dict(num_filters=256, num_classes=1000)),
        "resnet32_small": ("resnet32_small", dict()),
        "resnet32_small_fashion_mnist": ("resnet32_small", dict(in_channels=1, num_classes=0)),
    }
    out = {}
    for key, (name, options) in nets.items():
        torch.manual_seed(0)
        model = M.make_igebm_model(name, **options).eval()
        arch = model.arch
        x = torch.zeros(1, arch["in_channels"], arch["image_size"], arch["image_size"])
        labels = torch.zeros(1, dtype=torch.long) if arch["num_classes"] > 0 else None
        out[key] = dict(model=name, options=options,
                        conv_weights=M.conv_weight_count(model),
                        num_parameters=sum(p.numel() for p in model.parameters()),
                        forward_flops=M.forward_flops(model, x, labels),
                        state_dict=list(model.state_dict().keys()))
        print(f"{key}: {out[key]['conv_weights']} conv weights, {out[key]['num_parameters']} "
              f"parameters, {out[key]['forward_flops'] / 1e9:.4f} GFLOP")
    torch.set_default_dtype(torch.float64)
    path = os.path.join(OUT, "igebm_counts.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    small = dict(num_filters=6, num_classes=3)
    make_case("small_cond3_c3_eval", "resnet32_small", dict(in_channels=3, **small), 2, "eval", 6, 11)
    make_case("small_cond3_c1_eval", "resnet32_small", dict(in_channels=1, **small), 2, "eval", 6, 12)
    make_case("small_cond3_c3_train", "resnet32_small", dict(in_channels=3, **small), 2, "train", 1, 13)
    make_case("large_uncond_c3_eval", "resnet32_large", dict(num_filters=3, num_classes=0), 2, "eval", 6, 14)
    make_case("large_cond3_c1_eval", "resnet32_large", dict(in_channels=1, num_filters=2, num_classes=3), 2, "eval", 6, 15)
    make_case("wider_cond3_c3_eval", "resnet32_wider", dict(num_filters=2, num_classes=3), 2, "eval", 6, 16)
    counts()


if __name__ == "__main__":
    main()
