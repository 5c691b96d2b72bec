#!/usr/bin/env bash
# Builds build/index.js + the wasm module (scripts/worker-build.sh: the pinned toolchain and
# flags, the locally provided wasm-bindgen and wasm-opt), then the web console into
# build/console (scripts/console.mjs).
# KEEP_WASM_NAMES=1 keeps the wasm's function names, for `npm run profile` and twiggy.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
bash scripts/worker-build.sh
# The console's static assets (build/console), a second or so.
node scripts/console.mjs
