//! The current user's MongoDB identity and privileges, read from PostgreSQL: the roles it
//! holds are the `documentdb_*` roles it has USAGE of (memberships are transitive, so
//! inherited roles come with them); their privileges are the built-in tables
//! (`documentdb_authz`) and the user-defined roles' catalog rows.

use documentdb_authz::{BuiltinRole, Privilege, PrivilegeSet, RoleName};
use documentdb_errors::DocDbResult;

use super::pg_roles;
use crate::spi::{self, Param};

pub struct Principal {
    /// The MongoDB user (`None` for a PostgreSQL role that is not one, e.g. psql's).
    pub user: Option<RoleName>,
    /// Every MongoDB role held, directly or inherited.
    pub roles: Vec<RoleName>,
    pub privileges: PrivilegeSet,
}

/// The MongoDB user the PostgreSQL role `pg_role` is, if any.
pub fn user_of(pg_role: &str) -> DocDbResult<Option<RoleName>> {
    let rows = spi::execute(
        "SELECT user_name, database_name FROM documentdb_api_catalog.users WHERE role_name = $1",
        &[Param::Text(pg_role)],
        true,
        1,
    )?;
    Ok(rows.into_iter().next().and_then(|r| {
        let mut c = r.into_iter();
        Some(RoleName { role: c.next()?.as_text()?.to_owned(), db: c.next()?.as_text()?.to_owned() })
    }))
}

/// The current user's principal. A superuser holds `root`.
pub fn current() -> DocDbResult<Principal> {
    let me = spi::current_user();
    let user = user_of(&me)?;
    let held: Vec<String> = if spi::current_user_is_superuser() {
        pg_roles::CLUSTER_ROLES.iter().map(|(_, n)| (*n).to_owned()).collect()
    } else {
        held_roles(None)?
    };
    let databases = pg_roles::database_prefixes()?;
    let customs = pg_roles::custom_roles(None)?;
    let mut roles = Vec::new();
    let mut privileges = PrivilegeSet::default();
    for pg_role in &held {
        let Some(role) = pg_roles::role_name_of(pg_role, &databases, &customs) else { continue };
        if let Some(builtin) = BuiltinRole::from_name(&role.role) {
            privileges.extend(builtin.privileges(&role.db));
        } else if let Some(custom) = customs.iter().find(|c| c.name == role) {
            privileges.extend(custom.privileges.iter().cloned());
        }
        roles.push(role);
    }
    roles.sort();
    roles.dedup();
    Ok(Principal { user, roles, privileges })
}

/// The `documentdb_*` roles `member` (None: the current user) holds, directly or
/// through other roles: PostgreSQL's membership graph walked down from it, except below the
/// admin database's built-in roles, whose privileges already cover every database (the
/// *AnyDatabase roles are members of every database's roles: expanding them would read
/// thousands of roles on a server with many databases).
fn held_roles(member: Option<&str>) -> DocDbResult<Vec<String>> {
    let cluster: Vec<String> = pg_roles::CLUSTER_ROLES.iter().map(|(_, n)| format!("'{n}'")).collect();
    let start = if member.is_some() { "$1" } else { "current_user" };
    let sql = format!(
        "WITH RECURSIVE held(oid, name) AS ( \
           SELECT r.oid, r.rolname FROM pg_catalog.pg_auth_members m \
             JOIN pg_catalog.pg_roles r ON r.oid = m.roleid \
            WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {start}) \
           UNION \
           SELECT r.oid, r.rolname FROM held h JOIN pg_catalog.pg_auth_members m ON m.member = h.oid \
             JOIN pg_catalog.pg_roles r ON r.oid = m.roleid \
            WHERE h.name NOT IN ({}) \
         ) SELECT name::text FROM held WHERE name LIKE 'documentdb\\_%' ORDER BY 1",
        cluster.join(", ")
    );
    let rows = match member {
        Some(m) => spi::execute(&sql, &[Param::Text(m)], true, 0)?,
        None => spi::execute(&sql, &[], true, 0)?,
    };
    Ok(rows.into_iter().filter_map(|r| r.into_iter().next()?.as_text().map(str::to_owned)).collect())
}

/// The privileges of one role (with everything it inherits), for rolesInfo.
pub fn role_privileges(pg_role: &str) -> DocDbResult<(Vec<RoleName>, Vec<Privilege>)> {
    let held: Vec<String> = held_roles(Some(pg_role))?.into_iter().filter(|r| r != pg_role).collect();
    let databases = pg_roles::database_prefixes()?;
    let customs = pg_roles::custom_roles(None)?;
    let mut inherited = Vec::new();
    let mut privileges = Vec::new();
    for r in held {
        let Some(role) = pg_roles::role_name_of(&r, &databases, &customs) else { continue };
        if let Some(builtin) = BuiltinRole::from_name(&role.role) {
            privileges.extend(builtin.privileges(&role.db));
        } else if let Some(custom) = customs.iter().find(|c| c.name == role) {
            privileges.extend(custom.privileges.iter().cloned());
        }
        inherited.push(role);
    }
    inherited.sort();
    inherited.dedup();
    Ok((inherited, privileges))
}
