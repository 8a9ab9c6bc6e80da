//! Users and roles: a MongoDB user is a PostgreSQL login role. Its SCRAM-SHA-256 verifier
//! is PostgreSQL's own password (so PostgreSQL can authenticate it too); the SCRAM-SHA-1
//! credentials MongoDB drivers may use live in a superuser-only catalog table. Built-in
//! MongoDB roles map onto `documentdb_admin_role` (read/write, DDL) and
//! `documentdb_readonly_role`; `root`/`userAdmin*` also get CREATEROLE.

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};

use crate::commands::spec::{self, read_fields};
use crate::commands::write_result::cstr;
use crate::spi::{self, quote_ident, quote_literal, Param, Value};

/// MongoDB's "user already exists" code.
const USER_EXISTS: ErrorCode = ErrorCode::new(51003);

fn random_bytes(n: usize) -> DocDbResult<Vec<u8>> {
    let mut out = vec![0u8; n];
    if !spi::strong_random(&mut out) {
        bail!(InternalError, "could not generate random bytes for a password salt");
    }
    Ok(out)
}

/// How a MongoDB role maps to our PostgreSQL roles.
struct RoleGrant {
    pg_role: &'static str,
    create_role: bool,
}

fn map_role(role: &str) -> DocDbResult<RoleGrant> {
    Ok(match role {
        "read" | "readAnyDatabase" => RoleGrant { pg_role: "documentdb_readonly_role", create_role: false },
        "readWrite"
        | "readWriteAnyDatabase"
        | "dbAdmin"
        | "dbAdminAnyDatabase"
        | "dbOwner"
        | "clusterAdmin"
        | "clusterManager"
        | "clusterMonitor"
        | "hostManager"
        | "backup"
        | "restore" => RoleGrant { pg_role: "documentdb_admin_role", create_role: false },
        "root" | "userAdmin" | "userAdminAnyDatabase" | "__system" => {
            RoleGrant { pg_role: "documentdb_admin_role", create_role: true }
        }
        other => bail!(RoleNotFound, "Could not find role: {other}"),
    })
}

/// Reads `roles: ["readWrite", {role: "read", db: "x"}]`, returning (normalized roles doc, grants).
fn parse_roles(db: &str, roles: &bson::RawArray) -> DocDbResult<(RawArrayBuf, Vec<RoleGrant>)> {
    let mut normalized = RawArrayBuf::new();
    let mut grants = Vec::new();
    for item in roles {
        let (role, role_db) = match item.map_err(|e| docdb_error!(InvalidBSON, "{e}"))? {
            RawBsonRef::String(r) => (r.to_owned(), db.to_owned()),
            RawBsonRef::Document(d) => (
                d.get_str("role").map_err(|_| docdb_error!(BadValue, "role names must be strings"))?.to_owned(),
                d.get_str("db").unwrap_or(db).to_owned(),
            ),
            _ => bail!(BadValue, "Role names must be either strings or objects"),
        };
        grants.push(map_role(&role)?);
        normalized.push(rawdoc! { "role": role.as_str(), "db": role_db.as_str() });
    }
    Ok((normalized, grants))
}

fn role_exists(name: &str) -> DocDbResult<bool> {
    Ok(!spi::execute("SELECT 1 FROM pg_roles WHERE rolname = $1", &[Param::Text(name)], true, 1)?.is_empty())
}

fn is_documentdb_user(name: &str) -> DocDbResult<bool> {
    Ok(!spi::execute("SELECT 1 FROM documentdb_api_catalog.users WHERE role_name = $1", &[Param::Text(name)], true, 1)?
        .is_empty())
}

