#!/usr/bin/env bash
# Installs what building and testing need, idempotently: quick when everything is there.
# wasm-bindgen and wasm-opt cannot be downloaded from GitHub on this network, so they come
# from crates.io (wasm-bindgen-cli, version read from Cargo.lock) and npm (binaryen).
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7   # minor version must match the `worker` crate (0.8)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if [ "$(worker-build --version 2>/dev/null | awk '{print $2}')" != "$WORKER_BUILD_VERSION" ]; then
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# The CLI must equal the wasm-bindgen crate in Cargo.lock; never hard-code it twice.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  # Without --locked: its own lockfile names a crate version this registry lacks.
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# npm ci only when package-lock.json changed since the last install.
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | awk '{print $1}')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
