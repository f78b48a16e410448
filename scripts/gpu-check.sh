#!/usr/bin/env bash
# The one-command GPU check: builds ebm (Release, CUDA for this machine's GPU), runs every ctest
# label, runs every bench_* binary, and prints a short pass/fail + figures table last.
#   scripts/gpu-check.sh OUTDIR
# OUTDIR receives build.log, ctest.log, ctest.xml (JUnit), <bench>.json per benchmark binary and
# <twin>.txt per PyTorch twin that was run (bench/reference/, when python3 has CUDA torch).
# Made for the lent GPU machine (16 cores, CUDA toolkit, PyTorch with the nvidia-cudnn wheel, no
# network) and its 10-minute command limit: the whole run stays inside EBM_GPU_CHECK_BUDGET_S
# (default 570 s) by giving ctest a stop time and each benchmark a timeout.
# Exit status: 0 only if everything built, no test failed, no cuda test was skipped, and every
# benchmark ran.
#
# Missing Debian packages (libgtest-dev, libbenchmark-dev, libeigen3-dev, ...) are taken from the
# apt cache if it has them, else from .deb files carried in EBM_DEB_DIR (default: .debs in the
# repository root; unpacked under /tmp, never into /). Fill it on a machine with a registry:
#   mkdir -p .debs && cd .debs && apt-get download libgtest-dev libgmock-dev libbenchmark-dev \
#     libbenchmark1debian libeigen3-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev libjpeg-dev
# Knobs for trying the script without a GPU: EBM_GPU_CHECK_ARCH=90 (skip nvidia-smi),
# EBM_GPU_CHECK_ALLOW_NO_GPU=1 (cuda skips are then not a failure), EBM_GPU_CHECK_USE_DEBS=1
# (prefer the carried .debs even where the packages are installed).
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: scripts/gpu-check.sh OUTDIR" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1" || exit 2
out="$(cd "$1" && pwd)"
build="${EBM_GPU_CHECK_BUILD_DIR:-$repo/build-gpu}"
jobs="$(nproc)"
t0=$(date +%s)
deadline=$((t0 + ${EBM_GPU_CHECK_BUDGET_S:-570}))
left() { echo $((deadline - $(date +%s))); }
say() { echo "gpu-check: $*"; }
die() {
  echo "gpu-check: FAILED: $*" >&2
  echo "RESULT: FAIL ($*)"
  exit 1
}
export PATH="$PATH:/usr/local/cuda/bin"

# ---- the GPU and its architecture
gpu_name="none"
if [ -n "${EBM_GPU_CHECK_ARCH:-}" ]; then
  arch="$EBM_GPU_CHECK_ARCH"
elif command -v nvidia-smi > /dev/null; then
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' ')"
  gpu_name="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n1)"
  arch="${cap/./}"
  [[ "$arch" =~ ^[0-9]+$ ]] || die "nvidia-smi gave compute capability '$cap'"
else
  die "nvidia-smi not found: no NVIDIA driver on this machine (set EBM_GPU_CHECK_ARCH to build anyway)"
fi
say "GPU: $gpu_name, building for sm_$arch"
command -v nvcc > /dev/null || die "nvcc not found on PATH or in /usr/local/cuda/bin"
command -v cmake > /dev/null || die "cmake not found"

# ---- Debian packages the build needs
deb_dir="${EBM_DEB_DIR:-$repo/.debs}"
deps_prefix=/tmp/ebm-gpu-check-deps
prefix_path=""
# need PACKAGE PROBE_FILE [EXTRA_DEB_PACKAGES...]: the package's header must exist.
need() {
  local pkg="$1" probe="$2"
  shift 2
  if [ -e "$probe" ] && [ -z "${EBM_GPU_CHECK_USE_DEBS:-}" ]; then return 0; fi
  if [ -z "${EBM_GPU_CHECK_USE_DEBS:-}" ] && command -v apt-get > /dev/null &&
     DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download --no-install-recommends \
       "$pkg" > /dev/null 2>&1 && [ -e "$probe" ]; then
    say "installed $pkg from the local apt cache"
    return 0
  fi
  local debs=() p f
  for p in "$pkg" "$@"; do
    f="$(ls "$deb_dir"/"${p}"_*.deb 2> /dev/null | head -n1)"
    [ -n "$f" ] && debs+=("$f")
  done
  if [ -n "$(ls "$deb_dir"/"${pkg}"_*.deb 2> /dev/null)" ]; then
    mkdir -p "$deps_prefix"
    for f in "${debs[@]}"; do dpkg -x "$f" "$deps_prefix" || die "could not unpack $f"; done
    prefix_path="$deps_prefix/usr"
    say "using $pkg from the carried $(basename "${debs[0]}") (unpacked in $deps_prefix)"
    return 0
  fi
  die "missing Debian package $pkg ($probe not found; not in the apt cache; no $deb_dir/${pkg}_*.deb carried)"
}
need libgtest-dev /usr/include/gtest/gtest.h
need libbenchmark-dev /usr/include/benchmark/benchmark.h libbenchmark1debian
need libeigen3-dev /usr/include/eigen3/Eigen/Core
grep -rqs "gmock" "$repo/tests/CMakeLists.txt" && need libgmock-dev /usr/include/gmock/gmock.h
grep -rqsE "find_package\((ZLIB|PNG)" "$repo/CMakeLists.txt" "$repo/cmake" &&
  need zlib1g-dev /usr/include/zlib.h
