#!/usr/bin/env bash
# One IGEBM training step, ours beside PyTorch's: runs bench/bench_igebm_step (Google Benchmark,
# JSON) and its twin bench/reference/igebm_step_torch.py (Debian's /usr/bin/python3 with
# python3-torch) with the same thread count, then prints ms per iteration and images/s side by side
# for the step and its parts (spectral_norm, langevin, loss, adam), wall clock and process CPU
# time (ratios below 1: ours is faster).
# Usage: bench/run_igebm_step.sh [build-dir] [--gpu] [--no-parts]
#   build-dir  default: build.  Threads: OMP_NUM_THREADS (default: nproc), used by both sides.
#   --gpu      the GPU rows (BM_*Gpu; the twin on CUDA, eager and torch.compile where available)
#              instead of the CPU rows; configurations demo and cifar (batch 128, K 60).
# Output: the table on stdout; the raw JSON in $OUT_DIR (default: a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
build="build"
gpu=0
parts=1
for a in "$@"; do
  case "$a" in
    --gpu) gpu=1 ;;
    --no-parts) parts=0 ;;
    -*) echo "run_igebm_step.sh: unknown option $a" >&2; exit 2 ;;
    *) build="$a" ;;
  esac
done
bin="$build/bench/bench_igebm_step"
[[ -x "$bin" ]] || { echo "run_igebm_step.sh: $bin not found; build the bench_igebm_step target first" >&2; exit 1; }
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
out="${OUT_DIR:-$(mktemp -d)}"
mkdir -p "$out"

if [[ $gpu == 1 ]]; then
  filter='BM_StepGpu'; [[ $parts == 1 ]] && filter='BM_(Step|Part)Gpu'
  twin_args=(--configs 0,2)
else
  filter='BM_StepCpu'; [[ $parts == 1 ]] && filter='BM_(Step|Part)Cpu'
  twin_args=(--cpu --configs 0,1)
fi
[[ $parts == 1 ]] || twin_args+=(--no-parts)

echo "# $(date -u +%FT%TZ)  $(uname -m), $(nproc) CPUs, OMP_NUM_THREADS=$OMP_NUM_THREADS, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ours:    $bin --benchmark_filter='$filter'"
"$bin" --benchmark_filter="$filter" --benchmark_out="$out/ebm.json" --benchmark_out_format=json \
  > "$out/ebm.txt" 2>&1 || { cat "$out/ebm.txt" >&2; exit 1; }
echo "# PyTorch: /usr/bin/python3 bench/reference/igebm_step_torch.py ${twin_args[*]}"
/usr/bin/python3 bench/reference/igebm_step_torch.py "${twin_args[@]}" --json "$out/torch.json" \
  > "$out/torch.txt" 2>&1 || { cat "$out/torch.txt" >&2; exit 1; }
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); raw output in $out"

/usr/bin/python3 - "$out/ebm.json" "$out/torch.json" <<'EOF'
import json, re, sys
ebm = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
print(f"# {torch['device']}, torch {torch['torch']}")
parts = ["spectral_norm", "langevin", "loss", "adam"]
ours = {}
for b in ebm["benchmarks"]:
    if b.get("error_occurred"):
        print(f"# {b['name']}: skipped ({b.get('error_message', '')})")
        continue
    m = re.match(r"BM_(Step|Part)(Cpu|Gpu)/config:(\d+)(?:/part:(\d+))?", b["name"])
    if not m:
        continue
    key = ("step" if m.group(1) == "Step" else parts[int(m.group(4))], int(m.group(3)))
    ours[key] = (b["ms_per_iter"], b["images_per_s"], b.get("cpu_ms_per_iter", 0.0))
names = {0: "demo", 1: "cifar_reduced", 2: "cifar"}
theirs = {}
for r in torch["rows"]:
    m = re.match(r"BM_(Step|Part)(Cpu|Gpu)/config:(\d+)(?:/part:(\d+))?", r["name"])
    key = ("step" if m.group(1) == "Step" else parts[int(m.group(4))], int(m.group(3)))
    theirs.setdefault(key, {})[r["variant"]] = (r["ms_per_iter"], r["images_per_s"],
                                                r.get("cpu_ms_per_iter", 0.0))
print("# wall: median ms per iteration and images/s; cpu: median process CPU ms per iteration")
print(f"{'config':<14} {'what':<14} {'ebm ms':>10} {'ebm img/s':>10} {'ebm cpu':>10} "
      f"{'torch ms':>10} {'torch img/s':>11} {'torch cpu':>10} {'wall ratio':>10} {'cpu ratio':>10}")
order = ["step"] + parts
for key in sorted(set(ours) | set(theirs), key=lambda k: (k[1], order.index(k[0]))):
    o = ours.get(key)
    for variant, t in sorted(theirs.get(key, {"eager": None}).items()):
        what = key[0] + ("" if variant == "eager" else f" ({variant})")
        cells = [f"{names.get(key[1], key[1]):<14}", f"{what:<14}"]
        cells += [f"{o[0]:10.1f}", f"{o[1]:10.2f}", f"{o[2]:10.1f}"] if o else [f"{'-':>10}"] * 3
        cells += [f"{t[0]:10.1f}", f"{t[1]:11.2f}", f"{t[2]:10.1f}"] if t else [f"{'-':>10}", f"{'-':>11}", f"{'-':>10}"]
        cells.append(f"{o[0] / t[0]:10.2f}" if o and t else f"{'-':>10}")
        cells.append(f"{o[2] / t[2]:10.2f}" if o and t and t[2] > 0 else f"{'-':>10}")
        print(" ".join(cells))
EOF
