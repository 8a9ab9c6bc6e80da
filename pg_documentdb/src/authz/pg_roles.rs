//! MongoDB roles as PostgreSQL roles, and the table grants that carry their data privileges.
//!
//! - Built-in roles of the admin database are cluster roles created by the extension's SQL
//!   (`CLUSTER_ROLES`).
//! - Each database gets `<prefix>_read`, `_readwrite`, `_dbadmin`, `_useradmin`, `_dbowner`
//!   (prefix kept in `documentdb_api_catalog.databases`), inheriting as MongoDB's roles do,
//!   and each *AnyDatabase role becomes a member of the matching one.
//! - A user-defined role is `documentdb_role<database oid>_<id>`; the roles it inherits are
//!   its memberships, its privileges are granted on the tables they cover.
//!
//! Everything here that writes runs as the extension's owner (callers check first).

use bson::RawDocumentBuf;
use documentdb_authz::{Action, BuiltinRole, Privilege, PrivilegeSet, RoleName, Target};
use documentdb_errors::{docdb_error, DocDbResult};

use crate::catalog::{self, Collection};
use crate::spi::{self, quote_ident, Param, Value};

/// The admin database's built-in roles and their PostgreSQL roles.
pub const CLUSTER_ROLES: &[(BuiltinRole, &str)] = &[
    (BuiltinRole::Root, "documentdb_admin_role"),
    (BuiltinRole::ReadAnyDatabase, "documentdb_readonly_role"),
    (BuiltinRole::ReadWriteAnyDatabase, "documentdb_readwrite_any_role"),
    (BuiltinRole::DbAdminAnyDatabase, "documentdb_dbadmin_any_role"),
    (BuiltinRole::UserAdminAnyDatabase, "documentdb_user_admin_role"),
    (BuiltinRole::ClusterMonitor, "documentdb_cluster_monitor_role"),
    (BuiltinRole::ClusterManager, "documentdb_cluster_manager_role"),
    (BuiltinRole::HostManager, "documentdb_host_manager_role"),
    (BuiltinRole::ClusterAdmin, "documentdb_cluster_admin_role"),
    (BuiltinRole::Backup, "documentdb_backup_role"),
    (BuiltinRole::Restore, "documentdb_restore_role"),
];

/// The per-database built-in roles and their role-name suffixes.
const DATABASE_ROLES: &[(BuiltinRole, &str)] = &[
    (BuiltinRole::Read, "read"),
    (BuiltinRole::ReadWrite, "readwrite"),
    (BuiltinRole::DbAdmin, "dbadmin"),
    (BuiltinRole::UserAdmin, "useradmin"),
    (BuiltinRole::DbOwner, "dbowner"),
];

fn database_role_suffix(role: BuiltinRole) -> Option<&'static str> {
    DATABASE_ROLES.iter().find(|(r, _)| *r == role).map(|(_, suffix)| *suffix)
}

/// After dropDatabase: when no user or user-defined role holds any of the database's roles
/// (MongoDB keeps such grants on a dropped database, so then they stay), its roles and row
/// go, so servers that create and drop many databases don't accumulate roles.
pub fn forget_database_if_unused(db: &str) -> DocDbResult<()> {
    let Some(prefix) = database_prefix(db)? else { return Ok(()) };
    let names: Vec<String> = DATABASE_ROLES.iter().map(|(_, s)| format!("{prefix}_{s}")).collect();
    let held = spi::execute(
        "SELECT 1 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid \
         JOIN pg_catalog.pg_roles u ON u.oid = m.member WHERE r.rolname = ANY($1::text[]) \
         AND NOT (u.rolname = ANY($1::text[])) LIMIT 1",
        &[Param::Text(&format!("{{{}}}", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(",")))],
        true,
        1,
    )?;
    if !held.is_empty() {
        return Ok(());
    }
    super::privileged(|| {
        spi::execute(
            "DELETE FROM documentdb_api_catalog.databases WHERE database_name = $1",
            &[Param::Text(db)],
            false,
            0,
        )?;
        for name in names.iter().rev() {
            drop_leftover_role(name)?;
        }
        Ok(())
    })
}

fn first_text(rows: Vec<Vec<Value>>) -> Option<String> {
    rows.into_iter().next().and_then(|r| r.into_iter().next()?.as_text().map(str::to_owned))
}

