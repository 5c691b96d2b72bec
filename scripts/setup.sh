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

# The release wasm's toolchain (scripts/toolchain.sh): std is rebuilt from its sources.
source scripts/toolchain.sh
if ! rustup component list --toolchain "$WASM_TOOLCHAIN" --installed 2>/dev/null | grep -q '^rust-src' \
  || ! rustup target list --toolchain "$WASM_TOOLCHAIN" --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup toolchain install "$WASM_TOOLCHAIN" --profile minimal --component rust-src \
    --target wasm32-unknown-unknown
fi

version_of() { "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1; }

if [ "$(version_of worker-build)" != "$WORKER_BUILD_VERSION" ]; then
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# The CLI must equal the wasm-bindgen crate in Cargo.lock; never hard-code it twice.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ "$(version_of wasm-bindgen)" != "$bindgen_version" ]; then
  # Without --locked: its own lockfile names a crate version this registry lacks.
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# Install exactly package-lock.json (`npm ci`), only when it changed since the last install.
# The lock lists every platform's optional workerd build the registry serves, so `npm ci`
# accepts it and a fresh clone's install leaves it untouched.
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | awk '{print $1}')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# The browser tests' Chromium (`--browser`, from scripts/test.sh): Debian's package, since
# Playwright's own browser download is not reachable here. Needs root (CI runs as root).
if [ "${1:-}" = "--browser" ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq chromium
fi
