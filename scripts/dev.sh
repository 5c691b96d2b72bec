#!/usr/bin/env bash
# Starts the service locally on http://127.0.0.1:8787 with local D1 (migrations applied),
# KV, queues, and the cron handler reachable at /__scheduled?cron=*+*+*+*+*.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx wrangler d1 migrations apply DB --local
# wrangler runs the [build] command of wrangler.toml (scripts/build.sh) before serving.
exec npx wrangler dev --ip 127.0.0.1 --port 8787 --test-scheduled --show-interactive-dev-session=false "$@"