/// The role-name prefix of a database's built-in roles, if the database has them yet.
pub fn database_prefix(db: &str) -> DocDbResult<Option<String>> {
    Ok(first_text(spi::execute(
        "SELECT format('documentdb_db%s_%s', (SELECT oid FROM pg_catalog.pg_database \
           WHERE datname = pg_catalog.current_database()), database_id) \
         FROM documentdb_api_catalog.databases WHERE database_name = $1",
        &[Param::Text(db)],
        true,
        1,
    )?))
}

/// The prefix of a database's built-in roles, creating the database's row and roles on
/// first use (as the extension's owner).
pub fn ensure_database(db: &str) -> DocDbResult<String> {
    if let Some(prefix) = database_prefix(db)? {
        return Ok(prefix);
    }
    super::privileged(|| {
        // A concurrent creator holds the unique key until it commits; then we see its row.
        let created = spi::execute(
            "INSERT INTO documentdb_api_catalog.databases (database_name) VALUES ($1) \
             ON CONFLICT (database_name) DO NOTHING RETURNING database_id",
            &[Param::Text(db)],
            false,
            0,
        )?;
        let prefix = database_prefix(db)?
            .ok_or_else(|| docdb_error!(InternalError, "database {db} vanished while its roles were created"))?;
        if created.is_empty() {
            return Ok(prefix);
        }
        for (_, suffix) in DATABASE_ROLES {
            let name = format!("{prefix}_{suffix}");
            // Left over from an earlier installation of the extension in this database (roles
            // outlive DROP EXTENSION): dropped with its memberships, so users of that
            // installation gain nothing of this database.
            drop_leftover_role(&name)?;
            spi::execute_once(&format!("CREATE ROLE {} NOLOGIN", quote_ident(&name)))?;
            spi::execute_once(&format!(
                "COMMENT ON ROLE {} IS {}",
                quote_ident(&name),
                spi::quote_literal(&format!("MongoDB role {suffix}@{db}"))
            ))?;
        }
        let role = |suffix: &str| quote_ident(&format!("{prefix}_{suffix}"));
        spi::execute_once(&format!("GRANT {} TO {}", role("read"), role("readwrite")))?;
        spi::execute_once(&format!(
            "GRANT {}, {}, {} TO {}",
            role("readwrite"),
            role("dbadmin"),
            role("useradmin"),
            role("dbowner")
        ))?;
        Ok(prefix)
    })
}

/// Drops role `name` when an earlier installation of the extension left it (with whatever
/// it was granted in this database, and its memberships).
pub fn drop_leftover_role(name: &str) -> DocDbResult<()> {
    let exists = first_text(spi::execute(
        "SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = $1",
        &[Param::Text(name)],
        true,
        1,
    )?)
    .is_some();
    if exists {
        spi::execute_once(&format!("DROP OWNED BY {}", quote_ident(name)))?;
        spi::execute_once(&format!("DROP ROLE {}", quote_ident(name)))?;
    }
    Ok(())
}

/// The PostgreSQL role of a MongoDB role; `None` when no such role exists. Creates the
/// database's built-in roles on first use.
pub fn pg_role_of(role: &RoleName) -> DocDbResult<Option<String>> {
    if let Some(builtin) = BuiltinRole::from_name(&role.role) {
        if builtin.admin_only() {
            return Ok((role.db == "admin")
                .then(|| CLUSTER_ROLES.iter().find(|(r, _)| *r == builtin).map(|(_, n)| (*n).to_owned()))
                .flatten());
        }
        if let Some(suffix) = database_role_suffix(builtin) {
            catalog::validate_database_name(&role.db)?;
            return Ok(Some(format!("{}_{suffix}", ensure_database(&role.db)?)));
        }
    }
    Ok(custom_role(&role.db, &role.role)?.map(|r| r.pg_role))
}

/// Like [`pg_role_of`], with MongoDB's 31 RoleNotFound for an unknown role.
pub fn require_pg_role(role: &RoleName) -> DocDbResult<String> {
    pg_role_of(role)?.ok_or_else(|| docdb_error!(RoleNotFound, "Could not find role: {}@{}", role.role, role.db))
}

/// A user-defined role of the catalog.
#[derive(Debug, Clone)]
pub struct CustomRole {
    pub id: i64,
    pub name: RoleName,
    pub pg_role: String,
    pub privileges: Vec<Privilege>,
}

