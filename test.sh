#!/usr/bin/env bash
# test.sh - build (if needed) and run the whole test suite under ctest.
# The Vulkan tests run on whatever device is present (lavapipe on a CPU-only
# machine) with the Khronos validation layer on; tests needing ../shared data
# or node_modules skip cleanly when those are absent.
set -euo pipefail
cd "$(dirname "$0")"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
if [ -f tests/tokenizer/package-lock.json ] && [ ! -d tests/tokenizer/node_modules ]; then
  npm ci --prefix tests/tokenizer --no-audit --no-fund >/dev/null
fi
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
