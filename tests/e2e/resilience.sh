#!/usr/bin/env bash
# e2e tier of `make test`: the gateway when PostgreSQL goes away (killed backends, a restart
# under a standalone gateway), its connection limit, and a fast stop of the hosted gateway.
# Needs the dev cluster (`make run`); builds the standalone documentdb-gateway binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
if [[ -z "${CARGO_TARGET_DIR:-}" && -d "${HOME}/.cache/documentdb-rs" ]]; then
    export CARGO_TARGET_DIR="${HOME}/.cache/documentdb-rs/target"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

URI_FILE="$ROOT/data/mongodb.uri"
if [[ ! -s "$URI_FILE" ]]; then
    echo "resilience.sh: $URI_FILE is missing: start the dev cluster with 'make run'" >&2
    exit 1
fi

# shellcheck source=../../scripts/ensure_pymongo.sh
source "$ROOT/scripts/ensure_pymongo.sh"
ensure_pymongo

cargo build --release --quiet -p documentdb_gateway --bin documentdb-gateway
GATEWAY="$TARGET_DIR/release/documentdb-gateway"
# The gateway runs as the postgres OS user (peer authentication on the unix socket).
chmod o+rx "$TARGET_DIR" "$TARGET_DIR/release" 2>/dev/null || true

python3 tests/e2e/test_resilience.py --uri "$(tr -d '\n' <"$URI_FILE")" --pg-data "$ROOT/data" \
    --pg-port "${DOCUMENTDB_PG_PORT:-9712}" --gateway "$GATEWAY"
