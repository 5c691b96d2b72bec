#!/usr/bin/env bash
# Contract test (`npm run test:contract`): schemathesis, from PyPI, against the built Worker
# served locally, over every operation of GET /openapi.json, with the checks
#   not_a_server_error, status_code_conformance, content_type_conformance,
#   response_schema_conformance.
# Exits non-zero if schemathesis reports any failure (or errors).
#
# Steps: install schemathesis (pinned) into .venv-contract/ if it is not there yet; build the
# Worker (unless SKIP_BUILD is set; scripts/build.sh also runs setup unless SKIP_SETUP=1);
# serve it with Miniflare (scripts/contract-server.mjs, rate limits and lockout raised so
# fuzzing is not throttled), which creates two fixtures through the API (user, org,
# workspaces, members, groups, invitations, a second session, an API token); saves the
# served GET /openapi.json into a file; then these runs:
#   1. main: every operation except the three that end the caller's own account, every
#      session of it or its org (deleteMe, logoutAll, deleteOrg), with the `main` fixture;
#      path parameters are the fixture's real ids (scripts/contract.toml);
#   2. random-ids: the same operations with generated path parameters (unknown, malformed
#      ids: the 404/422 side), same caller (scripts/contract-random-ids.toml);
#   3. destructive: those three, one schemathesis invocation each (deleteMe, deleteOrg,
#      logoutAll: each would leave the next with nothing to act on), with the second fixture.
#
# Knobs (environment):
#   CONTRACT_MAX_EXAMPLES  test cases per operation and phase   (default 50)
#   CONTRACT_DETERMINISTIC 1: hypothesis derandomized (the same cases every run); 0: random
#                          cases from CONTRACT_SEED               (default 1)
#   CONTRACT_SEED          seed (what varies the cases: CONTRACT_DETERMINISTIC=0) (default 7)
#   CONTRACT_PHASES        schemathesis phases                  (default examples,coverage,fuzzing,stateful)
#   CONTRACT_WORKERS       concurrent schemathesis workers      (default 1: reproducible order)
#   CONTRACT_PORT          local port of the Worker             (default 8797)
#   CONTRACT_ARGS          extra arguments for `schemathesis run` (e.g. --include-operation-id getMe)
#   SKIP_BUILD             set: use build/ as it is
# Output goes to stdout and to .venv-contract/last-report.txt (JUnit XML of each run next to it).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=.venv-contract
REPORT="$VENV/last-report.txt"
MAX_EXAMPLES="${CONTRACT_MAX_EXAMPLES:-50}"
SEED="${CONTRACT_SEED:-7}"
GENERATION=(--generation-deterministic --seed "$SEED")
[ "${CONTRACT_DETERMINISTIC:-1}" = 1 ] || GENERATION=(--seed "$SEED")
PHASES="${CONTRACT_PHASES:-examples,coverage,fuzzing,stateful}"
WORKERS="${CONTRACT_WORKERS:-1}"
PORT="${CONTRACT_PORT:-8797}"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
DESTRUCTIVE=(deleteMe deleteOrg logoutAll)

# 1. schemathesis, pinned, in a project-local virtualenv (idempotent).
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  PYTHON="$(command -v python3 || true)"
  [ -n "$PYTHON" ] || { echo "contract: python3 (>= 3.10) is required" >&2; exit 1; }
  "$PYTHON" -m venv "$VENV" || { echo "contract: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
SCHEMATHESIS="$VENV/bin/schemathesis"
# hypothesis keeps its working files here rather than in ./.hypothesis
export HYPOTHESIS_STORAGE_DIRECTORY="$PWD/$VENV/hypothesis"

# 2. The Worker bundle.
if [ -z "${SKIP_BUILD:-}" ]; then
  bash scripts/build.sh
fi
[ -f build/index.js ] && [ -f build/index_bg.wasm ] || { echo "contract: no build/; run without SKIP_BUILD" >&2; exit 1; }
[ -d node_modules ] || { echo "contract: no node_modules/; run without SKIP_BUILD (setup installs them)" >&2; exit 1; }
NODE=node
[ -x node_modules/.bin/node ] && NODE="$PWD/node_modules/.bin/node" # Node 22, as npm run would

# 3. The server and its fixtures.
FIXTURES="$VENV/fixtures.json"
SERVER_LOG="$VENV/server.log"
rm -f "$FIXTURES"
"$NODE" scripts/contract-server.mjs "$PORT" "$FIXTURES" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 240); do
  [ -f "$FIXTURES" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "contract: server exited:" >&2; tail -n 40 "$SERVER_LOG" >&2; exit 1; }
  sleep 0.5