grep -rqsE "find_package\(PNG" "$repo/CMakeLists.txt" "$repo/cmake" && need libpng-dev /usr/include/png.h
grep -rqsE "find_package\(JPEG" "$repo/CMakeLists.txt" "$repo/cmake" &&
  need libjpeg62-turbo-dev /usr/include/jpeglib.h libjpeg-dev

# ---- cuDNN: the toolkit's, the system's, or the Python wheel's (the module looks at EBM_CUDNN_ROOT)
if [ -e /usr/local/cuda/include/cudnn.h ] && ls /usr/local/cuda/lib*/libcudnn.so* > /dev/null 2>&1; then
  cudnn_from="CUDA toolkit (/usr/local/cuda)"
elif [ -e /usr/include/cudnn.h ] || [ -e /usr/include/x86_64-linux-gnu/cudnn.h ]; then
  cudnn_from="system (/usr/include)"
else
  wheel="$(python3 -c 'import nvidia.cudnn as m, os
f = getattr(m, "__file__", None)
print(os.path.dirname(f) if f else list(m.__path__)[0])' 2> /dev/null)"
  [ -n "$wheel" ] && [ -e "$wheel/include/cudnn.h" ] ||
    die "cuDNN not found: not in /usr/local/cuda, /usr/include, nor as python3's nvidia.cudnn wheel"
  export EBM_CUDNN_ROOT="$wheel"
  export LD_LIBRARY_PATH="$wheel/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  cudnn_from="Python wheel nvidia.cudnn ($wheel)"
fi
say "cuDNN: $cudnn_from"

# ---- configure and build
gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
[ -f "$build/CMakeCache.txt" ] && ! grep -q "CMAKE_GENERATOR:INTERNAL=${gen[1]:-Unix Makefiles}$" \
  "$build/CMakeCache.txt" && rm -rf "$build"
build_t0=$(date +%s)
{
  cmake -S "$repo" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DEBM_CUDA=ON \
    -DEBM_CUDA_ARCHITECTURES="$arch" -DEBM_BUILD_TESTS=ON -DEBM_BUILD_BENCH=ON \
    -DEBM_BUILD_APPS=ON ${prefix_path:+-DCMAKE_PREFIX_PATH="$prefix_path"} &&
    timeout $(( $(left) > 120 ? $(left) - 60 : 60 )) cmake --build "$build" -j "$jobs"
} > "$out/build.log" 2>&1
build_rc=$?
build_s=$(($(date +%s) - build_t0))
if [ $build_rc -ne 0 ]; then
  grep -E "error|Error|FAILED" "$out/build.log" | head -n 30
  die "build failed after ${build_s}s (exit $build_rc; see build.log)"
fi
say "built in ${build_s}s; $(grep -m1 'cuDNN library' "$out/build.log" | sed 's/^-- //')"

# ---- tests: every label, stopped in time to leave room for the benchmarks
bench_bins=()
while IFS= read -r -d '' b; do bench_bins+=("$b"); done < <(
  find "$build/bench" -maxdepth 2 -type f -name 'bench_*' -perm -u+x -print0 2> /dev/null | sort -z)
