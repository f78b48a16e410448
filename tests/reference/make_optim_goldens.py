# PyTorch goldens for the optimizers of tests/cpu/test_optim.cpp (nn/optim.h, nn/grad_clip.h,
# nn/lr_schedule.h). Run from anywhere with Debian's interpreter (python3-torch 1.13, numpy):
#   /usr/bin/python3 tests/reference/make_optim_goldens.py
# Writes tests/data/optim/ (see the README there):
#   <case>_<f32|f64>/param<i>.npy   trajectory [S+1, *shape] of parameter i (row 0: initial)
#                    grad<i>.npy    the gradient fed at each step [S, *shape] (zeros where absent)
#                    has_grad.npy   int64 [S, P]: 0 where the parameter had no gradient (grad None)
#                    lr.npy         float64 [S]: the learning rate of each step
#   clip/...                        clip_grad_norm_ inputs, outputs and norms
#   lr/...                          schedules replayed from the references' training loops
# Every case runs torch in the case's dtype (float32 or float64) from the same float64 draws.
import math
import os

import numpy as np
import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "optim"))
SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 6


def save(d, arrays):
    d = os.path.join(ROOT, d)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        if old.endswith(".npy"):
            os.remove(os.path.join(d, old))
    for name, a in arrays.items():
        assert a.dtype in (np.float32, np.float64, np.int64), (d, name, a.dtype)
        np.save(os.path.join(d, name + ".npy"), np.array(a, order="C", copy=True))  # 0-d stays 0-d


def jem_lrs(base, warmup, steps_per_epoch, decay_epochs, gamma, steps):
    # The learning-rate loop of JEM's train_wrn_ebm.py (and M-EBM's), replayed: decay at the start
    # of a decay epoch, then the warm-up overwrites the rate while cur_iter <= warmup.
    lrs, lr, cur_iter, epoch = [], base, 0, 0
    while len(lrs) < steps:
        if epoch in decay_epochs:
            lr = lr * gamma
        for _ in range(steps_per_epoch):
            if cur_iter <= warmup:
                lr = base * cur_iter / float(warmup)
            lrs.append(lr)
            cur_iter += 1
        epoch += 1
    return np.array(lrs[:steps], dtype=np.float64)


def drl_lrs(max_lr, warmup, total, cosine, steps):
    # train_utils.get_warmed_up_lr of the DRL code, in float32 as TF computes it.
    out = []
    for s in steps:
        step = np.float32(s)
        if cosine:
            t = np.float32(min(step - warmup, total - warmup))
            ratio = np.maximum(np.float32(0), t / np.float32(total - warmup))
            lr = np.float32(0.5) * (np.float32(1) + np.cos(np.float32(np.pi) * ratio)) * np.float32(max_lr)
        else:
            lr = np.float32(max_lr)
        out.append(np.float32(lr * np.minimum(np.float32(1), step / np.float32(warmup))))
    return np.array(out, dtype=np.float64)


def rosinality_clip(params, opt):
    # clip_grad of rosinality/igebm-pytorch train.py, rewritten: bound from the state before the
    # step, skipped until the parameter has state (step >= 1).
    with torch.no_grad():
        for group in opt.param_groups:
            _, beta2 = group["betas"]
            for p in group["params"]:
                st = opt.state[p]
                if p.grad is None or "step" not in st or st["step"] < 1:
                    continue
                step = float(st["step"])
                bound = 3 * torch.sqrt(st["exp_avg_sq"] / (1 - beta2 ** step)) + 0.1
                p.grad.copy_(torch.max(torch.min(p.grad, bound), -bound))


CASES = {
    # name: (constructor, base lr, gradient transform before the step)
    "adam": (lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8), 0.01, None),
    "adam_wd": (lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05), 0.01, None),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1), 0.01, None),
    "adam_igebm_port": (lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.0, 0.999)), 0.01, rosinality_clip),
    "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=1e-3), 0.1, None),
    "sgd_momentum": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=5e-4), 0.1, None),
    "sgd_dampening": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, dampening=0.3), 0.1, None),
    "sgd_nesterov": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), 0.1, None),
}


