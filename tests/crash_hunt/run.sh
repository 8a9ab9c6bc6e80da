#!/usr/bin/env bash
# Crash hunt over the SQL surface and the gateway (see tests/crash_hunt/README.md).
#
#   tests/crash_hunt/run.sh [SECONDS]          SQL phase SECONDS (default 60), then the gateway phase
#   tests/crash_hunt/run.sh --replay FILE.sql  replays a crash file in a fresh throwaway cluster
#
# Creates its own throwaway PostgreSQL 15 cluster (unix socket only, in a mktemp dir), creates
# the extensions installed in the system PostgreSQL (`make run` installs them), runs
# sql_hunt.py, then gw_hunt.py against a standalone documentdb-gateway, stops everything and
# scans the PostgreSQL log and the gateway's stderr. Exits non-zero on any crash, PANIC,
# server restart, gateway panic, or when PostgreSQL or the gateway died.
#
# Environment:
#   CRASH_HUNT_SEED           random seed (default: random, printed)
#   CRASH_HUNT_WORKERS        concurrent SQL connections (default 2)
#   CRASH_HUNT_GW_SECONDS     gateway phase length (default SECONDS/2, at least 20; 0 skips it)
#   CRASH_HUNT_GATEWAY        documentdb-gateway binary (default $CARGO_TARGET_DIR/release/...,
#                             built with cargo when missing); "hosted" uses the gateway
#                             background worker (documentdb_gw_host) inside the cluster instead
#   CRASH_HUNT_OUT            directory for results (default tests/crash_hunt/out)
#   CRASH_HUNT_MEM_LIMIT_MB   address-space limit of each PostgreSQL process (default 4096, 0: none)
#   CRASH_HUNT_BOMBS=0        leave out expressions built to exhaust memory ($reduce doubling...)
#   CRASH_HUNT_KEEP=1         keep the throwaway cluster directory
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
if [[ -z "${CARGO_TARGET_DIR:-}" && -d "${HOME}/.cache/documentdb-rs" ]]; then
    export CARGO_TARGET_DIR="${HOME}/.cache/documentdb-rs/target"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PG_BIN=/usr/lib/postgresql/15/bin

REPLAY=""
if [[ "${1:-}" == "--replay" ]]; then
    REPLAY="$(realpath "${2:?--replay needs a file}")"
    SECS=0
else
    SECS="${1:-60}"
fi
GW_SECS="${CRASH_HUNT_GW_SECONDS:-$(( SECS / 2 > 20 ? SECS / 2 : 20 ))}"
[[ -n "$REPLAY" ]] && GW_SECS=0
WORKERS="${CRASH_HUNT_WORKERS:-2}"
SEED="${CRASH_HUNT_SEED:-$(python3 -c 'import random; print(random.SystemRandom().randrange(1, 2**31))')}"
OUT="${CRASH_HUNT_OUT:-$HERE/out}"
# A replay keeps the results of the hunt it came from.
[[ -n "$REPLAY" ]] && OUT="${CRASH_HUNT_OUT:-$HERE/out-replay}"
MEM_LIMIT_MB="${CRASH_HUNT_MEM_LIMIT_MB:-4096}"
EXTRA=()
[[ "${CRASH_HUNT_BOMBS:-1}" == 0 ]] && EXTRA+=(--no-bombs)

log() { printf '\033[1m--> %s\033[0m\n' "$*" >&2; }
if [[ "$(id -u)" != 0 ]]; then
    echo "crash_hunt: run as root (PostgreSQL and the gateway run as the postgres OS user)" >&2
    exit 2
fi
as_postgres() { runuser -u postgres -- "$@"; }

# ---- prerequisites -------------------------------------------------------------------------
ensure_python_deps() {
    python3 -c 'import pymongo, psycopg' 2>/dev/null && return 0
    log "installing pymongo and psycopg (pip)"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
    fi
    # Debian's system Python is externally managed (PEP 668).
    python3 -m pip install -q pymongo "psycopg[binary]" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages pymongo "psycopg[binary]"
    python3 -c 'import pymongo, psycopg'
}
ensure_python_deps

if [[ ! -f "$("$PG_BIN/pg_config" --sharedir)/extension/documentdb.control" ]]; then
    echo "crash_hunt: the documentdb extension is not installed: run 'make run' first" >&2
    exit 2
fi

