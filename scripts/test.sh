#!/usr/bin/env bash
# The test command: installs dependencies, builds (Release; CUDA backend compiled when nvcc is
# found, for sm_80/sm_90 + PTX), and runs every test. GPU tests skip with "no CUDA device" when
# there is none. Usage: scripts/test.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
jobs="$(nproc)"

scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEBM_CUDA=AUTO
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