done
[ -f "$FIXTURES" ] || { echo "contract: server not ready after 120 s" >&2; tail -n 40 "$SERVER_LOG" >&2; exit 1; }

# The document as the Worker serves it, saved to a file: loaded from its URL, schemathesis
# leaves out the operation that serves it (GET /openapi.json), which is part of the contract.
SCHEMA="$VENV/openapi.json"
"$VENV/bin/python" -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1]).read())' \
  "http://127.0.0.1:$PORT/openapi.json" "$SCHEMA"

# Exports CT_* (scripts/contract.toml's placeholders) for one fixture.
use_fixture() {
  eval "$("$VENV/bin/python" - "$FIXTURES" "$1" <<'PY'
import json, shlex, sys
doc = json.load(open(sys.argv[1]))
f = doc[sys.argv[2]]
# Every string of the fixture as CT_<KEY> (e.g. ws_deleted -> CT_WS_DELETED).
env = {f"CT_{k.upper()}": v for k, v in f.items() if isinstance(v, str)}
env["CT_OPERATOR_TOKEN"] = doc["operator_token"]
for k, v in env.items():
    print(f"export {k}={shlex.quote(v)}")
PY
)"
  # Dictionaries of scripts/contract.toml (libFuzzer format: one quoted value per line):
  # values a generated body field takes half of the time, to get past 404/422 to the 2xx.
  mkdir -p "$VENV/dict"
  printf '"%s"\n' "$CT_USER" "$CT_GROUP" >"$VENV/dict/principals.txt"
  printf '"%s"\n' "$CT_PASSWORD" >"$VENV/dict/password.txt"
}

: >"$REPORT"
STATUS=0
# One schemathesis run; its output to stdout and the report; remembers a failure.
run() {
  local name="$1" config="$2"; shift 2
  echo "=== contract run: $name ===" | tee -a "$REPORT"
  local rc=0
  # shellcheck disable=SC2086 # CONTRACT_ARGS is split on purpose
  "$SCHEMATHESIS" --config-file "$config" run "$SCHEMA" \
    --url "http://127.0.0.1:$PORT" \
    --checks "$CHECKS" \
    --phases "$PHASES" \
    --max-examples "$MAX_EXAMPLES" \
    "${GENERATION[@]}" \
    --workers "$WORKERS" \
    --continue-on-failure \
    --no-color \
    --report junit --report-junit-path "$VENV/junit-$name.xml" \
    "$@" ${CONTRACT_ARGS:-} 2>&1 | tee -a "$REPORT" || rc=$?
  [ "$rc" = 0 ] || STATUS=1
}

START=$SECONDS
use_fixture main
EXCLUDES=()
for op in "${DESTRUCTIVE[@]}"; do EXCLUDES+=(--exclude-operation-id "$op"); done
run main scripts/contract.toml "${EXCLUDES[@]}"
run random-ids scripts/contract-random-ids.toml "${EXCLUDES[@]}"

use_fixture destructive
for op in "${DESTRUCTIVE[@]}"; do
  run "destructive-$op" scripts/contract.toml --include-operation-id "$op"
done

echo "contract: $((SECONDS - START)) s of schemathesis; report in $REPORT; exit $STATUS" | tee -a "$REPORT"
exit "$STATUS"