const CUSTOM_ROLE_COLUMNS: &str = "role_id, role_name, database_name, privileges, \
     format('documentdb_role%s_%s', (SELECT oid FROM pg_catalog.pg_database \
       WHERE datname = pg_catalog.current_database()), role_id)";

fn custom_role_from_row(row: Vec<Value>) -> Option<CustomRole> {
    let mut c = row.into_iter();
    let id = c.next()?.as_i64()?;
    let role = c.next()?.as_text()?.to_owned();
    let db = c.next()?.as_text()?.to_owned();
    let privileges = c
        .next()?
        .into_bson()
        .and_then(|b| RawDocumentBuf::from_bytes(b).ok())
        .map(|d| parse_stored_privileges(&d))
        .unwrap_or_default();
    let pg_role = c.next()?.as_text()?.to_owned();
    Some(CustomRole { id, name: RoleName { role, db }, pg_role, privileges })
}

/// Stored privileges were validated when written; one that no longer parses is skipped
/// (it grants nothing) rather than failing every command of every user.
fn parse_stored_privileges(doc: &bson::RawDocument) -> Vec<Privilege> {
    let Ok(list) = doc.get_array("privileges") else { return Vec::new() };
    list.into_iter().filter_map(|p| p.ok()?.as_document().and_then(|d| Privilege::parse(d).ok())).collect()
}

pub fn custom_role(db: &str, name: &str) -> DocDbResult<Option<CustomRole>> {
    let sql = format!(
        "SELECT {CUSTOM_ROLE_COLUMNS} FROM documentdb_api_catalog.roles WHERE database_name = $1 AND role_name = $2"
    );
    Ok(spi::execute(&sql, &[Param::Text(db), Param::Text(name)], true, 1)?.into_iter().find_map(custom_role_from_row))
}

/// Every user-defined role (of one database, or all).
pub fn custom_roles(db: Option<&str>) -> DocDbResult<Vec<CustomRole>> {
    let sql = format!(
        "SELECT {CUSTOM_ROLE_COLUMNS} FROM documentdb_api_catalog.roles \
         WHERE $1::text IS NULL OR database_name = $1 ORDER BY database_name, role_name"
    );
    let param = match db {
        Some(d) => Param::Text(d),
        None => Param::Null(spi::ParamType::Text),
    };
    Ok(spi::execute(&sql, &[param], true, 0)?.into_iter().filter_map(custom_role_from_row).collect())
}

/// The MongoDB role a PostgreSQL role stands for, if it stands for one.
pub fn role_name_of(pg_role: &str, databases: &[(String, String)], customs: &[CustomRole]) -> Option<RoleName> {
    if let Some((role, _)) = CLUSTER_ROLES.iter().find(|(_, n)| *n == pg_role) {
        return Some(RoleName { role: role.name().to_owned(), db: "admin".to_owned() });
    }
    for (db, prefix) in databases {
        if let Some(suffix) = pg_role.strip_prefix(prefix.as_str()).and_then(|s| s.strip_prefix('_')) {
            if let Some((role, _)) = DATABASE_ROLES.iter().find(|(_, s)| *s == suffix) {
                return Some(RoleName { role: role.name().to_owned(), db: db.clone() });
            }
        }
    }
    customs.iter().find(|c| c.pg_role == pg_role).map(|c| c.name.clone())
}

/// Every database with built-in roles, with its role prefix.
pub fn database_prefixes() -> DocDbResult<Vec<(String, String)>> {
    let rows = spi::execute(
        "SELECT database_name, format('documentdb_db%s_%s', (SELECT oid FROM pg_catalog.pg_database \
           WHERE datname = pg_catalog.current_database()), database_id) FROM documentdb_api_catalog.databases",
        &[],
        true,
        0,
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let mut c = r.into_iter();
            Some((c.next()?.as_text()?.to_owned(), c.next()?.as_text()?.to_owned()))
        })
        .collect())
}

/// The PostgreSQL roles `member` is directly a member of (its MongoDB role grants).
pub fn direct_memberships(member: &str) -> DocDbResult<Vec<String>> {
    let rows = spi::execute(
        "SELECT r.rolname::text FROM pg_catalog.pg_auth_members m \
         JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member \
         WHERE u.rolname = $1 ORDER BY 1",
        &[Param::Text(member)],
        true,
        0,
    )?;
    Ok(rows.into_iter().filter_map(|r| r.into_iter().next()?.as_text().map(str::to_owned)).collect())
}