GATEWAY="${CRASH_HUNT_GATEWAY:-$TARGET_DIR/release/documentdb-gateway}"
if [[ "$GW_SECS" != 0 && "$GATEWAY" != hosted ]]; then
    if [[ ! -x "$GATEWAY" && -z "${CRASH_HUNT_GATEWAY:-}" ]]; then
        log "building the standalone gateway (cargo build --release -p documentdb_gateway)"
        cargo build --release --quiet -p documentdb_gateway --bin documentdb-gateway
    fi
    if [[ ! -x "$GATEWAY" ]]; then
        echo "crash_hunt: no gateway binary at $GATEWAY (set CRASH_HUNT_GATEWAY=hosted to use the background worker)" >&2
        exit 2
    fi
    # The gateway runs as the postgres OS user.
    chmod o+rx "$TARGET_DIR" "$TARGET_DIR/release" 2>/dev/null || true
fi

# ---- the throwaway cluster -----------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
chmod 777 "$OUT"
TMP="$(mktemp -d /tmp/crash_hunt.XXXXXX)"
chown postgres:postgres "$TMP"
chmod 700 "$TMP"
DATA="$TMP/data"
PGLOG="$TMP/postgres.log"
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DSN="host=$TMP port=$PG_PORT user=postgres dbname=postgres"
HOSTED_PORT=""

