//! Users: `createUser`, `updateUser`, `dropUser`, `dropAllUsersFromDatabase`, `usersInfo`,
//! `grantRolesToUser`, `revokeRolesFromUser`, `connectionStatus`.
//!
//! A MongoDB user `name` on its authentication database `db` is a PostgreSQL login role:
//! named `name` on admin (so existing admin users and psql logins keep their names) and
//! `name@db` elsewhere, or `documentdb_user_<n>` when that name is taken, too long or
//! reserved (`documentdb_api_catalog.users` maps them). Its SCRAM-SHA-256 verifier is
//! PostgreSQL's own password (PostgreSQL can authenticate it too); SCRAM-SHA-1 credentials
//! live in a superuser-only table. Its roles are its role memberships (`authz::pg_roles`).
//! Every change runs as the extension's owner after the MongoDB privilege check, so no
//! MongoDB role needs CREATEROLE.

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_authz::{Action, PrivilegeSet, RoleName, Target};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_query::filter::Filter;

use crate::authz::{self, pg_roles, principal};
use crate::commands::spec::{self, read_fields};
use crate::commands::write_result::cstr;
use crate::spi::{self, quote_ident, quote_literal, Param, Value};

/// MongoDB's "user already exists" code.
const USER_EXISTS: ErrorCode = ErrorCode::new(51003);
/// PostgreSQL's limit on role names (NAMEDATALEN - 1).
const MAX_ROLE_NAME_LEN: usize = 63;

fn random_bytes(n: usize) -> DocDbResult<Vec<u8>> {
    let mut out = vec![0u8; n];
    if !spi::strong_random(&mut out) {
        bail!(InternalError, "could not generate random bytes for a password salt");
    }
    Ok(out)
}

fn user_name_arg<'a>(spec_doc: &'a RawDocument, command: &str) -> DocDbResult<&'a str> {
    match spec::command_target(spec_doc, command)? {
        RawBsonRef::String(s) if !s.is_empty() => Ok(s),
        _ => bail!(BadValue, "User name must be a non-empty string"),
    }
}

/// The PostgreSQL role of user `name@db`, if the user exists.
pub fn user_role(name: &str, db: &str) -> DocDbResult<Option<String>> {
    let rows = spi::execute(
        "SELECT role_name FROM documentdb_api_catalog.users WHERE database_name = $1 AND user_name = $2",
        &[Param::Text(db), Param::Text(name)],
        true,
        1,
    )?;
    Ok(rows.into_iter().next().and_then(|r| r.into_iter().next()?.as_text().map(str::to_owned)))
}

fn require_user_role(name: &str, db: &str) -> DocDbResult<String> {
    user_role(name, db)?.ok_or_else(|| docdb_error!(UserNotFound, "Could not find user \"{name}\" for db \"{db}\""))
}

