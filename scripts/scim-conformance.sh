#!/usr/bin/env bash
# SCIM conformance (issue 21): two independent tools from PyPI against a running SCIM service.
#
#   SCIM_BASE_URL=http://127.0.0.1:8797/scim/v2 SCIM_TOKEN=umscim_... bash scripts/scim-conformance.sh
#   bash scripts/scim-conformance.sh --install-only
#
# 1. scim2-tester 0.5.2, through scim2-cli 0.6.0's `scim2 --url URL test`: reads
#    /ServiceProviderConfig, /ResourceTypes and /Schemas, builds its models from what they
#    publish, then creates, reads, lists, searches (POST /.search), replaces, PATCHes (add,
#    remove, replace of every published attribute, with random values it compares with what
#    comes back) and deletes Users and Groups. Any check that is not SUCCESS (an ERROR, or a
#    SKIPPED such as a 501 on /.search) makes it exit 1.
# 2. scim-sanity 0.7.4's `probe` (strict mode): discovery, a User and a Group lifecycle
#    (POST, GET, PUT, PATCH, DELETE, GET 404), search and paging, error responses. Any FAIL
#    or ERROR makes it exit 1; WARN and SKIP do not.
# Both create and delete resources in the token's organization: never point this at an
# organization whose people matter.
#
# The tools and everything they import are pinned in scripts/scim-conformance.requirements.txt
# and installed into .venv-scim/ (git-ignored) with the machine's python3 (>= 3.10), only
# when that file changed since the last install. The token reaches scim2 through the
# environment (SCIM_CLI_HEADERS); scim-sanity only takes it as an argument, so it is visible
# in the process list while the probe runs: use short-lived local tokens.
#
# Output goes to stdout and to $SCIM_REPORT (default .venv-scim/last-report.txt).
# Exit: 0 when neither tool reports a failure, 1 otherwise, 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-scim
REQUIREMENTS=scripts/scim-conformance.requirements.txt
REPORT="${SCIM_REPORT:-$VENV/last-report.txt}"

# 1. The tools, pinned, in a project-local virtualenv (idempotent).
install_tools() {
  local stamp="$VENV/.requirements.sha256" want
  want=$(sha256sum "$REQUIREMENTS" | awk '{print $1}')
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && [ -x "$VENV/bin/scim2" ] && [ -x "$VENV/bin/scim-sanity" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    local python
    python="$(command -v python3 || true)"
    [ -n "$python" ] || { echo "scim-conformance: python3 (>= 3.10) is required" >&2; exit 1; }
    "$python" -m venv "$VENV" \
      || { echo "scim-conformance: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$want" >"$stamp"
}

install_tools
if [ "${1:-}" = "--install-only" ]; then
  exit 0
elif [ -n "${1:-}" ]; then
  echo "usage: SCIM_BASE_URL=<url> SCIM_TOKEN=<token> $0 [--install-only]" >&2
  exit 2
fi

URL="${SCIM_BASE_URL:-}"
TOKEN="${SCIM_TOKEN:-}"
if [ -z "$URL" ] || [ -z "$TOKEN" ]; then
  echo "scim-conformance: set SCIM_BASE_URL (e.g. http://127.0.0.1:8797/scim/v2) and SCIM_TOKEN" >&2
  exit 2
fi
URL="${URL%/}"
# Loopback targets never go through a proxy the environment may name.
export NO_PROXY="${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost"
export no_proxy="$NO_PROXY"

mkdir -p "$(dirname "$REPORT")"
{
  echo "SCIM conformance of $URL"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ); $("$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | awk '$1 ~ /^scim/ {printf "%s%s %s", sep, $1, $2; sep=", "}')"
} | tee "$REPORT"

# One tool's run: its output to stdout and the report; its exit status in RC.
run() {
  local title="$1"; shift
  printf '\n=== %s ===\n' "$title" | tee -a "$REPORT"
  RC=0
  "$@" 2>&1 | tee -a "$REPORT" || RC=$?
}

export SCIM_CLI_HEADERS="Authorization: Bearer $TOKEN"
run "scim2-tester (scim2 test)" "$VENV/bin/scim2" --url "$URL" test
TESTER_RC=$RC
unset SCIM_CLI_HEADERS
run "scim-sanity probe (strict)" \
  "$VENV/bin/scim-sanity" probe "$URL" --token "$TOKEN" --i-accept-side-effects
SANITY_RC=$RC

# A summary of both verdicts: the tester prints one status word per check.
tester_counts=$(sed -n '/^=== scim2-tester/,/^=== scim-sanity/p' "$REPORT" \
  | grep -oE '^(SUCCESS|COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED) ' \
  | sort | uniq -c | awk '{printf "%s%s %s", sep, $2, $1; sep=", "}' || true)
sanity_counts=$(sed -n '/^=== scim-sanity/,$p' "$REPORT" | grep -E '^ +[0-9]+ [a-z]+.*[0-9]+ total$' | sed 's/^ *//' || true)
STATUS=0
[ "$TESTER_RC" = 0 ] && [ "$SANITY_RC" = 0 ] || STATUS=1
{
  echo
  echo "=== summary ==="
  echo "scim2-tester: exit $TESTER_RC (${tester_counts:-no checks ran})"
  echo "scim-sanity:  exit $SANITY_RC (${sanity_counts:-no summary})"
  echo "scim-conformance: report in $REPORT; exit $STATUS"
} | tee -a "$REPORT"
exit "$STATUS"
