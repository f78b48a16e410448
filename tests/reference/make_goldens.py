# PyTorch goldens for tests/cpu/test_goldens.cpp. Run from anywhere with Debian's interpreter
# (python3-torch, python3-numpy; not the pyenv python3 first on PATH):
#   /usr/bin/python3 tests/reference/make_goldens.py
# Each case computes a small composite of the engine's ops in float64 with a fixed seed and writes
# its inputs, scalar output ("out.npy") and gradients ("grad_<input>.npy") into
# tests/data/goldens/<case>/. The C++ test rebuilds the same graph with ebm and compares.
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "goldens"))
torch.set_default_dtype(torch.float64)


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale).requires_grad_()


def save(case, arrays):
    d = os.path.join(ROOT, case)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if old.endswith(".npy"):
            os.remove(os.path.join(d, old))
    for name, a in arrays.items():
        a = a.detach().numpy() if torch.is_tensor(a) else a
        assert a.dtype in (np.float64, np.int64), (case, name, a.dtype)
        np.save(os.path.join(d, name + ".npy"), a.copy(order="C"))  # keeps 0-d arrays 0-d


def grads(out, inputs):
    return torch.autograd.grad(out, list(inputs.values()))


def away_from_kink(t, margin, what):
    # leaky_relu's derivative jumps at 0: keep every pre-activation far enough from it that the
    # float32 run of the C++ test sees the same side (its conv error is ~1e-6).
    m = t.detach().abs().min().item()
    assert m > margin, f"{what}: a pre-activation is {m:.2e} from the kink; change the seed"


def conv_lrelu_pool():
    torch.manual_seed(1)
    p = {"x": randn(2, 3, 8, 8), "w": randn(4, 3, 3, 3, scale=0.3), "b": randn(4, scale=0.1)}
    h = F.conv2d(p["x"], p["w"], p["b"], padding=1)
    away_from_kink(h, 1e-4, "conv_lrelu_pool")
    out = F.avg_pool2d(F.leaky_relu(h, 0.2), 2).sum()
    g = grads(out, p)
    save("conv_lrelu_pool", {**p, "out": out, **{"grad_" + k: v for k, v in zip(p, g)}})


def conv_stride2_silu():
    torch.manual_seed(2)
    p = {"x": randn(2, 3, 8, 8), "w1": randn(6, 3, 3, 3, scale=0.3), "b1": randn(6, scale=0.1),
         "w2": randn(5, 6, 1, 1, scale=0.4), "b2": randn(5, scale=0.1)}
    h = F.conv2d(p["x"], p["w1"], p["b1"], stride=2, padding=1)  # [2, 6, 4, 4]
    h = F.silu(F.conv2d(h, p["w2"], p["b2"]))                   # [2, 5, 4, 4]
    out = torch.logsumexp(h.mean(dim=(2, 3)), dim=1).sum()
    g = grads(out, p)
    save("conv_stride2_silu", {**p, "out": out, **{"grad_" + k: v for k, v in zip(p, g)}})


def mlp_softplus():
    torch.manual_seed(3)
    p = {"x": randn(4, 6), "w1": randn(8, 6, scale=0.4), "b1": randn(8, scale=0.1),
         "w2": randn(3, 8, scale=0.4), "b2": randn(3, scale=0.1)}
    out = F.linear(F.softplus(F.linear(p["x"], p["w1"], p["b1"])), p["w2"], p["b2"]).sum()
    g = grads(out, p)
    save("mlp_softplus", {**p, "out": out, **{"grad_" + k: v for k, v in zip(p, g)}})


def cross_entropy():
    torch.manual_seed(4)
    p = {"logits": randn(5, 7, scale=2.0)}
    labels = torch.tensor([3, 0, 6, 3, 1], dtype=torch.int64)
    out = F.cross_entropy(p["logits"], labels)  # mean over the batch
    g = grads(out, p)
    save("cross_entropy", {**p, "labels": labels, "out": out, "grad_logits": g[0]})


def upsample_concat():
    torch.manual_seed(5)
    p = {"x": randn(1, 2, 4, 4), "z": randn(1, 3, 8, 8), "w": randn(3, 5, 3, 3, scale=0.2),
         "b": randn(3, scale=0.1)}
    h = torch.cat([F.interpolate(p["x"], scale_factor=2, mode="nearest"), p["z"]], dim=1)
    out = torch.tanh(F.conv2d(h, p["w"], p["b"], padding=1)).sum()
    g = grads(out, p)
    save("upsample_concat", {**p, "out": out, **{"grad_" + k: v for k, v in zip(p, g)}})


def per_class_gain():
    torch.manual_seed(6)
    p = {"gains": randn(10, 4), "feat": randn(3, 4, 5, 5)}
    labels = torch.tensor([7, 2, 7], dtype=torch.int64)  # a repeat: its gradient rows add up
    g_rows = torch.index_select(p["gains"], 0, labels).reshape(3, 4, 1, 1)
    out = ((g_rows * p["feat"]) ** 2).sum()
    g = grads(out, p)
    save("per_class_gain", {**p, "labels": labels, "out": out,
                            **{"grad_" + k: v for k, v in zip(p, g)}})


def langevin_grad():
    # The sampler's call: grad of the energy w.r.t. x only, while the weights require grad.
    torch.manual_seed(7)
    x = randn(2, 3, 8, 8)
    w, b = randn(4, 3, 3, 3, scale=0.3), randn(4, scale=0.1)
    h = F.conv2d(x, w, b, padding=1)
    away_from_kink(h, 1e-4, "langevin_grad")
    energy = F.avg_pool2d(F.leaky_relu(h, 0.2), 2).sum()
    (gx,) = torch.autograd.grad(energy, [x])
    assert w.grad is None and b.grad is None
    save("langevin_grad", {"x": x, "w": w, "b": b, "out": energy, "grad_x": gx})


def main():
    print(f"torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    for case in (conv_lrelu_pool, conv_stride2_silu, mlp_softplus, cross_entropy, upsample_concat,
                 per_class_gain, langevin_grad):
        case()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(ROOT) for f in fs)
    print(f"wrote {ROOT}: {total} bytes")
    assert total < 1 << 20


if __name__ == "__main__":
    main()
