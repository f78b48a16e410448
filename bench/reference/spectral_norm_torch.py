#!/usr/bin/env python3
"""PyTorch twin of bench/bench_spectral_norm.cpp: one spectral-norm power iteration over every SN
layer of a model, with the math of torch.nn.utils.spectral_norm's training-mode forward (per
layer: v = normalize(Wᵀu), u = normalize(W v) in place under no_grad, then σ = u·(W v)), looped
over the layers as the module hooks do, in PyTorch eager and, where available (torch >= 2),
torch.compile of the same loop. The models and their layer shapes are those of the C++ program
(IGEBM ResNet32 / ResNet32Large with 128 filters, DRL net_res_temb2 ch 128 with 8 blocks per level).

Timing as in the C++ program: CPU, median of repeated perf_counter runs after warm-up; GPU, CUDA
events around the iteration only, L2 flushed by a memset before each repetition. Bytes/s count
each weight read twice (the two matrix-vector products; PyTorch's σ = u·(W v) reads W a third
time, which the engine avoids); vs_copy is that rate over a copy (dst.copy_(src)) of the same
number of weight bytes, timed the same way in the same run.
Run: /usr/bin/python3 bench/reference/spectral_norm_torch.py [--cpu]"""
import torch
import torch.nn.functional as F

from timing import pick_device


def conv(out, inp):
    return (out, inp, 3, 3)


def igebm(blocks):
    layers = [conv(128, 3)]
    for inp, out in blocks:
        layers += [conv(out, inp), conv(out, out)] + ([conv(out, inp)] if inp != out else [])
    return layers


def drl():
    layers = [(512, 128), (512, 512), conv(128, 3)]
    ch = 128
    for mult in (1, 2, 2, 2):
        for _ in range(8):
            out = 128 * mult
            layers += [conv(out, ch), (out, 512), conv(out, out)] + ([conv(out, ch)] if ch != out else [])
            ch = out
    return layers


MODELS = [
    ("igebm_resnet32", igebm([(128, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 256)])),
    ("igebm_resnet32l", igebm([(128, 128)] * 3 + [(128, 256), (256, 256), (256, 256), (256, 512),
                                                  (512, 512), (512, 512)])),
    ("drl_ch128", drl()),
]


def power_iteration(state, eps=1e-12):
    """torch.nn.utils.spectral_norm's compute_weight(do_power_iteration=True) for every layer,
    n_power_iterations = 1; returns the σ's."""
    sigmas = []
    with torch.no_grad():
        for w, u, v in state:
            wm = w.reshape(w.shape[0], -1)
            v = F.normalize(torch.mv(wm.t(), u), dim=0, eps=eps, out=v)
            u = F.normalize(torch.mv(wm, v), dim=0, eps=eps, out=u)
            sigmas.append(torch.dot(u, torch.mv(wm, v)))
    return sigmas


def main():
    _, dev, timeit, has_compile, suffix = pick_device()
    torch.manual_seed(0)
    for k, (name, shapes) in enumerate(MODELS):
        state = [(0.05 * torch.randn(s, device=dev),
                  F.normalize(torch.randn(s[0], device=dev), dim=0),
                  F.normalize(torch.randn(torch.Size(s[1:]).numel(), device=dev), dim=0))
                 for s in shapes]
        n = sum(w.numel() for w, _, _ in state)
        src, dst = torch.randn(n, device=dev), torch.empty(n, device=dev)
        t_copy = timeit(lambda: dst.copy_(src))
        copy_rate = 8.0 * n / t_copy
        print(f"BM_Copy{suffix}/{k}  {t_copy * 1e6:.1f} us  {copy_rate / 1e9:.2f} GB/s  "
              f"{name}, {len(shapes)} layers, {n / 1e6:.2f} M weights")

        def report(label, t):
            rate = 8.0 * n / t
            print(f"{label}/{k}  {t * 1e6:.1f} us  {rate / 1e9:.2f} GB/s  vs_copy={rate / copy_rate:.3f}")

        report(f"BM_PowerIterationEager{suffix}", timeit(lambda: power_iteration(state)))
        if has_compile:
            compiled = torch.compile(power_iteration)
            compiled(state)
            report(f"BM_PowerIterationCompiled{suffix}", timeit(lambda: compiled(state)))
        del state, src, dst


if __name__ == "__main__":
    main()
