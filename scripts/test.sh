#!/usr/bin/env bash
# Every test: host unit tests (domain logic, property tests), then end-to-end tests through
# the real Worker in Miniflare with local D1, KV and Queues (tests/*.test.mjs) and the web
# console's journeys in Chromium against the same (tests/browser/*.test.mjs; the SCIM
# conformance tools among them), then the
# contract run (schemathesis over /openapi.json against the same build, scripts/contract.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
# The SCIM conformance tools (scim2-cli/scim2-tester, scim-sanity; pinned) into .venv-scim:
# tests/scim-conformance.test.mjs runs them against the Worker.
bash scripts/scim-conformance.sh --install-only
cargo test --lib --quiet
SKIP_SETUP=1 bash scripts/build.sh
npx node --test --test-concurrency=1 'tests/**/*.test.mjs'
SKIP_BUILD=1 bash scripts/contract.sh
