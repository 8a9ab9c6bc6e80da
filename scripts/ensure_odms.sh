# Sourced by the e2e suites: installs the Python ODMs that tests/e2e/test_odm.py drives (pip)
# when the system Python lacks them or has other versions. Pinned, so a new ODM release cannot
# change what the suite sends:
#   beanie 2.2.0       async ODM on pymongo's own AsyncMongoClient (pymongo >= 4.11, < 5; no
#                      motor), so it shares the pymongo that ensure_pymongo installs
#   mongoengine 0.29.3 sync ODM on pymongo's MongoClient (pymongo >= 3.4, < 5)
ODM_PINS=(beanie==2.2.0 mongoengine==0.29.3)

ensure_odms() {
    # True when every pin is installed at exactly its version.
    local check='import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))'
    python3 -c "$check" "${ODM_PINS[@]}" 2>/dev/null && return 0
    printf '\n\033[1m--> %s\033[0m\n' "installing ${ODM_PINS[*]}" >&2
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
    fi
    # Debian's system Python is externally managed (PEP 668).
    python3 -m pip install -q "${ODM_PINS[@]}" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "${ODM_PINS[@]}"
    python3 -c "$check" "${ODM_PINS[@]}"
}
