//! User-defined roles: `createRole`, `updateRole`, `dropRole`, `dropAllRolesFromDatabase`,
//! `rolesInfo`, `grantRolesToRole`, `revokeRolesFromRole`, `grantPrivilegesToRole`,
//! `revokePrivilegesFromRole`.
//!
//! A role is a NOLOGIN PostgreSQL role (`authz::pg_roles`): the roles it inherits are its
//! memberships, its privileges a catalog row, turned into table grants for the data
//! actions. Every change runs as the extension's owner after MongoDB's checks: createRole /
//! dropRole on the role's database, grantRole / revokeRole on the database of every role
//! or privilege granted or revoked (so a user can hand out only what it administers).

use bson::{rawdoc, RawArray, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_authz::{
    check_inherited_role_scope, check_privilege_scope, Action, BuiltinRole, Privilege, PrivilegeSet, Resource,
    RoleName, Target,
};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};

use crate::authz::{self, pg_roles, principal};
use crate::commands::spec::{self, read_fields};
use crate::commands::write_result::cstr;
use crate::spi::{self, quote_ident, quote_literal, Param};

/// MongoDB's "role already exists" code.
const ROLE_EXISTS: ErrorCode = ErrorCode::new(51002);

fn role_name_arg<'a>(spec_doc: &'a RawDocument, command: &str) -> DocDbResult<&'a str> {
    match spec::command_target(spec_doc, command)? {
        RawBsonRef::String(s) if !s.is_empty() => Ok(s),
        _ => bail!(BadValue, "Role name must be a non-empty string"),
    }
}

/// Every privilege within what a role on `role_db` may hold (49 otherwise).
fn check_scope(role_db: &str, privileges: &[Privilege]) -> DocDbResult<()> {
    privileges.iter().try_for_each(|p| check_privilege_scope(role_db, p))
}

fn stored_privileges(privileges: &[Privilege]) -> RawDocumentBuf {
    let mut list = RawArrayBuf::new();
    for p in privileges {
        list.push(p.to_document());
    }
    rawdoc! { "privileges": list }
}

/// MongoDB: granting a role or privilege takes `grantRole` on its database (on the
/// cluster-wide resources, on admin); revoking takes `revokeRole`.
fn require_on(
    action: Action,
    dbs: impl IntoIterator<Item = String>,
    db: &str,
    command: &RawDocument,
) -> DocDbResult<()> {
    for target_db in dbs {
        authz::require(action, Target::Database(&target_db), db, command)?;
    }
    Ok(())
}

fn privilege_dbs(privileges: &[Privilege]) -> Vec<String> {
    privileges
        .iter()
        .map(|p| match &p.resource {
            Resource::Namespace { db, .. } if !db.is_empty() => db.clone(),
            _ => "admin".to_owned(),
        })
        .collect()
}

fn role_dbs(roles: &[RoleName]) -> Vec<String> {
    roles.iter().map(|r| r.db.clone()).collect()
}

fn require_custom_role(db: &str, name: &str) -> DocDbResult<pg_roles::CustomRole> {
    if BuiltinRole::from_name(name).is_some() {
        bail!(InvalidRoleModification, "Cannot modify built-in role: {name}@{db}");
    }
    pg_roles::custom_role(db, name)?.ok_or_else(|| docdb_error!(RoleNotFound, "Could not find role: {name}@{db}"))
}

/// The PostgreSQL roles of inherited roles, checked as MongoDB does: each exists, is on
/// the role's database (unless the role is on admin), and inheriting it makes no cycle.
fn inherited_pg_roles(role_db: &str, roles: &[RoleName], this: Option<&str>) -> DocDbResult<Vec<String>> {
    let mut out = Vec::new();
    for r in roles {
        check_inherited_role_scope(role_db, r)?;
        let pg = pg_roles::require_pg_role(r)?;
        if let Some(this) = this {
            let cycle = pg == this
                || !spi::execute(
                    "SELECT 1 FROM pg_catalog.pg_roles a, pg_catalog.pg_roles b WHERE a.rolname = $1 \
                     AND b.rolname = $2 AND pg_catalog.pg_has_role(a.oid, b.oid, 'MEMBER')",
                    &[Param::Text(&pg), Param::Text(this)],
                    true,
                    1,
                )?
                .is_empty();
            if cycle {
                bail!(
                    InvalidRoleModification,
                    "Granting {}@{} would introduce a cycle in the role graph",
                    r.role,
                    r.db
                );
            }
        }
        out.push(pg);
    }
    Ok(out)
}

/// The `privileges` and `roles` arrays of createRole and updateRole (either may be absent;
/// each command says which it requires).
type RoleDefinition<'a> = (Option<&'a RawArray>, Option<&'a RawArray>);

