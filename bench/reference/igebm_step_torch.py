#!/usr/bin/env python3
"""PyTorch twin of bench/bench_igebm_step.cpp: one IGEBM training step (Du & Mordatch 2019;
../shared/specs/igebm-drl.md §1) on random data, with the same networks (the replica of
tests/reference/igebm_models.py, same parameter names and shapes), the same batch, K and
threads: one spectral-norm power iteration whose W/sigma every forward of the step reuses (the
official schedule), replay-buffer starts (uint8 ring, 5 % fresh), K Langevin steps
(noise, grad_x E by torch.autograd.grad, clip 0.01, step 10, clamp [0, 1]), buffer push, E+ and
E- forwards, the contrastive loss, backward, the gradient norm, and Adam with IGEBM's per-element
3-sigma + 0.1 clip in TF order (beta = (0, 0.999)). Eager; on a GPU also with
torch.compile of the energy where torch has it (>= 2).

Configurations as in the C++ program: 0 demo (scripts/run.sh: 1x32x32, resnet32_small 16 filters,
unconditional, batch 64, K 20, buffer 2000, lr 1e-3), 1 cifar_reduced (3x32x32, resnet32
conditional 128 filters, batch 8, K 5),
2 cifar (the same at batch 128, K 60; GPU only). Parts: spectral_norm, langevin, loss, adam.
Timing: bench/reference/timing.py (median of >= 5 runs and >= min_seconds after 2 warm-ups);
on a GPU the host clock around each call plus torch.cuda.synchronize(). Also the median process
CPU time per call (all threads), as the C++ program's cpu_ms_per_iter.
Run: /usr/bin/python3 bench/reference/igebm_step_torch.py [--cpu] [--json out.json]
     [--configs 0,1] [--no-parts]"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reference"))
from igebm_models import CappedSNConv2d, make_igebm_model  # noqa: E402
from timing import timeit_cpu  # noqa: E402

CONFIGS = [  # demo = scripts/run.sh's igebm_train flags
    dict(name="demo", model="resnet32_small", channels=1, filters=16, classes=0, batch=64, steps=20,
         buffer=2000, lr=1e-3),
    dict(name="cifar_reduced", model="resnet32", channels=3, filters=128, classes=10, batch=8, steps=5,
         buffer=10000, lr=3e-4),
    dict(name="cifar", model="resnet32", channels=3, filters=128, classes=10, batch=128, steps=60,
         buffer=10000, lr=3e-4),
]
PARTS = ["spectral_norm", "langevin", "loss", "adam"]
LEAKY = 0.2


def sn_convs(model):
    """Every spectrally normalised conv of the replica with whether its norm is capped."""
    return [(m, isinstance(m, CappedSNConv2d)) for m in model.modules()
            if hasattr(m, "weight_orig")]


def refresh_spectral_norm(model):
    """One power iteration per layer (u, v written back), then W/sigma with its graph: the W the
    whole step's forwards share. Returns {module: W}."""
    weights = {}
    for m, capped in sn_convs(model):
        w = m.weight_orig
        wm = w.reshape(w.shape[0], -1)
        with torch.no_grad():
            v = F.normalize(torch.mv(wm.t(), m.weight_u), dim=0, eps=1e-12)
            u = F.normalize(torch.mv(wm, v), dim=0, eps=1e-12)
            m.weight_v.copy_(v)
            m.weight_u.copy_(u)
        sigma = torch.dot(u, torch.mv(wm, v))
        if capped:
            s = sigma + 1e-6
            weights[m] = w / s * torch.clamp(s, max=1.0)
        else:
            weights[m] = w / sigma
    return weights