cleanup() {
    local rc=$?
    # The hunters (children of this shell) and the gateway they started, if still running.
    pkill -TERM -P $$ 2>/dev/null || true
    if [[ -s "$OUT/gateway.pid" ]]; then
        kill "$(cat "$OUT/gateway.pid")" 2>/dev/null || true
    fi
    if [[ -f "$DATA/postmaster.pid" ]]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    [[ -f "$PGLOG" ]] && cp "$PGLOG" "$OUT/postgres.log" 2>/dev/null || true
    if [[ "${CRASH_HUNT_KEEP:-0}" == 1 ]]; then
        echo "crash_hunt: cluster kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "throwaway cluster in $TMP (socket only, port $PG_PORT)"
as_postgres "$PG_BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=reject -E UTF8 \
    --locale=C.UTF-8 >/dev/null
cat >> "$DATA/postgresql.conf" <<EOF
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$TMP'
max_connections = 100
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_line_prefix = '%m [%p] %a '
# LOG (crash reports, startup/shutdown), FATAL and PANIC; not every expected ERROR.
log_min_messages = log
log_min_error_statement = panic
restart_after_crash = on
max_worker_processes = 16
EOF
if [[ "$GATEWAY" == hosted && "$GW_SECS" != 0 ]]; then
    HOSTED_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    cat >> "$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'documentdb_gw_host'
documentdb_gateway.port = $HOSTED_PORT
documentdb_gateway.listen_address = '127.0.0.1'
documentdb_gateway.socket_dir = '$TMP'
documentdb_gateway.tls_mode = 'disabled'
documentdb_gateway.pool_size = 8
EOF
fi
# Core files let a crash that does not replay be read afterwards: a backend that dies writes
# `core` into the data directory (kernel.core_pattern is "core" on these machines), and the
# verdict prints its backtrace.
LIMIT_CMD="ulimit -c unlimited"
if [[ "$MEM_LIMIT_MB" != 0 ]]; then
    LIMIT_CMD="$LIMIT_CMD; ulimit -v $((MEM_LIMIT_MB * 1024))"
fi
as_postgres bash -c "$LIMIT_CMD; exec '$PG_BIN/pg_ctl' -D '$DATA' -l '$PGLOG' -w -t 60 start" >/dev/null
as_postgres "$PG_BIN/psql" -h "$TMP" -p "$PG_PORT" -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c "CREATE EXTENSION documentdb CASCADE" >/dev/null
postmaster_pid="$(head -1 "$DATA/postmaster.pid")"

sql_rc=0
gw_rc=0
if [[ -n "$REPLAY" ]]; then
    log "replaying $REPLAY"
    python3 "$HERE/sql_hunt.py" --dsn "$DSN" --log "$PGLOG" --out "$OUT" --seed "$SEED" --seed-only >/dev/null
    as_postgres "$PG_BIN/psql" -h "$TMP" -p "$PG_PORT" -d postgres -X -e -f "$REPLAY" 2>&1 | tail -n 40 || true
    sleep 2
else
    log "SQL phase: $SECS s, $WORKERS workers, seed $SEED"
    python3 "$HERE/sql_hunt.py" --dsn "$DSN" --log "$PGLOG" --out "$OUT" --seconds "$SECS" --seed "$SEED" \
        --workers "$WORKERS" "${EXTRA[@]}" || sql_rc=$?
    if [[ "$GW_SECS" != 0 ]]; then
        log "gateway phase: $GW_SECS s"
        if [[ "$GATEWAY" == hosted ]]; then
            python3 "$HERE/gw_hunt.py" --hosted --port "$HOSTED_PORT" --dsn "$DSN" --log "$PGLOG" --out "$OUT" \
                --seconds "$GW_SECS" --seed "$SEED" "${EXTRA[@]}" || gw_rc=$?
        else
            python3 "$HERE/gw_hunt.py" --gateway "$GATEWAY" --pg-socket-dir "$TMP" --pg-port "$PG_PORT" --dsn "$DSN" \
                --log "$PGLOG" --out "$OUT" --seconds "$GW_SECS" --seed "$SEED" "${EXTRA[@]}" || gw_rc=$?
        fi
    fi
fi

# ---- verdict -------------------------------------------------------------------------------
failed=0
if ! kill -0 "$postmaster_pid" 2>/dev/null; then
    echo "crash_hunt: FAIL: the PostgreSQL postmaster (PID $postmaster_pid) is gone" >&2
    failed=1
fi
as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
cp "$PGLOG" "$OUT/postgres.log"
for core in "$DATA"/core*; do
    [[ -f "$core" ]] || continue
    trace="$OUT/backtrace-$(basename "$core").txt"
    if command -v gdb >/dev/null; then
        gdb -batch -ex "bt 40" "$PG_BIN/postgres" "$core" >"$trace" 2>&1 || true
        echo "crash_hunt: a core file was written; its backtrace ($trace):" >&2
        grep -E '^#' "$trace" | head -n 40 >&2 || true
    else
        echo "crash_hunt: a core file was written ($core); install gdb to read its backtrace" >&2
    fi
    rm -f "$core"
done

crash_lines="$(cd "$HERE" && python3 -c '
import sys
from common import scan_log
lines = scan_log(sys.argv[1])
log = open(sys.argv[1], errors="replace").read().splitlines()
ready = sum("database system is ready to accept connections" in l for l in log)
if ready > 1:
    lines.append("the server restarted %d times (\"database system is ready to accept connections\")" % (ready - 1))
shut = [i for i, l in enumerate(log) if "database system is shut down" in l]
if len(shut) > 1:
    lines.append("the server shut down %d times" % len(shut))
for l in log:
    if "panicked" in l or "internal error (panic)" in l:
        lines.append(l[:1000])
print("\n".join(lines))
' "$PGLOG")"
if [[ -n "$crash_lines" ]]; then
    echo "crash_hunt: FAIL: the PostgreSQL log reports crashes:" >&2
    echo "$crash_lines" | head -n 60 >&2
    failed=1
fi
if [[ -f "$OUT/gateway.stderr" ]] && grep -Eq 'panicked|internal error \(panic\)' "$OUT/gateway.stderr"; then
    echo "crash_hunt: FAIL: the gateway panicked:" >&2
    grep -E -A3 'panicked|internal error \(panic\)' "$OUT/gateway.stderr" | head -n 40 >&2
    failed=1
fi
if [[ "$sql_rc" != 0 || "$gw_rc" != 0 ]]; then
    failed=1
fi

if [[ -z "$REPLAY" ]]; then
    python3 - "$OUT" "$SEED" "$failed" <<'EOF'
import json, os, sys
out, seed, failed = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sql = json.load(open(os.path.join(out, "sql_summary.json"))) if os.path.exists(os.path.join(out, "sql_summary.json")) else {}
gw = json.load(open(os.path.join(out, "gw_summary.json"))) if os.path.exists(os.path.join(out, "gw_summary.json")) else {}
n, s = sql.get("statements", 0), sql.get("seconds", 0) or 0
line = "crash_hunt: %d statements in %.0f s (%.0f/s), %d crashes" % (n, s, n / s if s else 0, len(sql.get("crashes", [])))
if gw:
    line += "; gateway: %d commands in %.0f s, %d findings" % (gw.get("commands", 0), gw.get("seconds", 0), len(gw.get("findings", [])))
line += "; seed %s" % seed
print(line)
if failed:
    for c in sql.get("crashes", []):
        print("  crash in %s (signal %s): %s" % (c["function"], c["signal"], c["statement"][:800]))
        print("    replay: tests/crash_hunt/run.sh --replay %s" % c["last"])
    last = sorted(f for f in os.listdir(out) if f.startswith("last-statements-"))
    if last and not sql.get("crashes"):
        print("  last statements (%s):" % os.path.join(out, last[0]))
        with open(os.path.join(out, last[0]), errors="replace") as f:
            lines = [l for l in f.read().splitlines() if not l.startswith("--")]
        for l in lines[-10:]:
            print("    " + l[:400])
    print("  results: %s" % out)
EOF
fi
if [[ "$failed" != 0 ]]; then
    exit 1
fi
echo "crash_hunt: OK"
