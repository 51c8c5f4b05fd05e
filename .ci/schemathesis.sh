#!/usr/bin/env bash
# Checks that the served OpenAPI document tells the truth: schemathesis generates requests
# from /v1/openapi.json and checks every answer against it (statuses, media types, bodies,
# headers, auth), against a real server on each database. A route that answers something its
# document does not say fails here.
#
# Usage: .ci/schemathesis.sh [sqlite|postgres]...   (default: both)
# Needs PostgreSQL at POSTROUTE_TEST_POSTGRES_URL for the postgres run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/postroute/target}"
POSTGRES_URL="${POSTROUTE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# Fixed, so a failure seen in CI is the failure seen on a laptop.
SEED="${SCHEMATHESIS_SEED:-20261129}"
# Per operation and phase; with the coverage phase's own cases this keeps both databases
# within a few minutes on two cores.
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/postroute/schemathesis-venv}"
REQUIREMENTS=.ci/requirements-schemathesis.txt
PINNED="$(sed -n 's/^schemathesis==//p' "$REQUIREMENTS")"

say() { printf -- '--> %s\n' "$*"; }

if [ "$("$VENV/bin/st" --version 2>/dev/null || true)" != "st, version $PINNED" ]; then
  say "installing schemathesis $PINNED into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
fi

say "building the server"
cargo build --locked --quiet -p postroute
BINARY="$CARGO_TARGET_DIR/debug/postroute"

SERVER_PID=""
WORK=""
DATABASE=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [ -n "$DATABASE" ]; then
    psql "$POSTGRES_URL" -Atqc "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" >/dev/null || true
  fi
  DATABASE=""
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  WORK=""
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# POST a JSON body; prints the status code, the body goes to $WORK/response.json.
post() {
  curl --silent --insecure --output "$WORK/response.json" --write-out '%{http_code}' \
    -H 'Content-Type: application/json' --data "$2" "$BASE_URL$1"
}

