# The Rust toolchain of the release wasm (sourced by setup.sh and build.sh). A pinned nightly,
# because rebuilding std for the Worker with panics as plain traps (`-Cpanic=immediate-abort`)
# and std's size-optimised paths is only possible there: ~36 KB gzip less wasm than stable
# (BENCHMARKS.md, "wasm size"). Host unit tests, clippy and `cargo check` stay on stable.
WASM_TOOLCHAIN=nightly-2026-05-20