fn pg_role_exists(name: &str) -> DocDbResult<bool> {
    Ok(!spi::execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", &[Param::Text(name)], true, 1)?.is_empty())
}

/// A free PostgreSQL role name for a new user (see the module comment).
fn new_login_role_name(name: &str, db: &str) -> DocDbResult<String> {
    let preferred = if db == "admin" { name.to_owned() } else { format!("{name}@{db}") };
    let reserved = preferred.starts_with("pg_") || preferred.starts_with("documentdb_") || preferred == "public";
    if !reserved && preferred.len() <= MAX_ROLE_NAME_LEN && !preferred.contains('\0') && !pg_role_exists(&preferred)? {
        return Ok(preferred);
    }
    for n in 1.. {
        let candidate = format!("documentdb_user_{n}");
        if !pg_role_exists(&candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("an unbounded search ends at a free name")
}

/// Which SCRAM mechanisms a user's credentials are kept for.
#[derive(Clone, Copy)]
struct Mechanisms {
    sha1: bool,
    sha256: bool,
}

fn parse_mechanisms(list: &bson::RawArray) -> DocDbResult<Mechanisms> {
    let mut m = Mechanisms { sha1: false, sha256: false };
    for item in list {
        match item.map_err(|e| docdb_error!(InvalidBSON, "{e}"))? {
            RawBsonRef::String("SCRAM-SHA-1") => m.sha1 = true,
            RawBsonRef::String("SCRAM-SHA-256") => m.sha256 = true,
            RawBsonRef::String(other) => bail!(BadValue, "Unknown auth mechanism '{other}'"),
            _ => bail!(BadValue, "mechanisms field must be an array of strings"),
        }
    }
    if !m.sha1 && !m.sha256 {
        bail!(BadValue, "mechanisms field must not be empty");
    }
    Ok(m)
}

/// Stores the user's credentials for `mechanisms` (and removes the others).
fn set_password(role: &str, user: &str, password: &str, mechanisms: Mechanisms) -> DocDbResult<()> {
    if password.is_empty() {
        bail!(BadValue, "Password cannot be empty");
    }
    let q = quote_ident(role);
    if mechanisms.sha256 {
        let iterations = crate::gucs::scram_sha256_iterations();
        let salt = random_bytes(16)?;
        let keys = documentdb_scram::keys_sha256(
            &documentdb_scram::salted_password_sha256(password, &salt, iterations),
            &salt,
            iterations,
        );
        // A pre-hashed verifier: the clear-text password never reaches PostgreSQL.
        spi::execute_once(&format!(
            "ALTER ROLE {q} PASSWORD {}",
            quote_literal(&documentdb_scram::postgres_verifier(&keys))
        ))?;
    } else {
        spi::execute_once(&format!("ALTER ROLE {q} PASSWORD NULL"))?;
    }
    if !mechanisms.sha1 {
        spi::execute(
            "DELETE FROM documentdb_api_catalog.scram_sha1_credentials WHERE role_name = $1",
            &[Param::Text(role)],
            false,
            0,
        )?;
        return Ok(());
    }
    let iterations = crate::gucs::scram_sha1_iterations();
    let salt = random_bytes(16)?;
    // MongoDB's SCRAM-SHA-1 hashes "user:mongo:password" with the MongoDB user name.
    let keys = documentdb_scram::keys_sha1(
        &documentdb_scram::salted_password_sha1(user, password, &salt, iterations),
        &salt,
        iterations,
    );
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    spi::execute(
        "INSERT INTO documentdb_api_catalog.scram_sha1_credentials VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (role_name) DO UPDATE SET salt = EXCLUDED.salt, iterations = EXCLUDED.iterations, \
           stored_key = EXCLUDED.stored_key, server_key = EXCLUDED.server_key",
        &[
            Param::Text(role),
            Param::Text(&b64.encode(&keys.salt)),
            Param::Int4(i32::try_from(keys.iterations).unwrap_or(i32::MAX)),
            Param::Text(&b64.encode(&keys.stored_key)),
            Param::Text(&b64.encode(&keys.server_key)),
        ],
        false,
        0,
    )?;
    Ok(())
}

/// The mechanisms a user currently has credentials for.
fn current_mechanisms(role: &str) -> DocDbResult<Mechanisms> {
    let rows = spi::execute(
        "SELECT (SELECT rolpassword IS NOT NULL FROM pg_catalog.pg_authid WHERE rolname = $1), \
                EXISTS (SELECT 1 FROM documentdb_api_catalog.scram_sha1_credentials WHERE role_name = $1)",
        &[Param::Text(role)],
        true,
        1,
    )?;
    let row = rows.into_iter().next().unwrap_or_default();
    Ok(Mechanisms {
        sha256: row.first().and_then(Value::as_bool).unwrap_or(false),
        sha1: row.get(1).and_then(Value::as_bool).unwrap_or(false),
    })
}

/// MongoDB: granting a role takes `grantRole` on the role's database, revoking `revokeRole`.
fn require_on_role_dbs(action: Action, roles: &[RoleName], db: &str, command: &RawDocument) -> DocDbResult<()> {
    for role in roles {
        authz::require(action, Target::Database(&role.db), db, command)?;
    }
    Ok(())
}

/// The PostgreSQL roles of `roles`, failing with 31 RoleNotFound on an unknown one.
fn resolve_roles(roles: &[RoleName]) -> DocDbResult<Vec<String>> {
    roles.iter().map(pg_roles::require_pg_role).collect()
}

pub fn create_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = user_name_arg(spec_doc, "createUser")?;
    let db = spec::command_db(spec_doc);
    let mut pwd = None;
    let mut roles = None;
    let mut custom_data = None;
    let mut mechanisms = Mechanisms { sha1: true, sha256: true };
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
            "mechanisms" => mechanisms = parse_mechanisms(field.array()?)?,
            "authenticationRestrictions" => bail!(CommandNotSupported, "authenticationRestrictions are not supported"),
            "writeConcern" | "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if db == "$external" {
        bail!(BadValue, "Users on the $external database (external authentication) are not supported");
    }
    crate::catalog::validate_database_name(db)?;
    let pwd = pwd.ok_or_else(|| {
        docdb_error!(
            BadValue,
            "Must provide a 'pwd' field for all user documents, except those with '$external' as the user's source db"
        )
    })?;
    let roles = RoleName::parse_list(roles.ok_or_else(|| spec::missing("createUser", "roles"))?, db)?;
    authz::require(Action::CreateUser, Target::Database(db), db, spec_doc)?;
    require_on_role_dbs(Action::GrantRole, &roles, db, spec_doc)?;
    if user_role(name, db)?.is_some() {
        return Err(DocDbError::new(USER_EXISTS, format!("User \"{name}@{db}\" already exists")));
    }
    let granted = resolve_roles(&roles)?;
    authz::privileged(|| {
        let role = new_login_role_name(name, db)?;
        spi::execute_once(&format!("CREATE ROLE {} LOGIN", quote_ident(&role)))?;
        spi::execute_once(&format!(
            "COMMENT ON ROLE {} IS {}",
            quote_ident(&role),
            quote_literal(&format!("MongoDB user {name}@{db}"))
        ))?;
        set_password(&role, name, pwd, mechanisms)?;
        for pg_role in &granted {
            pg_roles::grant_role(pg_role, &role)?;
        }
        let custom = custom_data.map(|d| d.as_bytes().to_vec());
        spi::execute(
            "INSERT INTO documentdb_api_catalog.users (role_name, user_name, database_name, custom_data) \
             VALUES ($1, $2, $3, $4)",
            &[
                Param::Text(&role),
                Param::Text(name),
                Param::Text(db),
                match &custom {
                    Some(c) => Param::Bson(c),
                    None => Param::Null(spi::ParamType::Bson),
                },
            ],
            false,
            0,
        )?;
        Ok(())
    })?;
    Ok(rawdoc! { "ok": 1.0 })
}

fn drop_login_role(role: &str) -> DocDbResult<()> {
    spi::execute_once(&format!("DROP ROLE {}", quote_ident(role)))?;
    spi::execute(
        "DELETE FROM documentdb_api_catalog.scram_sha1_credentials WHERE role_name = $1",
        &[Param::Text(role)],
        false,
        0,
    )?;
    spi::execute("DELETE FROM documentdb_api_catalog.users WHERE role_name = $1", &[Param::Text(role)], false, 0)?;
    Ok(())
}

pub fn drop_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = user_name_arg(spec_doc, "dropUser")?;
    let db = spec::command_db(spec_doc);
    read_fields(spec_doc, "dropUser", |field| Ok(matches!(field.name, "writeConcern" | "comment")))?;
    authz::require(Action::DropUser, Target::Database(db), db, spec_doc)?;
    let role = require_user_role(name, db)?;
    authz::privileged(|| drop_login_role(&role))?;
    Ok(rawdoc! { "ok": 1.0 })
}

