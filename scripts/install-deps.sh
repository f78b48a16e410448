#!/usr/bin/env bash
# Installs what building and testing ebm needs, from Debian packages only. Idempotent: packages
# already present are skipped, so a second run does nothing.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --data     also the Fashion-MNIST dataset (for the demo run)
#   scripts/install-deps.sh --torch    also python3-torch and the safetensors package (PyPI; not
#                                      in Debian) for /usr/bin/python3: only to regenerate goldens,
#                                      run the bench twins and the checkpoint interop check
set -euo pipefail

packages=(build-essential cmake pkg-config libeigen3-dev libgtest-dev libgmock-dev
          libbenchmark-dev zlib1g-dev libpng-dev libjpeg-dev)
for arg in "$@"; do
  case "$arg" in
    --data) packages+=(dataset-fashion-mnist) ;;
    --torch) packages+=(python3-torch python3-numpy python3-scipy) ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --data or --torch)" >&2; exit 2 ;;
  esac
done

want_safetensors=0
for arg in "$@"; do [ "$arg" = --torch ] && want_safetensors=1 && packages+=(python3-pip); done

install_safetensors() {
  # PEP 668: Debian's interpreter refuses plain pip installs; this package has no Debian build.
  if [ "$want_safetensors" = 1 ] && ! /usr/bin/python3 -c "import safetensors" 2>/dev/null; then
    echo "install-deps: pip-installing safetensors for /usr/bin/python3"
    /usr/bin/python3 -m pip install --quiet --break-system-packages safetensors
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_safetensors
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
install_safetensors
