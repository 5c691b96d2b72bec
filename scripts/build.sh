#!/usr/bin/env bash
# Builds build/index.js + the wasm module with the locally provided wasm-bindgen and wasm-opt.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
exec worker-build --release