run_against() {
  local backend="$1"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/postroute-schemathesis.XXXXXX")"
  local port
  port="$(free_port)"
  BASE_URL="https://127.0.0.1:$port"

  local database_url="sqlite://$WORK/data/postroute.db"
  if [ "$backend" = postgres ]; then
    DATABASE="postroute_schemathesis_$(date +%s)_$$"
    psql "$POSTGRES_URL" -Atqc "CREATE DATABASE \"$DATABASE\"" >/dev/null
    database_url="${POSTGRES_URL%/*}/$DATABASE"
  fi

  say "$backend: starting the server at $BASE_URL"
  mkdir -p "$WORK/data"
  # Development mode: a self-signed certificate, generated keys, email to DATA_DIR/outbox.
  # Rate limits off (allowed only in development): the fuzzer is one client sending thousands
  # of requests, and a 429 would hide what it came to test. The header timeout also closes idle
  # keep-alive connections; the fuzzer leaves its pooled ones idle while it generates cases and
  # would then reuse one the server had just closed. Provider credentials are set so
  # that their routes are exercised; their API hosts point at a closed local port, so that no
  # request can leave the machine.
  env POSTROUTE_ENV=development \
    POSTROUTE_DATA_DIR="$WORK/data" \
    POSTROUTE_DATABASE__URL="$database_url" \
    POSTROUTE_HTTP__LISTEN="127.0.0.1:$port" \
    POSTROUTE_HTTP__PUBLIC_URL="$BASE_URL" \
    POSTROUTE_RATE_LIMITS__ENABLED=false \
    POSTROUTE_HTTP__HEADER_READ_TIMEOUT_SECS=600 \
    POSTROUTE_EMAIL__PROVIDER=log \
    POSTROUTE_X__CLIENT_ID=schemathesis-x \
    POSTROUTE_X__CLIENT_SECRET=schemathesis-x-secret \
    POSTROUTE_X__CONSUMER_SECRET=schemathesis-x-consumer-secret \
    POSTROUTE_X__API_BASE_URL=http://127.0.0.1:9 \
    POSTROUTE_X__AUTH_BASE_URL=http://127.0.0.1:9 \
    POSTROUTE_META__APP_ID=schemathesis-meta \
    POSTROUTE_META__APP_SECRET=schemathesis-meta-secret \
    POSTROUTE_META__WEBHOOK_VERIFY_TOKEN=schemathesis-verify \
    POSTROUTE_META__GRAPH_BASE_URL=http://127.0.0.1:9/ \
    POSTROUTE_META__DIALOG_BASE_URL=http://127.0.0.1:9/ \
    POSTROUTE_STRIPE__WEBHOOK_SECRET=whsec_schemathesis \
    "$BINARY" serve >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 60); do
    curl --silent --insecure --fail "$BASE_URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; return 1; }
    sleep 1
  done
  curl --silent --insecure --fail "$BASE_URL/readyz" >/dev/null \
    || { echo "the server did not become ready" >&2; cat "$WORK/server.log" >&2; return 1; }

  # A verified account, so that the authenticated routes are exercised past their 401. Not
  # POSTROUTE_*: the next server would read those as configuration.
  export FUZZ_ACCOUNT_EMAIL="fuzzer-$backend@example.com"
  export FUZZ_ACCOUNT_PASSWORD="schemathesis wanders the api"
  local status
  status="$(post /v1/auth/register "{\"email\":\"$FUZZ_ACCOUNT_EMAIL\",\"password\":\"$FUZZ_ACCOUNT_PASSWORD\",\"name\":\"Fuzzer\"}")"
  [ "$status" = 202 ] || { echo "register answered $status: $(cat "$WORK/response.json")" >&2; return 1; }
  local token=""
  for _ in $(seq 1 30); do
    token="$(cat "$WORK"/data/outbox/*.eml 2>/dev/null | tr -d '\r' | sed -e ':a' -e '/=$/{N;s/=\n//;ba' -e '}' \
      | grep -o 'verify-email#token=[A-Za-z0-9_-]*' | head -n 1 | cut -d= -f2 || true)"
    [ -n "$token" ] && break
    sleep 1
  done
  [ -n "$token" ] || { echo "no verification email in $WORK/data/outbox" >&2; return 1; }
  status="$(post /v1/auth/verify-email "{\"token\":\"$token\"}")"
  [ "$status" = 200 ] || { echo "verify-email answered $status: $(cat "$WORK/response.json")" >&2; return 1; }

  say "$backend: schemathesis $PINNED, seed $SEED, at most $MAX_EXAMPLES examples per operation"
  local started=$SECONDS
  local outcome=0
  "$VENV/bin/st" --config-file .ci/schemathesis.toml --no-color run "$BASE_URL/v1/openapi.json" \
    --checks all \
    --seed "$SEED" \
    --max-examples "$MAX_EXAMPLES" \
    --tls-verify false \
    --workers 2 \
    --generation-database none \
    --report junit,vcr --report-dir "$WORK/report" \
    || outcome=$?
  say "$backend: schemathesis took $((SECONDS - started)) s"
  if [ "$outcome" -ne 0 ]; then
    # Kept for the post-mortem: the server's log and schemathesis's JUnit report.
    local kept="${TMPDIR:-/tmp}/postroute-schemathesis-$backend-failed"
    rm -rf "$kept" && cp -r "$WORK" "$kept"
    echo "server log and report kept in $kept; the server log's warnings and errors:" >&2
    sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep -E ' (WARN|ERROR) ' | tail -n 20 >&2 || true
  fi
  cleanup
  return "$outcome"
}

backends=("$@")
[ "${#backends[@]}" -gt 0 ] || backends=(sqlite postgres)
for backend in "${backends[@]}"; do
  case "$backend" in
    sqlite | postgres) run_against "$backend" ;;
    *) echo "unknown backend: $backend (sqlite or postgres)" >&2; exit 2 ;;
  esac
done
say "schemathesis passed on: ${backends[*]}"
