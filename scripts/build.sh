#!/usr/bin/env bash
# Builds build/index.js + the wasm module (scripts/worker-build.sh: the pinned toolchain and
# flags, the locally provided wasm-bindgen and wasm-opt).
# KEEP_WASM_NAMES=1 keeps the wasm's function names, for `npm run profile` and twiggy.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
bash scripts/worker-build.sh
