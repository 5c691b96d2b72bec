#!/usr/bin/env bash
# Builds build/index.js + the wasm module (scripts/worker-build.sh: the pinned toolchain and
# flags, the locally provided wasm-bindgen and wasm-opt), then the Worker's static assets.
# KEEP_WASM_NAMES=1 keeps the wasm's function names, for `npm run profile` and twiggy.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
bash scripts/worker-build.sh
# Static assets of the Worker (wrangler.toml [assets], the ASSETS binding): data the
# Worker reads rather than compiles in: the OpenAPI document it serves and the
# common-password list every new password is checked against.
mkdir -p build/assets
cp src/openapi.json build/assets/openapi.json
cp src/domain/common_passwords.txt build/assets/common-passwords.txt
