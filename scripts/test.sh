#!/usr/bin/env bash
# `make test`: every test tier, in order, stopping at the first failure.
#   1. lint        cargo fmt --check, cargo clippy -D warnings, no module import cycles
#   2. unit        cargo test of the pure-Rust crates (no PostgreSQL)
#   3. pg_test     cargo pgrx test of each extension (temporary clusters, as `postgres`)
#   4. regress     psql regression files (tests/regress) against the dev cluster (make run)
#   5. e2e         end-to-end suites with real MongoDB clients through the gateway
#   6. crash_hunt  generated/mutated calls of every SQL function and gateway command in a
#                  throwaway cluster; any crash fails (CRASH_HUNT_SECONDS, default 60)
# Set TEST_TIERS="unit regress" (space separated) to run a subset.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
if [[ -z "${CARGO_TARGET_DIR:-}" && -d "${HOME}/.cache/documentdb-rs" ]]; then
    export CARGO_TARGET_DIR="${HOME}/.cache/documentdb-rs/target"
fi

PGC=/usr/lib/postgresql/15/bin/pg_config
TIERS="${TEST_TIERS:-lint unit pg_test regress e2e crash_hunt}"
PURE_CRATES=(documentdb_errors documentdb_bson documentdb_query documentdb_scram documentdb_authz documentdb_gateway)
PGRX_CRATES=(documentdb_core documentdb documentdb_gw_host)

log() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
want() { [[ " $TIERS " == *" $1 "* ]]; }
started=$SECONDS

"$ROOT/scripts/dev.sh" deps

if want lint; then
    log "lint: cargo fmt --check"
    cargo fmt --all -- --check
    log "lint: cargo clippy -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings
    log "lint: no import cycles between the modules of a crate"
    python3 scripts/module_cycles.py
    python3 scripts/error_codes.py
fi

if want unit; then
    log "unit: cargo test (pure crates)"
    args=()
    for c in "${PURE_CRATES[@]}"; do args+=(-p "$c"); done
    cargo test "${args[@]}"
fi

if want pg_test; then
    # `cargo pgrx test` installs test builds over the system extension files in place, which
    # would crash a running dev cluster's backends: stop it (the next tier restarts it).
    "$ROOT/scripts/dev.sh" stop
    for c in "${PGRX_CRATES[@]}"; do
        log "pg_test: cargo pgrx test $c"
        # A test build installs itself into the system extension dir; documentdb's tests
        # need the real documentdb_core next to it, so install that first.
        if [[ "$c" != documentdb_core ]]; then
            cargo pgrx install --pg-config "$PGC" --package documentdb_core >/dev/null
        fi
        rm -rf "/tmp/pgrx-test-$c"
        cargo pgrx test pg15 --package "$c" --runas postgres --pgdata "/tmp/pgrx-test-$c"
    done
fi

if want regress || want e2e || want crash_hunt; then
    # (Re)installs the release build the pg_test tier replaced, and (re)starts the cluster.
    log "dev cluster: make run"
    "$ROOT/scripts/dev.sh" run
fi

if want regress; then
    log "regress: psql regression files"
    "$ROOT/tests/regress/run.sh"
fi

if want e2e; then
    for suite in "$ROOT"/tests/e2e/*.sh; do
        [[ -e "$suite" ]] || continue
        log "e2e: $(basename "$suite")"
        "$suite"
    done
fi

if want crash_hunt; then
    # Its own throwaway cluster, with the extensions `dev.sh run` installed above.
    log "crash_hunt: ${CRASH_HUNT_SECONDS:-60} s (tests/crash_hunt/run.sh)"
    "$ROOT/tests/crash_hunt/run.sh" "${CRASH_HUNT_SECONDS:-60}"
fi

log "all requested tiers passed in $((SECONDS - started)) s"
