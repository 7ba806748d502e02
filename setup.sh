#!/usr/bin/env bash
# setup.sh - install what is missing (Debian 12), build vkbert, and classify
# three example sentences with the built-in model.
#   ./setup.sh              everything
#   ./setup.sh --deps-only  only install the Debian packages
set -euo pipefail
cd "$(dirname "$0")"

PKGS=(build-essential cmake pkg-config git
      libcjson-dev libmicrohttpd-dev libutf8proc-dev zlib1g-dev libzstd-dev zstd libopenblas-dev libopenblas0-pthread libdnnl-dev
      glslc spirv-headers spirv-tools libvulkan-dev libvulkan-volk-dev mesa-vulkan-drivers vulkan-validationlayers
      clang python3 python3-numpy python3-dask python3-distributed)
# Node.js + npm only run the tokenizer comparison test; keep any existing install
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "== installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ "${1:-}" = "--deps-only" ] && exit 0

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"

echo "== classifying with the built-in model (models/default)"
./build/vkbert classify \
  "This movie was absolutely amazing, I loved every minute of it!" \
  "The plot made no sense and the acting was terrible. A complete waste of time." \
  "It was okay: a few good scenes, but mostly forgettable."
