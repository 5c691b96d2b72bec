#!/usr/bin/env bash
# Builds build/index.js + the wasm module with the locally provided wasm-bindgen and wasm-opt.
# The wasm's name section (function names, ~60 KB gzip) is stripped: workerd does not need
# it. KEEP_WASM_NAMES=1 keeps it, for `npm run profile` and twiggy (BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
# The wasm is compiled by the pinned nightly of scripts/toolchain.sh with std rebuilt for
# size: panics become plain traps (no formatting machinery; a panic aborts the request
# either way), std picks its size-optimised code, and no file/line strings are embedded.
# These flags replace .cargo/config.toml's for this build, so its getrandom flag is repeated.
source scripts/toolchain.sh
export RUSTUP_TOOLCHAIN="$WASM_TOOLCHAIN"
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
export CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='--cfg getrandom_backend="wasm_js" -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none'
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
worker-build --release
if [ "${KEEP_WASM_NAMES:-}" != 1 ]; then
  # The same explicit feature set worker-build gives wasm-opt (never --all-features: no
  # encoding workerd does not know yet); no optimisation passes, only the strip.
  features=()
  for f in mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue \
    reference-types exception-handling; do
    features+=("--enable-$f")
  done
  "$WASM_OPT_BIN" "${features[@]}" --strip-debug build/index_bg.wasm -o build/index_bg.wasm
fi
# Static assets of the Worker (wrangler.toml [assets], the ASSETS binding): data the
# Worker reads rather than compiles in: the OpenAPI document it serves and the
# common-password list every new password is checked against.
mkdir -p build/assets
cp src/openapi.json build/assets/openapi.json
cp src/domain/common_passwords.txt build/assets/common-passwords.txt
