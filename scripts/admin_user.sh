#!/usr/bin/env bash
# Creates (or updates) the initial MongoDB admin user of the dev cluster and writes
# data/mongodb.uri. Name and password come from DOCUMENTDB_ADMIN_USER and
# DOCUMENTDB_ADMIN_PASSWORD (defaults: "admin" and a generated password, kept across runs).
set -euo pipefail
DATA="$1"
GW_PORT="$2"
PSQL=(/usr/lib/postgresql/15/bin/psql "$(cat "$DATA/postgres.uri")" -X -q -v ON_ERROR_STOP=1 -tA)
user="${DOCUMENTDB_ADMIN_USER:-admin}"
uri_file="$DATA/mongodb.uri"

existing_password=""
if [[ -f "$uri_file" ]]; then
    # mongodb://user:password@host...
    creds="$(sed -E 's#^mongodb://([^@]*)@.*#\1#' "$uri_file")"
    if [[ "${creds%%:*}" == "$user" ]]; then
        existing_password="${creds#*:}"
    fi
fi
password="${DOCUMENTDB_ADMIN_PASSWORD:-${existing_password:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')}}"

json_escape() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
spec_user="$(json_escape "$user")"
spec_pwd="$(json_escape "$password")"
quoted="'${user//\'/\'\'}'"
exists="$("${PSQL[@]}" -c "SELECT count(*) FROM documentdb_api_catalog.users WHERE user_name = $quoted AND database_name = 'admin'")"
# A login role left from an earlier incarnation of the extension (roles are cluster-wide) is
# replaced (an admin user's login role has the user's name).
if [[ "$exists" == "0" && "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_roles WHERE rolname = $quoted")" != "0" ]]; then
    "${PSQL[@]}" -c "DROP ROLE \"${user//\"/\"\"}\"" >/dev/null
fi
if [[ "$exists" == "0" ]]; then
    "${PSQL[@]}" -c "SELECT documentdb_api.create_user(\$\$ {\"createUser\": $spec_user, \"pwd\": $spec_pwd, \"roles\": [{\"role\": \"root\", \"db\": \"admin\"}], \"\$db\": \"admin\"} \$\$)" >/dev/null
elif [[ "$password" != "$existing_password" ]]; then
    "${PSQL[@]}" -c "SELECT documentdb_api.update_user(\$\$ {\"updateUser\": $spec_user, \"pwd\": $spec_pwd, \"\$db\": \"admin\"} \$\$)" >/dev/null
fi
# Percent-encode for the URI.
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
printf 'mongodb://%s:%s@127.0.0.1:%s/?directConnection=true\n' "$(enc "$user")" "$(enc "$password")" "$GW_PORT" > "$uri_file"
chmod 600 "$uri_file"
