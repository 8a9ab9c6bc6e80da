# Sourced by the e2e suites: installs the Python clients they use (pip) when the system
# Python lacks them: pymongo, and psycopg 3 (the authorization suite's psql-side matrix).
ensure_pymongo() {
    python3 -c 'import pymongo, psycopg' 2>/dev/null && return 0
    printf '\n\033[1m--> %s\033[0m\n' "installing pymongo and psycopg" >&2
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
    fi
    # Debian's system Python is externally managed (PEP 668).
    python3 -m pip install -q pymongo 'psycopg[binary]' 2>/dev/null \
        || python3 -m pip install -q --break-system-packages pymongo 'psycopg[binary]'
    python3 -c 'import pymongo, psycopg'
}