def energy(model, weights, x, labels):
    """The replica's forward with the shared W of each conv (tests/reference/igebm_models.py)."""
    def conv(m, h):
        return F.conv2d(h, weights[m], None, 1, 1)

    h = F.leaky_relu(conv(model.stem, x), LEAKY)
    for b in model.blocks:
        r = conv(b.conv1, h + b.per_class(b.gb1, labels))
        if b.dropout is not None:
            r = b.dropout(r)
        r = F.leaky_relu(r, LEAKY)
        gain = b.per_class(b.g2, labels)
        if b.num_classes > 0:
            gain = gain + b.cb2.reshape(1, -1, 1, 1)
        r = conv(b.conv2, r + b.per_class(b.gb2, labels)) * gain
        r = r + (conv(b.skip, h) if b.skip is not None else h)
        if b.downsample:
            r = F.avg_pool2d(r, 2, 2)
        h = F.leaky_relu(r, LEAKY)
    h = F.relu(h) if model.arch["head"] == "relu" else F.leaky_relu(h, LEAKY)
    return model.fc(h.sum(dim=(2, 3))).reshape(-1)


class ReplayBuffer:
    """IGEBM's uint8 ring (spec §1.5): uniform draws with replacement, 5 % fresh noise."""

    def __init__(self, capacity, shape, device):
        self.q = torch.zeros((capacity,) + shape, dtype=torch.uint8, device=device)
        self.size, self.next = 0, 0

    def push(self, x):
        q = torch.floor(255.0 * x.detach().clamp(0.0, 1.0)).to(torch.uint8)
        idx = (torch.arange(q.shape[0], device=q.device) + self.next) % self.q.shape[0]
        self.q[idx] = q
        self.next = (self.next + q.shape[0]) % self.q.shape[0]
        self.size = min(self.size + q.shape[0], self.q.shape[0])

    def sample(self, batch, reinit=0.05):
        dev = self.q.device
        idx = torch.randint(0, self.size, (batch,), device=dev)
        x = self.q[idx].float() / 256.0 + torch.rand((batch,) + self.q.shape[1:], device=dev) / 256.0
        fresh = torch.rand(batch, device=dev) < reinit
        x[fresh] = torch.rand_like(x[fresh])
        return x


