#!/usr/bin/env bash
# Developer workflow behind the Makefile: install prerequisites, build and install the
# extensions into the system PostgreSQL 15, run a dev cluster in ./data, run tests.
# Every step is idempotent; run as root (PostgreSQL itself runs as the `postgres` user).
set -euo pipefail
# Without this, a failing build inside `changed="$(install_extensions)"` went unnoticed and
# `make run` reported success with the previous binaries.
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PG_BIN=/usr/lib/postgresql/15/bin
PGC="$PG_BIN/pg_config"
DATA="$ROOT/data"
PG_PORT="${DOCUMENTDB_PG_PORT:-9712}"
GW_PORT="${DOCUMENTDB_GATEWAY_PORT:-10260}"
PGRX_VERSION=0.18.1
EXTENSIONS=(documentdb_core documentdb documentdb_gw_host)
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 libclang-dev clang build-essential pkg-config sudo python3-pip)

# A shared build cache outside the clone is used when it exists; everything works without it.
if [[ -z "${CARGO_TARGET_DIR:-}" && -d "${HOME}/.cache/documentdb-rs" ]]; then
    export CARGO_TARGET_DIR="${HOME}/.cache/documentdb-rs/target"
fi
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_postgres() { runuser -u postgres -- "$@"; }

ensure_deps() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing apt packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if [[ "$(cargo pgrx --version 2>/dev/null || true)" != *"$PGRX_VERSION"* ]]; then
        log "installing cargo-pgrx $PGRX_VERSION (a few minutes, once per machine)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
    fi
    # Re-running `cargo pgrx init` forces full rebuilds: only when unconfigured.
    if ! grep -qs "pg15 = \"$PGC\"" "$HOME/.pgrx/config.toml"; then
        log "configuring pgrx for PostgreSQL 15"
        cargo pgrx init --pg15 "$PGC"
    fi
}

# Builds (release) and installs every extension. Files are staged with `cargo pgrx package`
# and moved into place by rename: overwriting a shared library in place crashes the backends
# of a running cluster that have it mapped. Prints "changed" when a library changed.
install_extensions() {
    local stage changed=""
    stage="$(mktemp -d)"
    for ext in "${EXTENSIONS[@]}"; do
        log "building extension $ext"
        cargo pgrx package --pg-config "$PGC" --package "$ext" --out-dir "$stage/$ext" >/dev/null
    done
    while IFS= read -r -d '' file; do
        local rel="${file#"$stage"/*/}"
        local dest="/$rel"
        if ! cmp -s "$file" "$dest"; then
            mkdir -p "$(dirname "$dest")"
            cp "$file" "$dest.tmp.$$"
            chmod 644 "$dest.tmp.$$"
            [[ "$dest" == *.so ]] && chmod 755 "$dest.tmp.$$"
            mv -f "$dest.tmp.$$" "$dest"
            # pgrx emits the script's statements in a varying order; only libraries count.
            [[ "$dest" == *.so ]] && changed=changed
        fi
    done < <(find "$stage" -type f -print0)
    rm -rf "$stage"
    echo "$changed"
}