reserve=$((30 + 60 * ${#bench_bins[@]}))
[ $reserve -gt 240 ] && reserve=240
stop_at=$(($(date +%s) + $(left) - reserve))
ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 300 \
  --stop-time "$(date -d "@$stop_at" +%H:%M:%S)" --output-junit "$out/ctest.xml" \
  > "$out/ctest.log" 2>&1
ctest_rc=$?
ctest --test-dir "$build" --show-only=json-v1 > "$build/ctest-tests.json" 2> /dev/null

# ---- benchmarks
bench_status=()
for b in "${bench_bins[@]}"; do
  name="$(basename "$b")"
  budget=$(($(left) - 15))
  if [ $budget -lt 20 ]; then
    bench_status+=("$name:not run (out of time)")
    continue
  fi
  [ $budget -gt 180 ] && budget=180
  timeout "$budget" "$b" --benchmark_out="$out/$name.json" --benchmark_out_format=json \
    > "$build/$name.log" 2>&1
  rc=$?
  bench_status+=("$name:$([ $rc -eq 0 ] && echo ok || echo "failed (exit $rc)")")
done

# ---- PyTorch twins of benchmarks (bench/reference/), when python3 has torch with CUDA: the same
# work in PyTorch on the same GPU, for the figures side by side. Each gets at most 90 s; their
# output goes to OUTDIR/<twin>.txt and its result lines into the summary. Not a pass/fail item.
twins=(spectral_norm_torch)
twin_status=()
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' > /dev/null 2>&1; then
  for t in "${twins[@]}"; do
    budget=$(($(left) - 15))
    [ $budget -gt 90 ] && budget=90
    if [ $budget -lt 20 ]; then
      twin_status+=("$t:not run (out of time)")
      continue
    fi
    (cd "$repo/bench/reference" && timeout "$budget" python3 "$t.py") > "$out/$t.txt" 2>&1
    rc=$?
    twin_status+=("$t:$([ $rc -eq 0 ] && echo ok || echo "failed (exit $rc)")")
  done
else
  twin_status+=("pytorch twins:not run (python3 has no torch with CUDA)")
fi

# ---- the summary, last
python3 - "$out" "$build/ctest-tests.json" "$ctest_rc" "$build_s" "$gpu_name" "$arch" \
  "$cudnn_from" "${EBM_GPU_CHECK_ALLOW_NO_GPU:-}" "$(IFS='|'; echo "${twin_status[*]}")" \
  "${bench_status[@]}" << 'EOF'
import json, os, sys, xml.etree.ElementTree as ET

out, tests_json, ctest_rc, build_s, gpu, arch, cudnn, allow_no_gpu, twins = sys.argv[1:10]
benches = [s.split(":", 1) for s in sys.argv[10:]]
ok = True

labels = {}
try:
    for t in json.load(open(tests_json)).get("tests", []):
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        labels[t["name"]] = props.get("LABELS", []) or ["(none)"]
except Exception:
    pass

counts, failed, skipped_cuda = {}, [], []
try:
    for case in ET.parse(os.path.join(out, "ctest.xml")).getroot().iter("testcase"):
        name, status = case.get("name"), case.get("status")
        kind = "passed" if status == "run" else "failed" if status == "fail" else "skipped"
        if kind == "failed":
            failed.append(name)
        for label in labels.get(name, ["(none)"]):
            c = counts.setdefault(label, {"passed": 0, "failed": 0, "skipped": 0})
            c[kind] += 1
            if label == "cuda" and kind == "skipped":
                skipped_cuda.append(name)
except Exception as e:
    print(f"could not read ctest.xml: {e}")
    ok = False

print()
print(f"== gpu-check summary: {gpu}, sm_{arch}; cuDNN from {cudnn} ==")
print(f"{'build':<34} ok ({build_s} s)")
for label in sorted(counts):
    c = counts[label]
    print(f"{'tests [' + label + ']':<34} {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped")
if not counts:
    print(f"{'tests':<34} none ran (ctest exit {ctest_rc})")
    ok = False
for name in failed[:15]:
    print(f"  FAILED {name}")
if len(failed) > 15:
    print(f"  ... and {len(failed) - 15} more (ctest.log)")
if failed or ctest_rc != "0":
    ok = False
if skipped_cuda and not allow_no_gpu:
    print(f"  {len(skipped_cuda)} cuda tests SKIPPED on a GPU machine, e.g. {skipped_cuda[0]}")
    ok = False

def fmt_time(v, unit):
    return f"{v:.3g} {unit}"

for name, status in benches:
    print(f"{name:<34} {status}")
    if status != "ok":
        ok = False
        continue
    try:
        rows = [r for r in json.load(open(os.path.join(out, name + ".json")))["benchmarks"]
                if r.get("run_type", "iteration") == "iteration" or r.get("aggregate_name") == "median"]
    except Exception as e:
        print(f"  (no readable {name}.json: {e})")
        ok = False
        continue
    for r in rows[:16]:
        extra = ""
        if "bytes_per_second" in r:
            extra = f"{r['bytes_per_second'] / 1e9:8.1f} GB/s"
        elif "items_per_second" in r:
            extra = f"{r['items_per_second'] / 1e9:8.3f} G items/s"
        if "vs_copy" in r:
            extra += f"  vs_copy {r['vs_copy']:.2f}"
        print(f"  {r['name'][:40]:<40} {fmt_time(r['real_time'], r.get('time_unit', 'ns')):>12} {extra}")
    if len(rows) > 16:
        print(f"  ... {len(rows) - 16} more in {name}.json")
if not benches:
    print(f"{'benchmarks':<34} none built")
for item in filter(None, twins.split("|")):
    name, status = item.split(":", 1)
    print(f"{name:<34} {status}")
    try:
        for line in open(os.path.join(out, name + ".txt")):
            if line.startswith("BM_") or line.startswith("# torch"):
                print(f"  {line.rstrip()[:100]}")
    except OSError:
        pass
print(f"RESULT: {'PASS' if ok else 'FAIL'}   (logs and JSON in {out})")
sys.exit(0 if ok else 1)
EOF