class IgebmAdam:
    """TF ApplyAdam order with IGEBM's per-element clip of the gradient to
    +-(3 sqrt(v_{t-1} / (1 - b2^t)) + 0.1) before the update (official custom_adam)."""

    def __init__(self, params, lr=3e-4, b1=0.0, b2=0.999, eps=1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        c2 = 1.0 - self.b2 ** self.t
        lr_t = self.lr * c2 ** 0.5 / (1.0 - self.b1 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            bound = v.div(c2).sqrt_().mul_(3.0).add_(0.1)
            g = torch.max(torch.min(p.grad, bound), -bound)
            m.mul_(self.b1).add_(g, alpha=1.0 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1.0 - self.b2)
            p.addcdiv_(m, v.sqrt().add_(self.eps), value=-lr_t)


class Trainer:
    def __init__(self, cfg, device, compile_energy=False):
        self.cfg, self.device = cfg, device
        torch.manual_seed(1)
        self.model = make_igebm_model(cfg["model"], in_channels=cfg["channels"],
                                      num_classes=cfg["classes"], num_filters=cfg["filters"]).to(device)
        self.model.train()
        self.opt = IgebmAdam(self.model.parameters(), lr=cfg["lr"])
        shape = (cfg["channels"], 32, 32)
        self.buffer = ReplayBuffer(cfg["buffer"], shape, device)
        self.data = torch.rand((cfg["batch"],) + shape, device=device)
        self.labels = (torch.arange(cfg["batch"], device=device) % cfg["classes"]
                       if cfg["classes"] > 0 else None)
        for _ in range(2):
            self.buffer.push(self.data)
        self.energy = torch.compile(energy) if compile_energy else energy
        self.weights = None
        self.negatives = None

    def refresh(self):
        self.weights = refresh_spectral_norm(self.model)

    def E(self, x):
        return self.energy(self.model, self.weights, x, self.labels)

    def langevin(self, step_lr=10.0, noise=0.005, clip=0.01):
        x = self.buffer.sample(self.cfg["batch"])
        noise_buf = torch.empty_like(x)
        x.add_(noise_buf.normal_(0.0, noise))
        K = self.cfg["steps"]
        for k in range(1, K + 1):
            x.requires_grad_(True)
            g = torch.autograd.grad(self.E(x).sum(), [x])[0]
            with torch.no_grad():
                x = x.detach()
                x.add_(g.clamp_(-clip, clip), alpha=-step_lr).clamp_(0.0, 1.0)
                if k < K:
                    x.add_(noise_buf.normal_(0.0, noise))
        self.buffer.push(x)
        self.negatives = x

    def loss_backward(self, retain_graph=False):
        """retain_graph: keep the refresh's W/sigma graph for another call (the loss part, timed
        without the refresh, as the C++ row refreshes untimed before each call)."""
        e_pos = self.E(self.data)
        e_neg = self.E(self.negatives.detach())
        mp, mn = e_pos.mean(), e_neg.mean()
        loss = (mp - mn) + (e_pos.square().mean() + e_neg.square().mean())
        value, _, _ = loss.item(), mp.item(), mn.item()
        self.opt.zero_grad()
        loss.backward(retain_graph=retain_graph)
        torch.norm(torch.stack([p.grad.norm() for p in self.opt.params if p.grad is not None])).item()
        return value

    def step(self):
        self.refresh()
        self.langevin()
        v = self.loss_backward()
        self.opt.step()
        return v


def time_fn(fn, device, min_seconds):
    """Median wall time per call (timing.py) and median process CPU time per call (all threads;
    on a shared machine it leaves out the time other processes held the cores)."""
    cpu = []

    def timed():
        c0 = time.process_time()
        fn()
        if device != "cpu":
            torch.cuda.synchronize()
        cpu.append(time.process_time() - c0)
    wall = timeit_cpu(timed, min_seconds=min_seconds)
    return wall, statistics.median(cpu[2:])  # timeit_cpu's two warm-up calls left out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu", action="store_true", help="the CPU even where CUDA is available")
    ap.add_argument("--configs", default=None, help="comma-separated config indices (default: "
                    "0,1 on the CPU, 0,2 on a GPU)")
    ap.add_argument("--no-parts", action="store_true")
    ap.add_argument("--min-seconds", type=float, default=3.0)
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args()
    use_cuda = torch.cuda.is_available() and not args.cpu
    device = "cuda" if use_cuda else "cpu"
    if not use_cuda:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    where = torch.cuda.get_device_name(0) if use_cuda else f"cpu, threads {torch.get_num_threads()}"
    print(f"# torch {torch.__version__}, {where}", flush=True)
    configs = [int(c) for c in (args.configs or ("0,2" if use_cuda else "0,1")).split(",")]
    variants = [("eager", False)]
    if use_cuda:
        if hasattr(torch, "compile"):
            variants.append(("compiled", True))
        else:
            print("# torch.compile: not available in this torch version (rows skipped)")
    suffix = "Gpu" if use_cuda else "Cpu"
    rows = []
    for ci in configs:
        cfg = CONFIGS[ci]
        for vname, comp in variants:
            t = Trainer(cfg, device, compile_energy=comp)
            tag = f"{cfg['name']} {cfg['model']} f{cfg['filters']} b{cfg['batch']} K{cfg['steps']} {vname}"

            def report(name, times):
                sec, cpu = times
                row = dict(name=name, variant=vname, config=cfg["name"], ms_per_iter=sec * 1e3,
                           images_per_s=cfg["batch"] / sec, cpu_ms_per_iter=cpu * 1e3)
                rows.append(row)
                print(f"{name:<28} {sec * 1e3:10.1f} ms  {cfg['batch'] / sec:8.2f} images/s  "
                      f"cpu {cpu * 1e3:10.1f} ms  {tag}", flush=True)

            report(f"BM_Step{suffix}/config:{ci}", time_fn(t.step, device, args.min_seconds))
            if args.no_parts:
                continue
            parts = {"spectral_norm": t.refresh, "langevin": t.langevin,
                     "loss": lambda: t.loss_backward(retain_graph=True), "adam": t.opt.step}
            for pi, pname in enumerate(PARTS):
                report(f"BM_Part{suffix}/config:{ci}/part:{pi}",
                       time_fn(parts[pname], device, min(args.min_seconds, 2.0)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, device=where, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