/// The MongoDB roles granted directly to the PostgreSQL role `member`.
pub fn granted_roles(member: &str) -> DocDbResult<Vec<RoleName>> {
    let databases = database_prefixes()?;
    let customs = custom_roles(None)?;
    let mut out: Vec<RoleName> =
        direct_memberships(member)?.iter().filter_map(|r| role_name_of(r, &databases, &customs)).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Makes `member` a member of `role_pg` (a MongoDB role grant), as the extension's owner.
pub fn grant_role(role_pg: &str, member: &str) -> DocDbResult<()> {
    super::privileged(|| spi::execute_once(&format!("GRANT {} TO {}", quote_ident(role_pg), quote_ident(member))))
}

pub fn revoke_role(role_pg: &str, member: &str) -> DocDbResult<()> {
    super::privileged(|| spi::execute_once(&format!("REVOKE {} FROM {}", quote_ident(role_pg), quote_ident(member))))
}

/// The table privileges (SQL words) a set of privileges gives on one collection.
fn table_grants(privileges: &[Privilege], db: &str, coll: &str) -> Vec<&'static str> {
    let mut set = PrivilegeSet::default();
    set.extend(privileges.iter().cloned());
    let target = Target::Collection { db, collection: coll };
    let mut out = Vec::new();
    for (action, sql) in
        [(Action::Find, "SELECT"), (Action::Insert, "INSERT"), (Action::Update, "UPDATE"), (Action::Remove, "DELETE")]
    {
        if set.allows(action, target) {
            out.push(sql);
        }
    }
    // PostgreSQL needs SELECT to find the rows an UPDATE or DELETE changes; MongoDB's
    // update/remove filter documents too, so those actions read what they match.
    if (out.contains(&"UPDATE") || out.contains(&"DELETE")) && !out.contains(&"SELECT") {
        out.push("SELECT");
    }
    out
}

/// Grants a new collection's table to the roles that may read or write it: its
/// database's built-in roles and every user-defined role whose privileges cover it.
pub fn grant_collection(collection: &Collection) -> DocDbResult<()> {
    let prefix = ensure_database(&collection.database)?;
    let table = collection.table();
    super::privileged(|| {
        spi::execute_once(&format!("GRANT SELECT ON {table} TO {}", quote_ident(&format!("{prefix}_read"))))?;
        spi::execute_once(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {}",
            quote_ident(&format!("{prefix}_readwrite"))
        ))?;
        // The AnyDatabase roles hold every table directly (not through each database's roles:
        // memberships in thousands of roles would make every membership check slow).
        spi::execute_once(&format!("GRANT SELECT ON {table} TO documentdb_readonly_role"))?;
        spi::execute_once(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO documentdb_readwrite_any_role"
        ))?;
        // MongoDB's restore role inserts into every collection and reads none.
        spi::execute_once(&format!("GRANT INSERT ON {table} TO documentdb_restore_role"))?;
        for role in custom_roles(None)? {
            grant_custom_on(&role, collection)?;
        }
        Ok(())
    })
}

fn grant_custom_on(role: &CustomRole, collection: &Collection) -> DocDbResult<()> {
    let grants = table_grants(&role.privileges, &collection.database, &collection.name);
    if !grants.is_empty() {
        spi::execute_once(&format!(
            "GRANT {} ON {} TO {}",
            grants.join(", "),
            collection.table(),
            quote_ident(&role.pg_role)
        ))?;
    }
    Ok(())
}

/// Re-derives a user-defined role's table grants from its privileges (after they change).
pub fn apply_custom_role(role: &CustomRole) -> DocDbResult<()> {
    super::privileged(|| {
        let q = quote_ident(&role.pg_role);
        for collection in catalog::all_collections()? {
            if collection.is_view() {
                continue;
            }
            spi::execute_once(&format!("REVOKE ALL ON {} FROM {q}", collection.table()))?;
            grant_custom_on(role, &collection)?;
        }
        Ok(())
    })
}

/// After a rename, the user-defined roles' grants follow the collection's new name.
pub fn regrant_collection(collection: &Collection) -> DocDbResult<()> {
    super::privileged(|| {
        for role in custom_roles(None)? {
            spi::execute_once(&format!("REVOKE ALL ON {} FROM {}", collection.table(), quote_ident(&role.pg_role)))?;
            grant_custom_on(&role, collection)?;
        }
        Ok(())
    })
}
