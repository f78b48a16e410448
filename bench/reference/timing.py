"""Host-clock timing shared by the PyTorch twins in bench/reference/: median of repeated runs
after warm-up, at least min_seconds and 5 runs (the C++ benchmarks' policy). GPU timing with CUDA
events lives in the scripts that need it."""
import statistics
import time


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
