#!/usr/bin/env python3
"""PyTorch twin of bench/bench_drl_step.cpp: one DRL training step (Gao et al., ICLR 2021;
../shared/specs/igebm-drl.md §2.6) on random [-1, 1] data, with the same network (the replica
NetResTemb2 of tests/reference/drl_models.py: same parameter names and shapes; torch's spectral
norm iterates on every training forward, as DRL's), the same batch, K and threads: per-example
levels t ~ U{0..5}, diffusion pairs, K conditional Langevin steps
(y <- y + 1/2 grad_y f - tether_t (y - x~) + s_t eps, grad_y f by torch.autograd.grad, eager ops),
one forward of [a' x_t; y-] (2B), the sigma_1/sigma_{t+1}-weighted loss, backward, the gradient
norm, Adam (beta = (0.9, 0.999), eps 1e-7, lr 1e-4) and the EMA (0.999, TF form) of every
parameter and u/v buffer. Eager; on a GPU also with torch.compile of f where torch has it (>= 2).

Configurations as in the C++ program: 0 demo (1x32x32, ch 16, mult 1,2,2, 1 block, batch 32,
K 30), 1 cifar_reduced (3x32x32, ch 128, mult 1,2,2,2, 2 blocks, batch 4, K 3), 2 cifar (8 blocks,
batch 256, K 30; GPU only). Parts: langevin, loss, adam_ema.
Command line and timing: bench/reference/step_twin.py (median of >= 5 runs and >= min_seconds
after 2 warm-ups; on a GPU the host clock around each call plus torch.cuda.synchronize()).
Run: /usr/bin/python3 bench/reference/drl_step_torch.py [--cpu] [--json out.json]
     [--configs 0,1] [--no-parts]"""
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reference"))
from drl_models import NetResTemb2  # noqa: E402
from step_twin import run_twin  # noqa: E402

CONFIGS = [
    dict(name="demo", channels=1, ch=16, ch_mult=(1, 2, 2), blocks=1, batch=32, steps=30),
    dict(name="cifar_reduced", channels=3, ch=128, ch_mult=(1, 2, 2, 2), blocks=2, batch=4, steps=3),
    dict(name="cifar", channels=3, ch=128, ch_mult=(1, 2, 2, 2), blocks=8, batch=256, steps=30),
]
PARTS = ["langevin", "loss", "adam_ema"]


def drl_schedule(T=6, b_square=2e-4):
    """The official get_sigma_schedule and the per-level coefficients (samplers/drl.h), in
    float64: a_i, sigma_i (i = 0..T), alpha_bar, sigma_bar, and per level t: s_t^2, tether, weight."""
    betas = [1e-4 + j * (0.02 - 1e-4) / 999 for j in range(1000)]
    sa = [math.sqrt(1 - b) for b in betas]
    stride = 1000 // ((T - 1) * 2)
    idx = [i * stride for i in range(T)] + [999]
    a = [math.prod(sa[:idx[0] + 1])] + [math.prod(sa[idx[i - 1] + 1:idx[i] + 1]) for i in range(1, T + 1)]
    sigma = [math.sqrt(1 - v * v) for v in a]
    ab = list(torch.cumprod(torch.tensor(a, dtype=torch.float64), 0).tolist())
    sb = [math.sqrt(1 - v * v) for v in ab]
    a_prev = a[:T] + [1.0]
    r = [1.0] * T + [0.0]
    s_sq = [b_square * sigma[t + 1] ** 2 * sb[t] / sb[0] for t in range(T)]
    tether = [r[t + 1] * s_sq[t] / (2 * sigma[t + 1] ** 2) for t in range(T)]
    weight = [sigma[1] / sigma[t + 1] for t in range(T)]
    return dict(T=T, alpha_bar=ab[:T], sigma_bar=sb[:T], a_next=a[1:], sigma_next=sigma[1:],
                a_prev=a_prev[1:], noise=[math.sqrt(v) for v in s_sq], tether=tether, weight=weight)


class Trainer:
    def __init__(self, cfg, device, compile_f=False):
        self.cfg, self.device = cfg, device
        torch.manual_seed(1)
        self.model = NetResTemb2(cfg["channels"], cfg["ch"], cfg["ch_mult"], cfg["blocks"]).to(device).train()
        self.f = torch.compile(self.model) if compile_f else self.model
        s = drl_schedule()
        self.T = s["T"]
        self.c = {k: torch.tensor(v, dtype=torch.float32, device=device) for k, v in s.items() if k != "T"}
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-7)
        self.ema_src = [v for v in self.model.state_dict(keep_vars=True).values() if v.is_floating_point()]
        self.ema = [v.detach().clone() for v in self.ema_src]
        self.data = torch.rand(cfg["batch"], cfg["channels"], 32, 32, device=device) * 2 - 1
        self.langevin()

    def per(self, name, t):
        return self.c[name][t].view(-1, 1, 1, 1)

    def langevin(self):
        B, x = self.cfg["batch"], self.data
        t = torch.randint(0, self.T, (B,), device=self.device)
        x_t = self.per("alpha_bar", t) * x + self.per("sigma_bar", t) * torch.randn_like(x)
        x_next = self.per("a_next", t) * x_t + self.per("sigma_next", t) * torch.randn_like(x)
        half, tether, noise = 0.5, self.per("tether", t), self.per("noise", t)
        y = x_next.clone()
        for _ in range(self.cfg["steps"]):
            leaf = y.detach().requires_grad_()
            g, = torch.autograd.grad(self.f(leaf, t).sum(), leaf)
            y = y + half * g - tether * (y - x_next) + noise * torch.randn_like(y)
        self.t, self.x_t, self.y_neg = t, x_t, y.detach()

    def loss(self):
        B, t = self.cfg["batch"], self.t
        y = torch.cat([self.per("a_prev", t) * self.x_t, self.y_neg])
        f = self.f(y, torch.cat([t, t]))
        loss = (self.c["weight"][t] * (f[B:] - f[:B])).mean()
        v = loss.item()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.sqrt(sum(p.grad.pow(2).sum() for p in self.model.parameters() if p.grad is not None))
        return v, gnorm

    def adam_ema(self):
        self.opt.step()
        with torch.no_grad():
            src = [p.detach() for p in self.ema_src]
            torch._foreach_mul_(self.ema, 0.999)  # lerp form of s - (s - p)(1 - d)
            torch._foreach_add_(self.ema, src, alpha=0.001)

    def step(self):
        self.langevin()
        v = self.loss()
        self.adam_ema()
        return v


def main():
    run_twin(CONFIGS, PARTS, lambda cfg, device, compiled: Trainer(cfg, device, compile_f=compiled),
             lambda cfg: f"{cfg['name']} ch{cfg['ch']}x{cfg['blocks']} b{cfg['batch']} K{cfg['steps']}")


if __name__ == "__main__":
    main()
