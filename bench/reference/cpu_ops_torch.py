#!/usr/bin/env python3
"""PyTorch twin of bench/bench_cpu_ops.cpp: the same ops and shapes on the CPU, timed the same way
(median of repeated runs after warm-up). Run with Debian's torch: /usr/bin/python3 bench/reference/cpu_ops_torch.py
Prints one line per benchmark: name, median ms, and the same derived rate as the C++ program."""
import os

import torch
import torch.nn.functional as F

from timing import timeit_cpu as timeit


def main():
    # Same thread count as the C++ program's OpenMP default (all cores, or OMP_NUM_THREADS).
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}")
    with torch.no_grad():
        for n, c, hw in [(8, 128, 32), (32, 64, 16)]:
            x, w, b = torch.randn(n, c, hw, hw), torch.randn(c, c, 3, 3), torch.randn(c)
            flops = 2.0 * n * c * c * 9 * hw * hw
            t = timeit(lambda: F.conv2d(x, w, b, padding=1))
            print(f"BM_Conv3x3Forward/{n}/{c}/{hw}  {t * 1e3:.3f} ms  {flops / t / 1e9:.1f} GFLOP/s")
            g = torch.randn(n, c, hw, hw)
            t = timeit(lambda: torch.nn.grad.conv2d_input((n, c, hw, hw), w, g, padding=1))
            print(f"BM_Conv3x3BackwardInput/{n}/{c}/{hw}  {t * 1e3:.3f} ms  {flops / t / 1e9:.1f} GFLOP/s")
            t = timeit(lambda: torch.nn.grad.conv2d_weight(x, (c, c, 3, 3), g, padding=1))
            print(f"BM_Conv3x3BackwardWeight/{n}/{c}/{hw}  {t * 1e3:.3f} ms  {flops / t / 1e9:.1f} GFLOP/s")
        for n in [1 << 20, 1 << 24]:
            x = torch.randn(n)
            t = timeit(lambda: F.silu(x))
            print(f"BM_Silu/{n}  {t * 1e6:.1f} us  {n * 8 / t / 1e9:.2f} GB/s")
            xb, bb = torch.randn(n // (64 * 32 * 32), 64, 32, 32), torch.randn(1, 64, 1, 1)
            t = timeit(lambda: xb + bb)
            print(f"BM_AddPerChannel/{n}  {t * 1e6:.1f} us  {n * 8 / t / 1e9:.2f} GB/s")
    w1 = torch.randn(64, 1, 3, 3, requires_grad=True)
    w2 = torch.randn(64, 64, 3, 3, requires_grad=True)
    for n in [16, 64]:
        x0 = torch.randn(n, 1, 32, 32)

        def step():
            x = x0.clone().requires_grad_(True)
            h = F.leaky_relu(F.conv2d(x, w1, padding=1), 0.2)
            h = F.leaky_relu(F.conv2d(h, w2, padding=1), 0.2)
            e = F.avg_pool2d(h, 2).sum()
            return torch.autograd.grad(e, [x])[0]

        t = timeit(step)
        print(f"BM_LangevinGradX/{n}  {t * 1e3:.3f} ms  {n / t:.1f} img/s")


if __name__ == "__main__":
    main()