pub fn drop_all_users_from_database(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let db = spec::command_db(spec_doc);
    read_fields(spec_doc, "dropAllUsersFromDatabase", |field| Ok(matches!(field.name, "writeConcern" | "comment")))?;
    authz::require(Action::DropUser, Target::Database(db), db, spec_doc)?;
    let rows = spi::execute(
        "SELECT role_name FROM documentdb_api_catalog.users WHERE database_name = $1",
        &[Param::Text(db)],
        true,
        0,
    )?;
    let roles: Vec<String> =
        rows.into_iter().filter_map(|r| r.into_iter().next()?.as_text().map(str::to_owned)).collect();
    authz::privileged(|| roles.iter().try_for_each(|r| drop_login_role(r)))?;
    Ok(rawdoc! { "n": roles.len() as i32, "ok": 1.0 })
}

/// Whether the current user is the user `role` (MongoDB's changeOwn* actions).
fn is_self(role: &str) -> bool {
    spi::current_user() == role
}

pub fn update_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = user_name_arg(spec_doc, "updateUser")?;
    let db = spec::command_db(spec_doc);
    let mut pwd = None;
    let mut roles = None;
    let mut custom_data = None;
    let mut mechanisms = None;
    read_fields(spec_doc, "updateUser", |field| {
        match field.name {
            "pwd" => pwd = Some(field.str()?),
            "roles" => roles = Some(field.array()?),
            "customData" => custom_data = Some(field.document()?),
            "mechanisms" => mechanisms = Some(parse_mechanisms(field.array()?)?),
            "digestPassword" => {
                if !field.bool()? {
                    bail!(BadValue, "digestPassword: false is not supported");
                }
            }
            "authenticationRestrictions" => bail!(CommandNotSupported, "authenticationRestrictions are not supported"),
            "writeConcern" | "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if pwd.is_none() && roles.is_none() && custom_data.is_none() && mechanisms.is_none() {
        bail!(BadValue, "Must specify at least one field to update in updateUser");
    }
    let target = Target::Database(db);
    let role = user_role(name, db)?;
    let own = role.as_deref().is_some_and(is_self);
    // MongoDB: changePassword / changeCustomData on the user's database, or the changeOwn*
    // actions for one's own user; granting and revoking roles as grantRolesToUser does.
    if (pwd.is_some() || mechanisms.is_some()) && !(own && authz::allowed(Action::ChangeOwnPassword, target)?) {
        authz::require(Action::ChangePassword, target, db, spec_doc)?;
    }
    if custom_data.is_some() && !(own && authz::allowed(Action::ChangeOwnCustomData, target)?) {
        authz::require(Action::ChangeCustomData, target, db, spec_doc)?;
    }
    let role = role.ok_or_else(|| docdb_error!(UserNotFound, "Could not find user \"{name}\" for db \"{db}\""))?;
    let new_roles = match roles {
        Some(list) => {
            let wanted = RoleName::parse_list(list, db)?;
            let current = pg_roles::granted_roles(&role)?;
            let added: Vec<RoleName> = wanted.iter().filter(|r| !current.contains(r)).cloned().collect();
            let removed: Vec<RoleName> = current.iter().filter(|r| !wanted.contains(r)).cloned().collect();
            require_on_role_dbs(Action::GrantRole, &added, db, spec_doc)?;
            require_on_role_dbs(Action::RevokeRole, &removed, db, spec_doc)?;
            Some((resolve_roles(&added)?, removed))
        }
        None => None,
    };
    if pwd.is_none() {
        if let Some(m) = mechanisms {
            // Without a new password, mechanisms may only narrow the stored ones (MongoDB).
            let have = authz::privileged(|| current_mechanisms(&role))?;
            if (m.sha1 && !have.sha1) || (m.sha256 && !have.sha256) {
                bail!(BadValue, "mechanisms field must be a subset of previously set mechanisms");
            }
        }
    }
    authz::privileged(|| {
        match (pwd, mechanisms) {
            (Some(p), m) => set_password(&role, name, p, m.unwrap_or(Mechanisms { sha1: true, sha256: true }))?,
            (None, Some(m)) => {
                if !m.sha256 {
                    spi::execute_once(&format!("ALTER ROLE {} PASSWORD NULL", quote_ident(&role)))?;
                }
                if !m.sha1 {
                    spi::execute(
                        "DELETE FROM documentdb_api_catalog.scram_sha1_credentials WHERE role_name = $1",
                        &[Param::Text(&role)],
                        false,
                        0,
                    )?;
                }
            }
            (None, None) => {}
        }
        if let Some((added, removed)) = &new_roles {
            for r in removed {
                if let Some(pg_role) = pg_roles::pg_role_of(r)? {
                    pg_roles::revoke_role(&pg_role, &role)?;
                }
            }
            for pg_role in added {
                pg_roles::grant_role(pg_role, &role)?;
            }
        }
        if let Some(c) = custom_data {
            spi::execute(
                "UPDATE documentdb_api_catalog.users SET custom_data = $2 WHERE role_name = $1",
                &[Param::Text(&role), Param::Bson(c.as_bytes())],
                false,
                0,
            )?;
        }
        Ok(())
    })?;
    Ok(rawdoc! { "ok": 1.0 })
}

/// `grantRolesToUser` / `revokeRolesFromUser`.
fn change_user_roles(spec_doc: &RawDocument, command: &str, grant: bool) -> DocDbResult<RawDocumentBuf> {
    let name = user_name_arg(spec_doc, command)?;
    let db = spec::command_db(spec_doc);
    let mut roles = None;
    read_fields(spec_doc, command, |field| {
        match field.name {
            "roles" => roles = Some(field.array()?),
            "writeConcern" | "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let roles = RoleName::parse_list(roles.ok_or_else(|| spec::missing(command, "roles"))?, db)?;
    let action = if grant { Action::GrantRole } else { Action::RevokeRole };
    require_on_role_dbs(action, &roles, db, spec_doc)?;
    let role = require_user_role(name, db)?;
    let pg = resolve_roles(&roles)?;
    for r in &pg {
        if grant {
            pg_roles::grant_role(r, &role)?;
        } else {
            pg_roles::revoke_role(r, &role)?;
        }
    }
    Ok(rawdoc! { "ok": 1.0 })
}

pub fn grant_roles_to_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    change_user_roles(spec_doc, "grantRolesToUser", true)
}

pub fn revoke_roles_from_user(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    change_user_roles(spec_doc, "revokeRolesFromUser", false)
}

struct UserRow {
    role: String,
    name: String,
    db: String,
    custom: Option<RawDocumentBuf>,
}

fn user_rows(db: Option<&str>) -> DocDbResult<Vec<UserRow>> {
    let rows = spi::execute(
        "SELECT role_name, user_name, database_name, custom_data FROM documentdb_api_catalog.users \
         WHERE $1::text IS NULL OR database_name = $1 ORDER BY database_name, user_name",
        &[match db {
            Some(d) => Param::Text(d),
            None => Param::Null(spi::ParamType::Text),
        }],
        true,
        0,
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let mut c = r.into_iter();
            Some(UserRow {
                role: c.next()?.as_text()?.to_owned(),
                name: c.next()?.as_text()?.to_owned(),
                db: c.next()?.as_text()?.to_owned(),
                custom: c.next().and_then(Value::into_bson).and_then(|b| RawDocumentBuf::from_bytes(b).ok()),
            })
        })
        .collect())
}

fn user_document(row: &UserRow, show_privileges: bool, show_custom_data: bool) -> DocDbResult<RawDocumentBuf> {
    let mut doc =
        rawdoc! { "_id": format!("{}.{}", row.db, row.name), "user": row.name.as_str(), "db": row.db.as_str() };
    let roles = pg_roles::granted_roles(&row.role)?;
    doc.append(cstr("roles"), RoleName::to_array(&roles));
    if show_custom_data {
        if let Some(c) = &row.custom {
            doc.append(cstr("customData"), c.clone());
        }
    }
    let m = current_mechanisms(&row.role)?;
    let mut mechanisms = RawArrayBuf::new();
    if m.sha1 {
        mechanisms.push("SCRAM-SHA-1");
    }
    if m.sha256 {
        mechanisms.push("SCRAM-SHA-256");
    }
    doc.append(cstr("mechanisms"), mechanisms);
    if show_privileges {
        let (inherited, privileges) = principal::role_privileges(&row.role)?;
        let mut set = PrivilegeSet::default();
        set.extend(privileges);
        doc.append(cstr("inheritedRoles"), RoleName::to_array(&inherited));
        doc.append(cstr("inheritedPrivileges"), set.to_array());
    }
    Ok(doc)
}

pub fn users_info(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let db = spec::command_db(spec_doc);
    let target = spec::command_target(spec_doc, "usersInfo")?;
    let mut show_privileges = false;
    let mut show_custom_data = true;
    let mut filter = None;
    read_fields(spec_doc, "usersInfo", |field| {
        match field.name {
            "showPrivileges" => show_privileges = field.bool()?,
            "showCustomData" => show_custom_data = field.bool()?,
            "filter" => filter = field.optional_document()?,
            "showCredentials" | "showAuthenticationRestrictions" | "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // (user, db) pairs asked for; None = every user of `db` (or of all databases).
    let mut wanted: Option<Vec<RoleName>> = None;
    let mut all_dbs = false;
    let one = |v: RawBsonRef<'_>| -> DocDbResult<RoleName> {
        match v {
            RawBsonRef::String(s) => Ok(RoleName { role: s.to_owned(), db: db.to_owned() }),
            RawBsonRef::Document(d) => Ok(RoleName {
                role: d.get_str("user").map_err(|_| docdb_error!(BadValue, "Missing \"user\" field"))?.to_owned(),
                db: d.get_str("db").map_err(|_| docdb_error!(BadValue, "Missing \"db\" field"))?.to_owned(),
            }),
            _ => bail!(BadValue, "User name must be either a string or an object"),
        }
    };
    match target {
        RawBsonRef::Int32(1) | RawBsonRef::Int64(1) => {}
        RawBsonRef::Double(1.0) => {}
        RawBsonRef::Document(d) if d.get_bool("forAllDBs").unwrap_or(false) => all_dbs = true,
        RawBsonRef::Array(items) => {
            wanted = Some(
                items
                    .into_iter()
                    .map(|i| one(i.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?))
                    .collect::<DocDbResult<_>>()?,
            )
        }
        other => wanted = Some(vec![one(other)?]),
    }
    // MongoDB: viewUser on each user's database (on the cluster for forAllDBs); a user may
    // always see itself.
    let me = principal::user_of(&spi::current_user())?;
    match &wanted {
        Some(list) => {
            for u in list {
                if me.as_ref() != Some(u) {
                    authz::require(Action::ViewUser, Target::Database(&u.db), db, spec_doc)?;
                }
            }
        }
        None if all_dbs => authz::require(Action::ViewUser, Target::Cluster, db, spec_doc)?,
        None => authz::require(Action::ViewUser, Target::Database(db), db, spec_doc)?,
    }
    let parsed_filter = filter.filter(|f| !f.is_empty()).map(Filter::parse).transpose()?;
    let rows = user_rows(if all_dbs || wanted.is_some() { None } else { Some(db) })?;
    // Credentials metadata (which mechanisms) is in superuser-only catalogs: read as the
    // extension's owner once the viewUser check passed.
    authz::privileged(|| {
        users_documents(&rows, wanted.as_deref(), parsed_filter.as_ref(), show_privileges, show_custom_data)
    })
}

fn users_documents(
    rows: &[UserRow],
    wanted: Option<&[RoleName]>,
    parsed_filter: Option<&Filter>,
    show_privileges: bool,
    show_custom_data: bool,
) -> DocDbResult<RawDocumentBuf> {
    let mut users = RawArrayBuf::new();
    for row in rows {
        if let Some(list) = wanted {
            if !list.iter().any(|u| u.role == row.name && u.db == row.db) {
                continue;
            }
        }
        let doc = user_document(row, show_privileges, show_custom_data)?;
        if let Some(f) = parsed_filter {
            if !f.matches(&doc)? {
                continue;
            }
        }
        users.push(doc);
    }
    Ok(rawdoc! { "users": users, "ok": 1.0 })
}

/// `connectionStatus` of the current PostgreSQL role: its MongoDB user (a role that is no
/// MongoDB user reports its own name on admin), roles, and with `showPrivileges` its
/// privileges.
pub fn connection_status(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let mut show_privileges = false;
    read_fields(spec_doc, "connectionStatus", |field| {
        match field.name {
            "showPrivileges" => show_privileges = field.bool()?,
            "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let me = spi::current_user();
    let principal = principal::current()?;
    let user = principal.user.clone().unwrap_or(RoleName { role: me.clone(), db: "admin".to_owned() });
    let mut users = RawArrayBuf::new();
    users.push(rawdoc! { "user": user.role.as_str(), "db": user.db.as_str() });
    let direct = if spi::current_user_is_superuser() {
        vec![RoleName { role: "root".to_owned(), db: "admin".to_owned() }]
    } else {
        pg_roles::granted_roles(&me)?
    };
    let mut auth_info = rawdoc! { "authenticatedUsers": users, "authenticatedUserRoles": RoleName::to_array(&direct) };
    if show_privileges {
        auth_info.append(cstr("authenticatedUserPrivileges"), principal.privileges.to_array());
    }
    Ok(rawdoc! { "authInfo": auth_info, "ok": 1.0 })
}

/// See `sql_api::users::authentication_role`.
pub fn authentication_role(db: &str, user: &str) -> DocDbResult<Option<String>> {
    if let Some(role) = user_role(user, db)? {
        return Ok(Some(role));
    }
    if db != "admin" || !pg_role_exists(user)? {
        return Ok(None);
    }
    let is_other_user = !spi::execute(
        "SELECT 1 FROM documentdb_api_catalog.users WHERE role_name = $1",
        &[Param::Text(user)],
        true,
        1,
    )?
    .is_empty();
    Ok((!is_other_user).then(|| user.to_owned()))
}
