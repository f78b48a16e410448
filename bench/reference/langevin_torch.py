#!/usr/bin/env python3
"""PyTorch twin of bench/bench_langevin.cpp: IGEBM's Langevin update (spec igebm-drl.md §1.4)
x <- clamp(x - 10 * clamp(g, -0.01, 0.01), 0, 1) + 0.005 * N(0, 1), and DRL's conditional step
y <- y + 0.5 g - B_t (y - x~) + C_t N(0, 1) with per-sample coefficients gathered by level,
in PyTorch eager (in-place ops, noise buffer kept, as the rosinality port writes it) and, where
available (torch >= 2), torch.compile. GPU when available, else CPU.

Timing as in the C++ program: CPU, median of repeated perf_counter runs after warm-up; GPU, CUDA
events around the update only, with L2 flushed by a memset before each repetition. Bytes/s count
12 B per element (IGEBM: read x, read g, write x) or 16 B (DRL, also x~); vs_copy is the rate over
a device copy (dst.copy_(src), 8 B per element) timed the same way in the same run.
Run: /usr/bin/python3 bench/reference/langevin_torch.py [--cpu]"""
import torch

from timing import pick_device


def igebm_step(x, g, noise):
    """In place, the reference's order: step with the clipped gradient, clamp, then add the noise
    of the next step (drawn into a kept buffer)."""
    x.add_(g.clamp(-0.01, 0.01), alpha=-10.0).clamp_(0.0, 1.0)
    x.add_(noise.normal_(0.0, 0.005))
    return x


def igebm_step_functional(x, g):
    """The same update written functionally (what torch.compile fuses into one kernel)."""
    return torch.clamp(x - 10.0 * torch.clamp(g, -0.01, 0.01), 0.0, 1.0) + 0.005 * torch.randn_like(x)


def drl_step(y, g, xt, level, table, noise):
    coeff = table[level]  # [B, 3]: the per-sample gather
    shape = (-1,) + (1,) * (y.dim() - 1)
    a, b, c = (coeff[:, k].view(shape) for k in range(3))
    y.add_(a * g).sub_(b * (y - xt)).add_(c * noise.normal_())
    return y


def main():
    use_cuda, dev, timeit, has_compile, suffix = pick_device()
    sync = torch.cuda.synchronize if use_cuda else (lambda: None)
    sizes = [1 << 20, 1 << 22, 1 << 24] + ([1 << 26] if use_cuda else [])
    torch.manual_seed(0)
    with torch.no_grad():
        for n in sizes:
            src, dst = torch.randn(n, device=dev), torch.empty(n, device=dev)
            t_copy = timeit(lambda: dst.copy_(src))
            copy_rate = 8.0 * n / t_copy
            print(f"BM_Copy{suffix}/{n}  {t_copy * 1e6:.1f} us  {copy_rate / 1e9:.2f} GB/s")

            def report(name, t, bpe):
                rate = bpe * n / t
                print(f"{name}/{n}  {t * 1e6:.1f} us  {rate / 1e9:.2f} GB/s  vs_copy={rate / copy_rate:.3f}")

            x, g = torch.rand(n, device=dev), 0.02 * torch.randn(n, device=dev)
            noise = torch.empty(n, device=dev)
            report(f"BM_IgebmEager{suffix}", timeit(lambda: igebm_step(x, g, noise)), 12.0)
            if has_compile:
                step_c = torch.compile(igebm_step_functional)
                step_c(x, g)
                sync()
                report(f"BM_IgebmCompiled{suffix}", timeit(lambda: step_c(x, g)), 12.0)
            del x, g, noise
        for n in [3072 * 341, 3072 * 5461] + ([3072 * 21845] if use_cuda else []):
            b = n // 3072
            y, g, xt = (torch.randn(b, 3072, device=dev) for _ in range(3))
            level = (torch.arange(b, device=dev) % 6)
            table = torch.rand(6, 3, device=dev) * 0.1
            noise = torch.empty(b, 3072, device=dev)
            src, dst = torch.randn(n, device=dev), torch.empty(n, device=dev)
            copy_rate = 8.0 * n / timeit(lambda: dst.copy_(src))
            t = timeit(lambda: drl_step(y, g, xt, level, table, noise))
            rate = 16.0 * n / t
            print(f"BM_DrlEager{suffix}/{n}  {t * 1e6:.1f} us  {rate / 1e9:.2f} GB/s  vs_copy={rate / copy_rate:.3f}")


if __name__ == "__main__":
    main()
