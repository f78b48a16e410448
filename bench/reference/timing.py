"""Timing shared by the PyTorch twins in bench/reference/ (the C++ benchmarks' policy): on the host
clock, the median of repeated runs after warm-up, at least min_seconds and 5 runs; on a GPU
(timeit_gpu), CUDA events around the call only, L2 flushed by a memset before each repetition,
at least min_seconds and 10 runs. pick_device() is the kernel twins' common start (--cpu)."""
import os
import statistics
import sys
import time

import torch


def timeit_cpu(fn, min_seconds=1.0, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timeit_gpu(fn, min_seconds=1.0, warmup=3):
    flush = torch.empty(int(2 * torch.cuda.get_device_properties(0).L2_cache_size) // 4 + (16 << 20),
                        device="cuda")
    start_ev, stop_ev = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(warmup):
        fn()
    times = []
    wall = time.perf_counter()
    while time.perf_counter() - wall < min_seconds or len(times) < 10:
        flush.zero_()
        start_ev.record()
        fn()
        stop_ev.record()
        stop_ev.synchronize()
        times.append(start_ev.elapsed_time(stop_ev) * 1e-3)
    return statistics.median(times)


def pick_device():
    """CUDA where available unless --cpu is given (on the CPU, OMP_NUM_THREADS threads, default
    all cores). Prints the torch version and the device, and a note when torch.compile is missing.
    Returns (use_cuda, device, timeit, has_compile, suffix): timeit_gpu or timeit_cpu, and "Gpu"
    or "Cpu" for the row names."""
    use_cuda = torch.cuda.is_available() and "--cpu" not in sys.argv
    if not use_cuda:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    where = torch.cuda.get_device_name(0) if use_cuda else f"cpu, threads {torch.get_num_threads()}"
    print(f"# torch {torch.__version__}, {where}")
    has_compile = hasattr(torch, "compile")
    if not has_compile:
        print("# torch.compile: not available in this torch version (rows skipped)")
    return (use_cuda, "cuda" if use_cuda else "cpu", timeit_gpu if use_cuda else timeit_cpu, has_compile,
            "Gpu" if use_cuda else "Cpu")
