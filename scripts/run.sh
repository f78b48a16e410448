#!/usr/bin/env bash
# The main job: installs dependencies (and the Fashion-MNIST dataset), builds, and runs the
# demo on the CPU (or the GPU when one is present and the build has CUDA).
# Usage: scripts/run.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"

scripts/install-deps.sh --data
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEBM_CUDA=AUTO
cmake --build "$build" -j "$(nproc)" --target ebm_demo
"$build/apps/ebm_demo" --out runs/demo