fn set_password(user: &str, password: &str) -> DocDbResult<()> {
    if password.is_empty() {
        bail!(BadValue, "Password cannot be empty");
    }
    let salt = random_bytes(16)?;
    let keys = documentdb_scram::keys_sha256(
        &documentdb_scram::salted_password_sha256(password, &salt, documentdb_scram::SHA256_ITERATIONS),
        &salt,
        documentdb_scram::SHA256_ITERATIONS,
    );
    // A pre-hashed verifier: the clear-text password never reaches PostgreSQL.
    spi::execute_once(&format!(
        "ALTER ROLE {} PASSWORD {}",
        quote_ident(user),
        quote_literal(&documentdb_scram::postgres_verifier(&keys))
    ))?;
    let salt1 = random_bytes(16)?;
    let keys1 = documentdb_scram::keys_sha1(
        &documentdb_scram::salted_password_sha1(user, password, &salt1, documentdb_scram::SHA1_ITERATIONS),
        &salt1,
        documentdb_scram::SHA1_ITERATIONS,
    );
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    spi::execute(
        "INSERT INTO documentdb_api_catalog.scram_sha1_credentials VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (role_name) DO UPDATE SET salt = EXCLUDED.salt, iterations = EXCLUDED.iterations, \
           stored_key = EXCLUDED.stored_key, server_key = EXCLUDED.server_key",
        &[
            Param::Text(user),
            Param::Text(&b64.encode(&keys1.salt)),
            Param::Int4(keys1.iterations as i32),
            Param::Text(&b64.encode(&keys1.stored_key)),
            Param::Text(&b64.encode(&keys1.server_key)),
        ],
        false,
        0,
    )?;
    Ok(())
}

fn apply_grants(user: &str, grants: &[RoleGrant]) -> DocDbResult<()> {
    let q = quote_ident(user);
    let current = spi::execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
         JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 AND r.rolname LIKE 'documentdb\\_%'",
        &[Param::Text(user)],
        true,
        0,
    )?;
    for role in current.into_iter().filter_map(|r| r.into_iter().next()?.as_text().map(str::to_owned)) {
        spi::execute_once(&format!("REVOKE {} FROM {q}", quote_ident(&role)))?;
    }
    // Several MongoDB roles map to one PostgreSQL role: grant each once.
    let mut granted: Vec<&str> = Vec::new();
    for grant in grants {
        if !granted.contains(&grant.pg_role) {
            spi::execute_once(&format!("GRANT {} TO {q}", grant.pg_role))?;
            granted.push(grant.pg_role);
        }
    }
    let user_admin = grants.iter().any(|g| g.create_role);
    if user_admin {
        spi::execute_once(&format!("GRANT documentdb_user_admin_role TO {q}"))?;
    }
    spi::execute_once(&format!("ALTER ROLE {q} {}", if user_admin { "CREATEROLE" } else { "NOCREATEROLE" }))?;
    Ok(())
}

fn user_db(spec_doc: &RawDocument) -> String {
    spec_doc.get_str("$db").unwrap_or("admin").to_owned()
}