server_running() {
    [[ -f "$DATA/postmaster.pid" ]] && as_postgres "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# Writes documentdb.conf; prints "changed" when its content changed (settings need a restart).
write_config() {
    local before=""
    [[ -f "$DATA/documentdb.conf" ]] && before="$(cat "$DATA/documentdb.conf")"
    cat > "$DATA/documentdb.conf" <<EOF
# Written by scripts/dev.sh; included from postgresql.conf.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$DATA'
shared_preload_libraries = 'documentdb_gw_host,documentdb'
# The TTL monitor (documentdb's background worker) in the database the gateway serves;
# a pass every 5 s on this development server (60 s by default, as mongod).
documentdb.ttl_database = 'postgres'
documentdb.ttl_task_interval_seconds = 5
max_connections = 300
documentdb_gateway.port = $GW_PORT
documentdb_gateway.listen_address = '127.0.0.1'
documentdb_gateway.database = 'postgres'
documentdb_gateway.socket_dir = '$DATA'
documentdb_gateway.tls_cert_file = '$DATA/gateway.crt'
documentdb_gateway.tls_key_file = '$DATA/gateway.key'
# A development server: test-only commands (configureFailPoint) on, as mongod's test suites run.
documentdb_gateway.enable_test_commands = on
logging_collector = off
log_min_messages = warning
EOF
    chown postgres:postgres "$DATA/documentdb.conf"
    [[ "$before" == "$(cat "$DATA/documentdb.conf")" ]] || echo changed
}

init_cluster() {
    log "creating a PostgreSQL 15 cluster in $DATA"
    mkdir -p "$DATA"
    chown postgres:postgres "$DATA"
    chmod 700 "$DATA"
    local pwfile password
    password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
    pwfile="$(mktemp)"
    printf '%s\n' "$password" > "$pwfile"
    chown postgres "$pwfile"
    as_postgres "$PG_BIN/initdb" -D "$DATA" -U postgres --auth-local=peer \
        --auth-host=scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "include_if_exists = 'documentdb.conf'" >> "$DATA/postgresql.conf"
    printf 'postgresql://postgres:%s@127.0.0.1:%s/postgres\n' "$password" "$PG_PORT" > "$DATA/postgres.uri"
    chmod 600 "$DATA/postgres.uri"
}

start_server() {
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/postgres.log" -w -t 60 start >/dev/null
}

restart_server() {
    log "restarting PostgreSQL to load the new libraries"
    as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$DATA/postgres.log" -m fast -w -t 60 restart >/dev/null
}

psql_dev() {
    "$PG_BIN/psql" "$(cat "$DATA/postgres.uri")" -X -v ON_ERROR_STOP=1 "$@"
}

# Fingerprint of the installed extension scripts; when it changes the dev database's
# extensions are recreated (pre-1.0 there are no upgrade scripts; this drops dev data).
extension_scripts_fingerprint() {
    # Comments carry source file:line references that move with any code change, and pgrx
    # orders independent statements differently from build to build: compare sorted lines.
    cat "$("$PGC" --sharedir)"/extension/documentdb*.sql 2>/dev/null \
        | sed -e 's#/\*[^*]*\*/##g' | grep -v '^[[:space:]]*--' | LC_ALL=C sort | sha256sum | cut -d' ' -f1
}

create_extensions() {
    local fp
    fp="$(extension_scripts_fingerprint)"
    if [[ -f "$DATA/extensions.fingerprint" && "$(cat "$DATA/extensions.fingerprint")" != "$fp" ]]; then
        log "extension SQL changed: recreating the extensions in the dev database (dev data is dropped)"
        PGOPTIONS="-c client_min_messages=warning" psql_dev -q \
            -c "DROP EXTENSION IF EXISTS documentdb CASCADE;" \
            -c "DROP SCHEMA IF EXISTS documentdb_api_internal CASCADE;" \
            -c "DROP EXTENSION IF EXISTS documentdb_core CASCADE;" >/dev/null
        rm -f "$DATA/mongodb.uri"
    fi
    # The operators live in schema documentdb_core (as in DocumentDB); the dev database puts
    # it and documentdb_api on the default search_path so psql sessions can use them unqualified.
    PGOPTIONS="-c client_min_messages=warning" psql_dev -q \
        -c "CREATE EXTENSION IF NOT EXISTS documentdb CASCADE;" \
        -c "ALTER DATABASE postgres SET search_path TO \"\$user\", public, documentdb_core, documentdb_api;" \
        >/dev/null
    echo "$fp" > "$DATA/extensions.fingerprint"
}

cmd_run() {
    ensure_deps
    local changed
    changed="$(install_extensions)"
    [[ -f "$DATA/PG_VERSION" ]] || init_cluster
    [[ "$(write_config)" == changed ]] && changed=changed
    if server_running; then
        [[ "$changed" == changed ]] && restart_server
    else
        start_server
    fi
    create_extensions
    if [[ -x "$ROOT/scripts/admin_user.sh" ]]; then "$ROOT/scripts/admin_user.sh" "$DATA" "$GW_PORT"; fi
    cat <<EOF

PostgreSQL with documentdb is running (data in $DATA).
  SQL:      make psql            or  psql "\$(cat data/postgres.uri)"
  MongoDB:  mongosh "\$(cat data/mongodb.uri)"     (gateway on 127.0.0.1:$GW_PORT)
  Stop:     make stop
EOF
}

cmd_stop() {
    if server_running; then
        log "stopping PostgreSQL"
        as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
}

cmd_psql() {
    [[ -f "$DATA/postgres.uri" ]] || { echo "no dev cluster: run 'make run' first" >&2; exit 1; }
    # With stdin piped, psql reads SQL from it; on a terminal it is interactive.
    exec "$PG_BIN/psql" "$(cat "$DATA/postgres.uri")" "$@"
}

case "${1:-}" in
    deps) ensure_deps ;;
    install) ensure_deps; install_extensions >/dev/null ;;
    run) cmd_run ;;
    stop) cmd_stop ;;
    psql) shift; cmd_psql "$@" ;;
    *) echo "usage: $0 {deps|install|run|stop|psql}" >&2; exit 2 ;;
esac
