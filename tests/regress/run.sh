#!/usr/bin/env bash
# Runs the psql regression files in tests/regress/sql against the dev cluster (make run)
# with PostgreSQL's pg_regress: each file's output must equal tests/regress/expected/*.out.
# `tests/regress/run.sh name...` runs a subset; set REGRESS_ACCEPT=1 to copy actual
# outputs over the expected ones (then review the diff before committing).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
URI_FILE="$ROOT/data/postgres.uri"
[[ -f "$URI_FILE" ]] || { echo "no dev cluster: run 'make run' first" >&2; exit 1; }

# postgresql://postgres:PASSWORD@HOST:PORT/db
uri="$(cat "$URI_FILE")"
rest="${uri#postgresql://}"
export PGUSER="${rest%%:*}"; rest="${rest#*:}"
export PGPASSWORD="${rest%%@*}"; rest="${rest#*@}"
export PGHOST="${rest%%:*}"; rest="${rest#*:}"
export PGPORT="${rest%%/*}"

if (($#)); then tests=("$@"); else
    tests=()
    for f in "$HERE"/sql/*.sql; do tests+=("$(basename "$f" .sql)"); done
fi

# A fresh database per run, with the extensions.
export PGDATABASE=postgres
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS documentdb_regress" -c "CREATE DATABASE documentdb_regress" >/dev/null
PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d documentdb_regress \
    -c "CREATE EXTENSION documentdb CASCADE" >/dev/null

out="$HERE/results"
rm -rf "$out"; mkdir -p "$out"
status=0
/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress \
    --use-existing --dbname=documentdb_regress \
    --inputdir="$HERE" --outputdir="$out" \
    "${tests[@]}" || status=$?

if [[ "${REGRESS_ACCEPT:-0}" == 1 ]]; then
    for t in "${tests[@]}"; do cp "$out/results/$t.out" "$HERE/expected/$t.out"; done
    echo "accepted outputs into tests/regress/expected/" >&2
    exit 0
fi
if ((status)); then
    echo "--- regression differences ($out/regression.diffs) ---" >&2
    cat "$out/regression.diffs" >&2 || true
fi
exit $status
