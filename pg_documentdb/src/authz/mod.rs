//! MongoDB's authorization, enforced in PostgreSQL (design: docs/authorization.md).
//!
//! - Data: each collection's table is granted to the PostgreSQL roles of the MongoDB roles
//!   that may read or write it (`pg_roles`), so PostgreSQL's executor enforces `find`,
//!   `insert`, `update` and `remove` on every path, psql included. Commands check the same
//!   grants up front ([`require_table`]) to answer MongoDB's 13 Unauthorized.
//! - Everything else (DDL, users, roles, listing) is checked here against the caller's
//!   MongoDB privileges ([`require`], computed by `principal` from its role memberships) and
//!   then runs as the extension's owner ([`privileged`]): no MongoDB role needs table
//!   ownership, catalog write grants, CREATEROLE or SUPERUSER.

pub mod pg_roles;
pub mod principal;

use bson::{RawBsonRef, RawDocument};
use documentdb_authz::{Action, Target};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::catalog::Collection;
use crate::spi::{self, TablePrivilege};

/// MongoDB's message names the database and the command (abridged past a few hundred
/// characters, as a log line would be).
pub fn unauthorized(db: &str, command: &RawDocument) -> DocDbError {
    let mut shown = String::from("{");
    for (i, element) in command.iter().enumerate() {
        let Ok((key, value)) = element else { break };
        if key == "$db" || key == "lsid" || key == "$clusterTime" {
            continue;
        }
        let rendered = match value {
            // Passwords never appear in messages (MongoDB shows "xxx" too).
            _ if key == "pwd" => "\"xxx\"".to_owned(),
            RawBsonRef::String(s) => format!("{s:?}"),
            other => bson::Bson::try_from(other).map(|b| b.to_string()).unwrap_or_default(),
        };
        shown.push_str(if i == 0 { " " } else { ", " });
        shown.push_str(key.as_str());
        shown.push_str(": ");
        shown.push_str(&rendered);
        if shown.len() > 300 {
            shown.truncate(300);
            shown.push_str(" ...");
            break;
        }
    }
    shown.push_str(" }");
    DocDbError::new(ErrorCode::Unauthorized, format!("not authorized on {db} to execute command {shown}"))
}

/// Fails with 13 Unauthorized unless the current user may perform `action` on `target`.
pub fn require(action: Action, target: Target<'_>, db: &str, command: &RawDocument) -> DocDbResult<()> {
    if allowed(action, target)? {
        Ok(())
    } else {
        Err(unauthorized(db, command))
    }
}

/// Whether the current user may perform `action` on `target`.
pub fn allowed(action: Action, target: Target<'_>) -> DocDbResult<bool> {
    if spi::current_user_is_superuser() {
        return Ok(true);
    }
    Ok(principal::current()?.privileges.allows(action, target))
}

/// Fails with 13 Unauthorized unless the current user holds `privilege` on the
/// collection's table (PostgreSQL's own ACL check: the grants are the privileges).
pub fn require_table(
    collection: &Collection,
    privilege: TablePrivilege,
    db: &str,
    command: &RawDocument,
) -> DocDbResult<()> {
    if collection.table_oid == 0 || spi::has_table_privilege(collection.table_oid, privilege) {
        Ok(())
    } else {
        Err(unauthorized(db, command))
    }
}

/// A data action on a collection that may not exist: its table's grants when it does,
/// else the privilege itself (MongoDB refuses `find` on a missing collection too).
pub fn require_data(
    collection: Option<&Collection>,
    action: Action,
    db: &str,
    coll: &str,
    command: &RawDocument,
) -> DocDbResult<()> {
    match (collection, table_privilege(action)) {
        (Some(c), Some(privilege)) if !c.is_view() => require_table(c, privilege, db, command),
        _ => require(action, Target::Collection { db, collection: coll }, db, command),
    }
}

/// The table privilege that carries a data action.
pub fn table_privilege(action: Action) -> Option<TablePrivilege> {
    match action {
        Action::Find => Some(TablePrivilege::Select),
        Action::Insert => Some(TablePrivilege::Insert),
        Action::Update => Some(TablePrivilege::Update),
        Action::Remove => Some(TablePrivilege::Delete),
        _ => None,
    }
}

/// Runs catalog writes, DDL and role management as the extension's owner; callers have
/// checked the MongoDB privilege first.
pub fn privileged<T>(f: impl FnOnce() -> DocDbResult<T>) -> DocDbResult<T> {
    spi::as_extension_owner(f)
}

/// The names of the actions the current user holds on the cluster.
pub fn cluster_actions() -> DocDbResult<Vec<String>> {
    let principal = principal::current()?;
    Ok(Action::all()
        .iter()
        .filter(|a| spi::current_user_is_superuser() || principal.privileges.allows(**a, Target::Cluster))
        .map(|a| a.name().to_owned())
        .collect())
}