pub fn create_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = match spec::command_target(spec_doc, "createUser")? {
        RawBsonRef::String(s) if !s.is_empty() => s,
        _ => bail!(BadValue, "User name must be a non-empty string"),
    };
    let db = user_db(spec_doc);
    let mut pwd = None;
    let mut roles = None;
    let mut custom_data = None;
    read_fields(spec_doc, "createUser", |field| {
        match field.name {
            "pwd" => pwd = Some(field.str()?),
            "roles" => roles = Some(field.array()?),
            "customData" => custom_data = Some(field.document()?),
            "digestPassword" => {
                if !field.bool()? {
                    bail!(BadValue, "digestPassword: false is not supported");
                }
            }
            "mechanisms" => {
                for m in field.array()? {
                    match m {
                        Ok(RawBsonRef::String("SCRAM-SHA-1" | "SCRAM-SHA-256")) => {}
                        _ => {
                            bail!(BadValue, "Unsupported authentication mechanism; only SCRAM-SHA-1 and SCRAM-SHA-256")
                        }
                    }
                }
            }
            "authenticationRestrictions" => bail!(CommandNotSupported, "authenticationRestrictions are not supported"),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let pwd = pwd.ok_or_else(|| {
        docdb_error!(
            BadValue,
            "Must provide a 'pwd' field for all user documents, except those with '$external' as the user's source db"
        )
    })?;
    let roles = roles.ok_or_else(|| spec::missing("createUser", "roles"))?;
    if name.starts_with("pg_") || name.starts_with("documentdb_") {
        bail!(BadValue, "User names starting with 'pg_' or 'documentdb_' are reserved");
    }
    if role_exists(name)? {
        return Err(DocDbError::new(USER_EXISTS, format!("User \"{name}@{db}\" already exists")));
    }
    let (normalized, grants) = parse_roles(&db, roles)?;
    spi::execute_once(&format!("CREATE ROLE {} LOGIN", quote_ident(name)))?;
    set_password(name, pwd)?;
    apply_grants(name, &grants)?;
    let custom = custom_data.map(|d| d.as_bytes().to_vec());
    let roles_doc = rawdoc! { "roles": normalized };
    spi::execute(
        "INSERT INTO documentdb_api_catalog.users VALUES ($1, $2, $3, $4)",
        &[
            Param::Text(name),
            Param::Text(&db),
            Param::Bson(roles_doc.as_bytes()),
            match &custom {
                Some(c) => Param::Bson(c),
                None => Param::Null(spi::ParamType::Bson),
            },
        ],
        false,
        0,
    )?;
    Ok(rawdoc! { "ok": 1.0 })
}

pub fn drop_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = match spec::command_target(spec_doc, "dropUser")? {
        RawBsonRef::String(s) => s,
        _ => bail!(BadValue, "User name must be a string"),
    };
    read_fields(spec_doc, "dropUser", |_| Ok(false))?;
    if !is_documentdb_user(name)? {
        bail!(UserNotFound, "User '{name}@{}' not found", user_db(spec_doc));
    }
    spi::execute_once(&format!("DROP ROLE {}", quote_ident(name)))?;
    spi::execute(
        "DELETE FROM documentdb_api_catalog.scram_sha1_credentials WHERE role_name = $1",
        &[Param::Text(name)],
        false,
        0,
    )?;
    spi::execute("DELETE FROM documentdb_api_catalog.users WHERE role_name = $1", &[Param::Text(name)], false, 0)?;
    Ok(rawdoc! { "ok": 1.0 })
}

pub fn update_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = match spec::command_target(spec_doc, "updateUser")? {
        RawBsonRef::String(s) => s,
        _ => bail!(BadValue, "User name must be a string"),
    };
    let db = user_db(spec_doc);
    let mut pwd = None;
    let mut roles = None;
    let mut custom_data = None;
    read_fields(spec_doc, "updateUser", |field| {
        match field.name {
            "pwd" => pwd = Some(field.str()?),
            "roles" => roles = Some(field.array()?),
            "customData" => custom_data = Some(field.document()?),
            "digestPassword" | "mechanisms" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !is_documentdb_user(name)? {
        bail!(UserNotFound, "User '{name}@{db}' not found");
    }
    if pwd.is_none() && roles.is_none() && custom_data.is_none() {
        bail!(BadValue, "Must specify at least one field to update in updateUser");
    }
    if let Some(p) = pwd {
        set_password(name, p)?;
    }
    if let Some(r) = roles {
        let (normalized, grants) = parse_roles(&db, r)?;
        apply_grants(name, &grants)?;
        let doc = rawdoc! { "roles": normalized };
        spi::execute(
            "UPDATE documentdb_api_catalog.users SET roles = $2 WHERE role_name = $1",
            &[Param::Text(name), Param::Bson(doc.as_bytes())],
            false,
            0,
        )?;
    }
    if let Some(c) = custom_data {
        spi::execute(
            "UPDATE documentdb_api_catalog.users SET custom_data = $2 WHERE role_name = $1",
            &[Param::Text(name), Param::Bson(c.as_bytes())],
            false,
            0,
        )?;
    }
    Ok(rawdoc! { "ok": 1.0 })
}

fn user_document(name: &str, db: &str, roles: Option<Vec<u8>>, custom: Option<Vec<u8>>) -> RawDocumentBuf {
    let mut doc = rawdoc! { "_id": format!("{db}.{name}"), "user": name, "db": db };
    let roles = roles
        .and_then(|r| RawDocumentBuf::from_bytes(r).ok())
        .and_then(|r| r.get_array("roles").ok().map(|a| a.to_owned()));
    match roles {
        Some(r) => doc.append(cstr("roles"), r),
        None => doc.append(cstr("roles"), RawArrayBuf::new()),
    }
    if let Some(c) = custom.and_then(|c| RawDocumentBuf::from_bytes(c).ok()) {
        doc.append(cstr("customData"), c);
    }
    let mut mechanisms = RawArrayBuf::new();
    mechanisms.push("SCRAM-SHA-1");
    mechanisms.push("SCRAM-SHA-256");
    doc.append(cstr("mechanisms"), mechanisms);
    doc
}

pub fn users_info(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let target = spec::command_target(spec_doc, "usersInfo")?;
    read_fields(spec_doc, "usersInfo", |field| {
        Ok(matches!(
            field.name,
            "showCredentials" | "showPrivileges" | "showAuthenticationRestrictions" | "showCustomData" | "filter"
        ))
    })?;
    let mut names: Option<Vec<String>> = match target {
        RawBsonRef::Int32(1) | RawBsonRef::Int64(1) | RawBsonRef::Double(_) => None,
        RawBsonRef::String(s) => Some(vec![s.to_owned()]),
        RawBsonRef::Document(d) => {
            Some(vec![d.get_str("user").map_err(|_| docdb_error!(BadValue, "usersInfo needs a user name"))?.to_owned()])
        }
        RawBsonRef::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|i| match i {
                    Ok(RawBsonRef::String(s)) => Some(s.to_owned()),
                    Ok(RawBsonRef::Document(d)) => d.get_str("user").ok().map(str::to_owned),
                    _ => None,
                })
                .collect(),
        ),
        _ => bail!(BadValue, "User and role names must be either strings or objects"),
    };
    let rows = spi::execute(
        "SELECT role_name, database_name, roles, custom_data FROM documentdb_api_catalog.users ORDER BY role_name",
        &[],
        true,
        0,
    )?;
    let mut users = RawArrayBuf::new();
    for row in rows {
        let mut cols = row.into_iter();
        let name = cols.next().and_then(|v| v.as_text().map(str::to_owned)).unwrap_or_default();
        let db = cols.next().and_then(|v| v.as_text().map(str::to_owned)).unwrap_or_default();
        if let Some(wanted) = names.as_mut() {
            if !wanted.contains(&name) {
                continue;
            }
        }
        users.push(user_document(
            &name,
            &db,
            cols.next().and_then(Value::into_bson),
            cols.next().and_then(Value::into_bson),
        ));
    }
    Ok(rawdoc! { "users": users, "ok": 1.0 })
}

pub fn connection_status(_spec: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let user = spi::current_user();
    let rows = spi::execute(
        "SELECT database_name, roles FROM documentdb_api_catalog.users WHERE role_name = $1",
        &[Param::Text(&user)],
        true,
        1,
    )?;
    let mut users = RawArrayBuf::new();
    let mut roles = RawArrayBuf::new();
    if let Some(row) = rows.into_iter().next() {
        let mut cols = row.into_iter();
        let db = cols.next().and_then(|v| v.as_text().map(str::to_owned)).unwrap_or_else(|| "admin".into());
        users.push(rawdoc! { "user": user.as_str(), "db": db.as_str() });
        if let Some(r) = cols.next().and_then(Value::into_bson).and_then(|b| RawDocumentBuf::from_bytes(b).ok()) {
            if let Ok(list) = r.get_array("roles") {
                for item in list.into_iter().flatten() {
                    roles.push(item);
                }
            }
        }
    }
    Ok(rawdoc! { "authInfo": { "authenticatedUsers": users, "authenticatedUserRoles": roles }, "ok": 1.0 })
}
