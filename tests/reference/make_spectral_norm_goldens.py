# PyTorch goldens for spectral normalisation (tests/cpu/test_spectral_norm.cpp): the power
# iteration, σ, W/σ and the weight gradient of torch.nn.utils.spectral_norm (Miyato et al. 2018),
# plus IGEBM's capped form W/(σ+1e-6)·min(σ+1e-6, 1) (specs/igebm-drl.md §0). Run from anywhere with
# Debian's interpreter (python3-torch, python3-numpy; not the pyenv python3 first on PATH):
#   /usr/bin/python3 tests/reference/make_spectral_norm_goldens.py
# Everything in float64 with a fixed seed per case; files go to tests/data/spectral_norm/<case>/:
#   w, u0, v0, g        the weight (weight_orig), the initial buffers, the loss weights G
#   for k in 0, 1, 3 power iterations (0 = eval mode: σ from u0, v0):
#   u_k, v_k, sigma_k   torch's buffers after the forward and σ = u·(W v) with them
#   wsn_k, grad_w_k     the module's normalised weight W/σ and d/dW of L = Σ (W/σ)·G
#   capped_k, grad_capped_k   the capped form and d/dW of Σ capped·G (same σ)
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                                     "spectral_norm"))
torch.set_default_dtype(torch.float64)


def save(case, arrays):
    d = os.path.join(ROOT, case)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if old.endswith(".npy"):
            os.remove(os.path.join(d, old))
    for name, a in arrays.items():
        a = a.detach().numpy()
        assert a.dtype == np.float64, (case, name, a.dtype)
        np.save(os.path.join(d, name + ".npy"), a.copy(order="C"))  # keeps 0-d arrays 0-d


def run(module, w, u0, v0, g, n_iter):
    """torch.nn.utils.spectral_norm on `module` with weight w and buffers u0, v0: one forward
    (training mode when n_iter > 0, eval otherwise), then L = Σ (W/σ)·G backward."""
    sn = torch.nn.utils.spectral_norm(module, n_power_iterations=max(n_iter, 1), eps=1e-12)
    with torch.no_grad():
        sn.weight_orig.copy_(w)
        sn.weight_u.copy_(u0)
        sn.weight_v.copy_(v0)
    sn.train(n_iter > 0)
    sn.weight_orig.grad = None
    x = torch.zeros((1,) + (w.shape[1:] if w.dim() == 2 else (w.shape[1], 5, 5)))
    sn(x)  # the pre-hook runs the iteration (training) and sets module.weight = W/σ
    wsn = sn.weight
    (wsn * g).sum().backward()
    u, v = sn.weight_u.detach().clone(), sn.weight_v.detach().clone()
    w_mat = w.reshape(w.shape[0], -1)
    sigma = torch.dot(u, torch.mv(w_mat, v))
    # Capped (IGEBM): same σ, u and v constants (σ recomputed from the updated buffers).
    wl = w.clone().requires_grad_()
    s = torch.dot(u, torch.mv(wl.reshape(w.shape[0], -1), v)) + 1e-6
    capped = wl / s * torch.clamp(s, max=1.0)
    (capped * g).sum().backward()
    return {"u": u, "v": v, "sigma": sigma, "wsn": wsn.detach(), "grad_w": sn.weight_orig.grad,
            "capped": capped.detach(), "grad_capped": wl.grad}


def case(name, seed, make_module, w_scale):
    torch.manual_seed(seed)
    module = make_module()
    w = torch.randn(module.weight.shape) * w_scale
    rows, cols = w.shape[0], w[0].numel()
    u0 = F.normalize(torch.randn(rows), dim=0, eps=1e-12)
    v0 = F.normalize(torch.randn(cols), dim=0, eps=1e-12)
    g = torch.randn(w.shape)
    arrays = {"w": w, "u0": u0, "v0": v0, "g": g}
    for k in (0, 1, 3):
        r = run(make_module(), w, u0, v0, g, k)
        arrays.update({f"{key}_{k}": val for key, val in r.items()})
    save(name, arrays)


# A conv (rows 8, cols 27), a dense layer (6 × 10, σ > 1) and a small conv whose σ < 1 (the capped
# form leaves W unchanged there).
case("conv", 1, lambda: torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), 1.0)
case("linear", 2, lambda: torch.nn.Linear(10, 6, bias=False), 1.0)
case("conv_small", 3, lambda: torch.nn.Conv2d(4, 5, 3, padding=1, bias=False), 0.02)
print("wrote", sorted(os.listdir(ROOT)))