def optimizer_case(name, seed):
    make, base, transform = CASES[name]
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    # Gradients of mixed scales (the IGEBM clip must bite: some entries far beyond 3σ + 0.1).
    grads = [rng.standard_normal((STEPS,) + s) * rng.choice([0.05, 1.0, 4.0], size=(STEPS,) + s) for s in SHAPES]
    has = np.ones((STEPS, len(SHAPES)), dtype=np.int64)
    has[2, 1] = 0  # parameter 1 gets no gradient at step 2 (skipped; its step count lags)
    has[0, 2] = 0  # parameter 2 none at step 0 (its state starts at step 1)
    lrs = jem_lrs(base, warmup=2, steps_per_epoch=2, decay_epochs=[2], gamma=0.5, steps=STEPS)
    for suffix, dt, npdt in (("f64", torch.float64, np.float64), ("f32", torch.float32, np.float32)):
        params = [torch.tensor(a, dtype=dt, requires_grad=True) for a in init]
        opt = make(params)
        traj = [[p.detach().numpy().copy()] for p in params]
        for s in range(STEPS):
            for g in opt.param_groups:
                g["lr"] = float(lrs[s])
            for i, p in enumerate(params):
                p.grad = torch.tensor(grads[i][s], dtype=dt) if has[s, i] else None
            if transform:
                transform(params, opt)
            opt.step()
            for i, p in enumerate(params):
                traj[i].append(p.detach().numpy().copy())
        arrays = {"has_grad": has, "lr": lrs}
        for i in range(len(SHAPES)):
            arrays[f"param{i}"] = np.stack(traj[i]).astype(npdt)
            arrays[f"grad{i}"] = (grads[i] * has[:, i].reshape((STEPS,) + (1,) * len(SHAPES[i]))).astype(npdt)
        save(f"{name}_{suffix}", arrays)


def clip_case():
    # Three gradients (the C++ tests cover norms over several 8192-element chunks), clipped in float64 and
    # float32 at a threshold below the norm, one above it, and by the infinity norm.
    rng = np.random.default_rng(11)
    shapes = [(7, 5), (30, 41), (3,)]
    grads = [rng.standard_normal(s) * sc for s, sc in zip(shapes, (0.5, 0.02, 3.0))]
    arrays = {}
    for suffix, dt, npdt in (("f64", torch.float64, np.float64), ("f32", torch.float32, np.float32)):
        for tag, max_norm, norm_type in (("below", 1.5, 2.0), ("above", 1e3, 2.0), ("inf", 0.5, math.inf)):
            ps = [torch.zeros(s, dtype=dt, requires_grad=True) for s in shapes]
            for p, g in zip(ps, grads):
                p.grad = torch.tensor(g, dtype=dt)
            total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
            arrays[f"norm_{tag}_{suffix}"] = np.array(float(total), dtype=np.float64)
            for i, p in enumerate(ps):
                arrays[f"clipped{i}_{tag}_{suffix}"] = p.grad.numpy().astype(npdt)
    for i, g in enumerate(grads):
        arrays[f"grad{i}"] = g
    save("clip", arrays)


def lr_case():
    jem = jem_lrs(0.1, warmup=5, steps_per_epoch=3, decay_epochs=[1, 3, 4], gamma=0.2, steps=20)
    mebm_all = jem_lrs(0.1, warmup=1000, steps_per_epoch=390, decay_epochs=[60, 120, 180], gamma=0.2, steps=80000)
    edges = [e * 390 + d for e in (60, 120, 180) for d in (-1, 0, 1)] + [0, 1, 999, 1000, 1001]
    mebm_steps = np.array(sorted(set(range(0, 80000, 97)) | set(edges)), dtype=np.int64)
    steps = np.array([0, 1, 2, 10, 11, 37, 99, 100, 101, 150], dtype=np.int64)
    drl_cos = drl_lrs(1e-4, warmup=10, total=100, cosine=True, steps=steps)
    drl = drl_lrs(1e-4, warmup=1000, total=10**6, cosine=False, steps=np.arange(0, 1300, 7))
    save("lr", {"jem": jem, "mebm_steps": mebm_steps, "mebm": mebm_all[mebm_steps], "drl_cosine_steps": steps, "drl_cosine": drl_cos, "drl": drl})


if __name__ == "__main__":
    assert torch.__version__.startswith("1.13"), torch.__version__
    for k, name in enumerate(CASES):
        optimizer_case(name, seed=100 + k)
    clip_case()
    lr_case()
    print("wrote", sorted(os.listdir(ROOT)))
