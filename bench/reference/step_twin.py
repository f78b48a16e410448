"""The command line and timing loop shared by the PyTorch twins of the training-step benchmarks
(drl_step_torch.py; bench/step_bench.h is the C++ side): --cpu / --configs / --no-parts /
--min-seconds / --json, one eager (and on a GPU a torch.compile) trainer per configuration, rows
named like the C++ program's (BM_Step{Cpu,Gpu}/config:i, BM_Part.../config:i/part:j) with
ms_per_iter and images/s. Timing: timing.py (median after warm-up); on a GPU the host clock around
each call plus torch.cuda.synchronize()."""
import argparse
import json
import os

import torch

from timing import timeit_cpu


def time_fn(fn, device, min_seconds):
    if device == "cpu":
        return timeit_cpu(fn, min_seconds=min_seconds)

    def synced():
        fn()
        torch.cuda.synchronize()
    return timeit_cpu(synced, min_seconds=min_seconds)


def run_twin(configs, parts, make_trainer, describe, default_cpu="0,1", default_gpu="0,2"):
    """make_trainer(cfg, device, compiled) -> object with step() and one method per name in parts;
    describe(cfg) -> the row label."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu", action="store_true", help="the CPU even where CUDA is available")
    ap.add_argument("--configs", default=None,
                    help=f"comma-separated config indices (default: {default_cpu} on the CPU, {default_gpu} on a GPU)")
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
    chosen = [int(c) for c in (args.configs or (default_gpu if use_cuda else default_cpu)).split(",")]
    variants = [("eager", False)] + ([("compiled", True)] if use_cuda and hasattr(torch, "compile") else [])
    suffix = "Gpu" if use_cuda else "Cpu"
    rows = []
    for ci in chosen:
        cfg = configs[ci]
        for vname, compiled in variants:
            tr = make_trainer(cfg, device, compiled)

            def report(name, sec):
                rows.append(dict(name=name, variant=vname, config=cfg["name"], ms_per_iter=sec * 1e3,
                                 images_per_s=cfg["batch"] / sec))
                print(f"{name:<28} {sec * 1e3:10.1f} ms  {cfg['batch'] / sec:8.2f} images/s  {describe(cfg)} {vname}",
                      flush=True)

            report(f"BM_Step{suffix}/config:{ci}", time_fn(tr.step, device, args.min_seconds))
            if args.no_parts:
                continue
            for pi, pname in enumerate(parts):
                report(f"BM_Part{suffix}/config:{ci}/part:{pi}",
                       time_fn(getattr(tr, pname), device, min(args.min_seconds, 2.0)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, device=where, rows=rows), f, indent=1)
