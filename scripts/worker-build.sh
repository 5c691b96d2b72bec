#!/usr/bin/env bash
# Builds the Worker crate in directory $1 (default: the repository's, the service) into
# $1/build/ with the release toolchain and flags below: scripts/build.sh builds the service
# with it, and bench/run.mjs the benchmark's bare Worker (bench/floor), so the two are
# compiled alike. Expects the tools of scripts/setup.sh.
# The wasm's name section (function names, ~60 KB gzip) is stripped: workerd does not need
# it. KEEP_WASM_NAMES=1 keeps it, for `npm run profile` and twiggy (BENCHMARKS.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "${1:-$root}"
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
# The wasm is compiled by the pinned nightly of scripts/toolchain.sh with std rebuilt for
# size: panics become plain traps (no formatting machinery; a panic aborts the request
# either way), std picks its size-optimised code, and no file/line strings are embedded.
# These flags replace .cargo/config.toml's for this build, so its getrandom flag is repeated.
source "$root/scripts/toolchain.sh"
export RUSTUP_TOOLCHAIN="$WASM_TOOLCHAIN"
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
export CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='--cfg getrandom_backend="wasm_js" -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none'
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
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