fn role_definition<'a>(spec_doc: &'a RawDocument, command: &'a str) -> DocDbResult<RoleDefinition<'a>> {
    let mut privileges = None;
    let mut roles = None;
    read_fields(spec_doc, command, |field| {
        match field.name {
            "privileges" => privileges = Some(field.array()?),
            "roles" => roles = Some(field.array()?),
            "authenticationRestrictions" => bail!(CommandNotSupported, "authenticationRestrictions are not supported"),
            "writeConcern" | "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((privileges, roles))
}

pub fn create_role(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = role_name_arg(spec_doc, "createRole")?;
    let db = spec::command_db(spec_doc);
    let (privileges, roles) = role_definition(spec_doc, "createRole")?;
    crate::catalog::validate_database_name(db)?;
    if BuiltinRole::from_name(name).is_some() {
        bail!(BadValue, "Cannot create roles with the same name as a built-in role");
    }
    let privileges =
        documentdb_authz::parse_privileges(privileges.ok_or_else(|| spec::missing("createRole", "privileges"))?)?;
    let roles = RoleName::parse_list(roles.ok_or_else(|| spec::missing("createRole", "roles"))?, db)?;
    // MongoDB checks the caller's privileges before the role's own rules.
    authz::require(Action::CreateRole, Target::Database(db), db, spec_doc)?;
    require_on(Action::GrantRole, privilege_dbs(&privileges).into_iter().chain(role_dbs(&roles)), db, spec_doc)?;
    check_scope(db, &privileges)?;
    if pg_roles::custom_role(db, name)?.is_some() {
        return Err(DocDbError::new(ROLE_EXISTS, format!("Role \"{name}@{db}\" already exists")));
    }
    let inherited = inherited_pg_roles(db, &roles, None)?;
    let stored = stored_privileges(&privileges);
    authz::privileged(|| {
        spi::execute(
            "INSERT INTO documentdb_api_catalog.roles (role_name, database_name, privileges) VALUES ($1, $2, $3)",
            &[Param::Text(name), Param::Text(db), Param::Bson(stored.as_bytes())],
            false,
            0,
        )?;
        let role = require_custom_role(db, name)?;
        let q = quote_ident(&role.pg_role);
        pg_roles::drop_leftover_role(&role.pg_role)?;
        spi::execute_once(&format!("CREATE ROLE {q} NOLOGIN"))?;
        spi::execute_once(&format!("COMMENT ON ROLE {q} IS {}", quote_literal(&format!("MongoDB role {name}@{db}"))))?;
        for pg in &inherited {
            pg_roles::grant_role(pg, &role.pg_role)?;
        }
        pg_roles::apply_custom_role(&role)
    })?;
    Ok(rawdoc! { "ok": 1.0 })
}

/// Replaces a role's privileges (catalog row and table grants).
fn set_privileges(role: &pg_roles::CustomRole, privileges: Vec<Privilege>) -> DocDbResult<()> {
    let stored = stored_privileges(&privileges);
    spi::execute(
        "UPDATE documentdb_api_catalog.roles SET privileges = $2 WHERE role_id = $1",
        &[Param::Int8(role.id), Param::Bson(stored.as_bytes())],
        false,
        0,
    )?;
    pg_roles::apply_custom_role(&pg_roles::CustomRole { privileges, ..role.clone() })
}

fn set_inherited(role: &pg_roles::CustomRole, add: &[String], remove: &[String]) -> DocDbResult<()> {
    for pg in remove {
        pg_roles::revoke_role(pg, &role.pg_role)?;
    }
    for pg in add {
        pg_roles::grant_role(pg, &role.pg_role)?;
    }
    Ok(())
}

pub fn update_role(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = role_name_arg(spec_doc, "updateRole")?;
    let db = spec::command_db(spec_doc);
    let (privileges, roles) = role_definition(spec_doc, "updateRole")?;
    if privileges.is_none() && roles.is_none() {
        bail!(BadValue, "Must specify at least one field to update in updateRole");
    }
    let privileges = privileges.map(documentdb_authz::parse_privileges).transpose()?;
    let roles = roles.map(|r| RoleName::parse_list(r, db)).transpose()?;
    // MongoDB: updateRole takes grantRole and revokeRole on every database involved.
    let mut dbs = vec![db.to_owned()];
    dbs.extend(privileges.as_deref().map(privilege_dbs).unwrap_or_default());
    dbs.extend(roles.as_deref().map(role_dbs).unwrap_or_default());
    require_on(Action::GrantRole, dbs.clone(), db, spec_doc)?;
    require_on(Action::RevokeRole, dbs, db, spec_doc)?;
    check_scope(db, privileges.as_deref().unwrap_or_default())?;
    let role = require_custom_role(db, name)?;
    let membership = match &roles {
        Some(list) => {
            let wanted = inherited_pg_roles(db, list, Some(&role.pg_role))?;
            let current = pg_roles::direct_memberships(&role.pg_role)?;
            let add: Vec<String> = wanted.iter().filter(|r| !current.contains(r)).cloned().collect();
            let remove: Vec<String> = current.into_iter().filter(|r| !wanted.contains(r)).collect();
            Some((add, remove))
        }
        None => None,
    };
    authz::privileged(|| {
        if let Some(p) = privileges {
            set_privileges(&role, p)?;
        }
        if let Some((add, remove)) = &membership {
            set_inherited(&role, add, remove)?;
        }
        Ok(())
    })?;
    Ok(rawdoc! { "ok": 1.0 })
}

fn drop_custom_role(role: &pg_roles::CustomRole) -> DocDbResult<()> {
    // Its table grants first: DROP ROLE refuses a role that still holds privileges.
    spi::execute_once(&format!("DROP OWNED BY {}", quote_ident(&role.pg_role)))?;
    spi::execute_once(&format!("DROP ROLE {}", quote_ident(&role.pg_role)))?;
    spi::execute("DELETE FROM documentdb_api_catalog.roles WHERE role_id = $1", &[Param::Int8(role.id)], false, 0)?;
    Ok(())
}

pub fn drop_role(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let name = role_name_arg(spec_doc, "dropRole")?;
    let db = spec::command_db(spec_doc);
    read_fields(spec_doc, "dropRole", |field| Ok(matches!(field.name, "writeConcern" | "comment")))?;
    authz::require(Action::DropRole, Target::Database(db), db, spec_doc)?;
    let role = require_custom_role(db, name)?;
    authz::privileged(|| drop_custom_role(&role))?;
    Ok(rawdoc! { "ok": 1.0 })
}

pub fn drop_all_roles_from_database(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let db = spec::command_db(spec_doc);
    read_fields(spec_doc, "dropAllRolesFromDatabase", |field| Ok(matches!(field.name, "writeConcern" | "comment")))?;
    authz::require(Action::DropRole, Target::Database(db), db, spec_doc)?;
    let roles = pg_roles::custom_roles(Some(db))?;
    authz::privileged(|| roles.iter().try_for_each(drop_custom_role))?;
    Ok(rawdoc! { "n": roles.len() as i32, "ok": 1.0 })
}

/// `grantRolesToRole` / `revokeRolesFromRole`.
fn change_role_roles(spec_doc: &RawDocument, command: &str, grant: bool) -> DocDbResult<RawDocumentBuf> {
    let name = role_name_arg(spec_doc, command)?;
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
    require_on(action, role_dbs(&roles), db, spec_doc)?;
    let role = require_custom_role(db, name)?;
    let pg = if grant {
        inherited_pg_roles(db, &roles, Some(&role.pg_role))?
    } else {
        roles.iter().map(pg_roles::require_pg_role).collect::<DocDbResult<_>>()?
    };
    authz::privileged(|| if grant { set_inherited(&role, &pg, &[]) } else { set_inherited(&role, &[], &pg) })?;
    Ok(rawdoc! { "ok": 1.0 })
}

pub fn grant_roles_to_role(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    change_role_roles(spec_doc, "grantRolesToRole", true)
}

pub fn revoke_roles_from_role(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    change_role_roles(spec_doc, "revokeRolesFromRole", false)
}

/// `grantPrivilegesToRole` / `revokePrivilegesFromRole`.
fn change_role_privileges(spec_doc: &RawDocument, command: &str, grant: bool) -> DocDbResult<RawDocumentBuf> {
    let name = role_name_arg(spec_doc, command)?;
    let db = spec::command_db(spec_doc);
    let mut privileges = None;
    read_fields(spec_doc, command, |field| {
        match field.name {
            "privileges" => privileges = Some(field.array()?),
            "writeConcern" | "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let privileges =
        documentdb_authz::parse_privileges(privileges.ok_or_else(|| spec::missing(command, "privileges"))?)?;
    let action = if grant { Action::GrantRole } else { Action::RevokeRole };
    require_on(action, privilege_dbs(&privileges), db, spec_doc)?;
    check_scope(db, &privileges)?;
    let role = require_custom_role(db, name)?;
    let mut updated: PrivilegeSet = role.privileges.iter().cloned().collect();
    for p in &privileges {
        if grant {
            updated.add(p.clone());
        } else {
            updated.remove(p);
        }
    }
    let updated = updated.into_privileges();
    authz::privileged(|| set_privileges(&role, updated))?;
    Ok(rawdoc! { "ok": 1.0 })
}

pub fn grant_privileges_to_role(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    change_role_privileges(spec_doc, "grantPrivilegesToRole", true)
}

pub fn revoke_privileges_from_role(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    change_role_privileges(spec_doc, "revokePrivilegesFromRole", false)
}

fn privilege_array(privileges: impl IntoIterator<Item = Privilege>) -> RawArrayBuf {
    let mut set = PrivilegeSet::default();
    set.extend(privileges);
    set.to_array()
}

/// One rolesInfo entry: a built-in role (no PostgreSQL role needed) or a custom one.
fn role_document(name: &RoleName, show_privileges: bool) -> DocDbResult<Option<RawDocumentBuf>> {
    let mut doc = rawdoc! {
        "_id": format!("{}.{}", name.db, name.role), "role": name.role.as_str(), "db": name.db.as_str(),
    };
    if let Some(builtin) = BuiltinRole::from_name(&name.role) {
        if builtin.admin_only() && name.db != "admin" {
            return Ok(None);
        }
        // MongoDB lists no roles for built-in roles: their privileges are flattened.
        doc.append(cstr("isBuiltin"), true);
        doc.append(cstr("roles"), RoleName::to_array(&[]));
        doc.append(cstr("inheritedRoles"), RoleName::to_array(&[]));
        if show_privileges {
            doc.append(cstr("privileges"), privilege_array(builtin.privileges(&name.db)));
            doc.append(cstr("inheritedPrivileges"), privilege_array(builtin.privileges(&name.db)));
        }
        return Ok(Some(doc));
    }
    let Some(role) = pg_roles::custom_role(&name.db, &name.role)? else { return Ok(None) };
    let direct = pg_roles::granted_roles(&role.pg_role)?;
    let (inherited, inherited_privileges) = principal::role_privileges(&role.pg_role)?;
    doc.append(cstr("isBuiltin"), false);
    doc.append(cstr("roles"), RoleName::to_array(&direct));
    doc.append(cstr("inheritedRoles"), RoleName::to_array(&inherited));
    if show_privileges {
        doc.append(cstr("privileges"), privilege_array(role.privileges.clone()));
        doc.append(
            cstr("inheritedPrivileges"),
            privilege_array(role.privileges.iter().cloned().chain(inherited_privileges)),
        );
    }
    Ok(Some(doc))
}

pub fn roles_info(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let db = spec::command_db(spec_doc);
    let target = spec::command_target(spec_doc, "rolesInfo")?;
    let mut show_privileges = false;
    let mut show_builtin = false;
    read_fields(spec_doc, "rolesInfo", |field| {
        match field.name {
            "showPrivileges" => {
                // `showPrivileges: "asUserFragment"` is a variant we answer as true.
                show_privileges = matches!(field.value, RawBsonRef::String(_)) || field.bool()?;
            }
            "showBuiltinRoles" => show_builtin = field.bool()?,
            "showAuthenticationRestrictions" | "comment" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let all_of_db = matches!(target, RawBsonRef::Int32(1) | RawBsonRef::Int64(1))
        || matches!(target, RawBsonRef::Double(f) if f == 1.0);
    let names: Vec<RoleName> = match target {
        _ if all_of_db => {
            authz::require(Action::ViewRole, Target::Database(db), db, spec_doc)?;
            let mut all: Vec<RoleName> = Vec::new();
            if show_builtin {
                all.extend(
                    BuiltinRole::all()
                        .iter()
                        .filter(|r| !r.admin_only() || db == "admin")
                        .map(|r| RoleName { role: r.name().to_owned(), db: db.to_owned() }),
                );
            }
            all.extend(pg_roles::custom_roles(Some(db))?.into_iter().map(|r| r.name));
            all
        }
        RawBsonRef::Array(items) => items
            .into_iter()
            .map(|i| RoleName::parse(i.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?, db))
            .collect::<DocDbResult<_>>()?,
        other => vec![RoleName::parse(other, db)?],
    };
    // MongoDB: viewRole on each role's database, unless the user holds the role.
    if !all_of_db {
        let held = principal::current()?.roles;
        for n in &names {
            if !held.contains(n) {
                authz::require(Action::ViewRole, Target::Database(&n.db), db, spec_doc)?;
            }
        }
    }
    let mut roles = RawArrayBuf::new();
    for n in &names {
        if let Some(doc) = role_document(n, show_privileges)? {
            roles.push(doc);
        }
    }
    Ok(rawdoc! { "roles": roles, "ok": 1.0 })
}
