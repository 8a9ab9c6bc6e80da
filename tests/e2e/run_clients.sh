#!/usr/bin/env bash
# e2e tier of `make test`: real MongoDB clients against the running dev cluster's gateway.
#   1. tests/gateway/test_gateway.py      pymongo + mongosh: handshake, auth, transport, commands
#   2. tests/e2e/test_pymongo_flows.py    pymongo: everyday application flows, BSON types, errors
#   3. cargo test -p driver_rust_tests    the official Rust `mongodb` driver: the same flows, transactions
#   4. tests/e2e/mongosh_smoke.js         mongosh: insert, query, update, aggregate
#   5. tests/e2e/test_indexes.py          pymongo: indexes serve queries with unchanged results
#   6. tests/e2e/test_authz.py            pymongo + psql: MongoDB's role matrix, custom roles, no escalation
#   7. tests/e2e/test_transactions.py     pymongo: multi-document transactions, conflicts, labels
#   8. tests/e2e/mongoose_transactions.js Mongoose (Node ODM): transaction()/withTransaction(), transfers
#   9. tests/e2e/test_aggregation.py      pymongo: $lookup, $bucket, $sample as the manual documents them
#  10. tests/e2e/test_odm.py              Beanie fetch_links, MongoEngine aggregate with $lookup
# Needs the dev cluster (`make run`) and data/mongodb.uri. Installs what is missing: pymongo,
# beanie and mongoengine (pip, the ODMs pinned in scripts/ensure_odms.sh), mongosh and mongoose
# (npm ci from tests/e2e/package-lock.json). Runs every suite, then fails if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

URI_FILE="$ROOT/data/mongodb.uri"
if [[ ! -s "$URI_FILE" ]]; then
    echo "run_clients.sh: $URI_FILE is missing: start the dev cluster with 'make run'" >&2
    exit 1
fi
URI="$(tr -d '\n' <"$URI_FILE")"
MONGOSH="$ROOT/tests/e2e/node_modules/.bin/mongosh"

log() { printf '\n\033[1m--> %s\033[0m\n' "$*" >&2; }

# ------------------------------------------------------------------ prerequisites

# shellcheck source=../../scripts/ensure_pymongo.sh
source "$ROOT/scripts/ensure_pymongo.sh"
ensure_pymongo
# shellcheck source=../../scripts/ensure_odms.sh
source "$ROOT/scripts/ensure_odms.sh"
ensure_odms

if [[ ! -x "$MONGOSH" || ! -f "$ROOT/tests/e2e/node_modules/mongoose/package.json" ]]; then
    log "installing mongosh and mongoose (npm ci)"
    # Neither needs its dependencies' install scripts (optional native add-ons).
    npm ci --prefix "$ROOT/tests/e2e" --ignore-scripts --no-audit --no-fund --loglevel=error
    [[ -x "$MONGOSH" && -f "$ROOT/tests/e2e/node_modules/mongoose/package.json" ]]
fi

# ------------------------------------------------------------------ suites

failed=()
started=$SECONDS

run() {
    local name="$1"
    shift
    local t0=$SECONDS
    log "$name"
    if "$@"; then
        echo "run_clients.sh: $name passed in $((SECONDS - t0)) s" >&2
    else
        echo "run_clients.sh: $name FAILED (exit $?) after $((SECONDS - t0)) s" >&2
        failed+=("$name")
    fi
}

run "gateway suite (tests/gateway/test_gateway.py)" \
    python3 tests/gateway/test_gateway.py --uri "$URI" --mongosh "$MONGOSH"
run "pymongo flows (tests/e2e/test_pymongo_flows.py)" \
    python3 tests/e2e/test_pymongo_flows.py --uri "$URI"
run "Rust driver flows (cargo test -p driver_rust_tests)" \
    env MONGODB_URI="$URI" cargo test -p driver_rust_tests
run "mongosh smoke (tests/e2e/mongosh_smoke.js)" \
    "$MONGOSH" "$URI" --quiet --file tests/e2e/mongosh_smoke.js
run "indexes (tests/e2e/test_indexes.py)" \
    python3 tests/e2e/test_indexes.py --uri "$URI"
run "authorization (tests/e2e/test_authz.py)" \
    python3 tests/e2e/test_authz.py --uri "$URI" --pg-uri "$(cat data/postgres.uri)"
run "transactions (tests/e2e/test_transactions.py)" \
    python3 tests/e2e/test_transactions.py --uri "$URI"
run "Mongoose transactions (tests/e2e/mongoose_transactions.js)" \
    node tests/e2e/mongoose_transactions.js "$URI"
run "aggregation (tests/e2e/test_aggregation.py)" \
    python3 tests/e2e/test_aggregation.py --uri "$URI"
run "ODMs (tests/e2e/test_odm.py)" \
    python3 tests/e2e/test_odm.py --uri "$URI"

echo >&2
if ((${#failed[@]})); then
    echo "run_clients.sh: ${#failed[@]} suite(s) failed in $((SECONDS - started)) s:" >&2
    printf '  - %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "run_clients.sh: all client suites passed in $((SECONDS - started)) s" >&2
