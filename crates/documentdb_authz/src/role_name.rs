//! Role references (`"name"` or `{role, db}`) and the rules on what a role may hold.
//!
//! The scope rules are createRole's, grantPrivilegesToRole's and grantRolesToRole's
//! (https://www.mongodb.com/docs/manual/reference/command/createRole/): a role defined on a
//! database other than `admin` may only hold privileges on its own database and only inherit
//! roles of its own database.

use std::fmt;

use bson::raw::{cstr, RawBsonRef, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::bson_util::fields;
use crate::privilege::Privilege;
use crate::resource::Resource;
use documentdb_bson::type_name::type_name;

/// MongoDB's InvalidRoleModification (49), the code of the scope errors below.
pub const INVALID_ROLE_MODIFICATION: ErrorCode = ErrorCode::new(49);

/// A role's name and the database it is defined on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleName {
    pub role: String,
    pub db: String,
}

impl RoleName {
    pub fn new(role: &str, db: &str) -> RoleName {
        RoleName { role: role.to_string(), db: db.to_string() }
    }

    /// A role reference as the user-management commands take it: a string names a role on
    /// `default_db` (the command's database); a document must hold string fields `role` and
    /// `db` (other fields are ignored, as MongoDB's RoleName parser is not strict). Errors
    /// are MongoDB's (BadValue).
    pub fn parse(value: RawBsonRef<'_>, default_db: &str) -> DocDbResult<RoleName> {
        let doc = match value {
            RawBsonRef::String(role) => return Ok(RoleName::new(role, default_db)),
            RawBsonRef::Document(doc) => doc,
            _ => return Err(bad_value("RoleName must be either a string or an object")),
        };
        let mut role = None;
        let mut db = None;
        for (name, value) in fields(doc)? {
            let slot = match name {
                "role" => &mut role,
                "db" => &mut db,
                _ => continue,
            };
            let Some(text) = value.as_str() else {
                return Err(bad_value(&format!(
                    "RoleName must contain a string field named: {name}. But, has type {}",
                    type_name(value.element_type())
                )));
            };
            if slot.is_some() {
                return Err(bad_value(&format!("RoleName has more than one field named: {name}")));
            }
            *slot = Some(text);
        }
        let Some(role) = role else {
            return Err(bad_value("RoleName must contain a field named: role"));
        };
        let Some(db) = db else {
            return Err(bad_value("RoleName must contain a field named: db"));
        };
        Ok(RoleName::new(role, db))
    }

    /// A `roles` array: each element as [`RoleName::parse`] reads it.
    pub fn parse_list(roles: &bson::RawArray, default_db: &str) -> DocDbResult<Vec<RoleName>> {
        roles
            .into_iter()
            .map(|r| RoleName::parse(r.map_err(|e| documentdb_errors::docdb_error!(InvalidBSON, "{e}"))?, default_db))
            .collect()
    }

    /// `[{role, db}, ...]`, as usersInfo / rolesInfo / connectionStatus print role lists.
    pub fn to_array(roles: &[RoleName]) -> bson::RawArrayBuf {
        let mut out = bson::RawArrayBuf::new();
        for r in roles {
            out.push(r.to_document());
        }
        out
    }

    /// `{role, db}`.
    pub fn to_document(&self) -> RawDocumentBuf {
        let mut doc = RawDocumentBuf::new();
        doc.append(cstr!("role"), self.role.as_str());
        doc.append(cstr!("db"), self.db.as_str());
        doc
    }
}

/// `role@db`, as MongoDB prints role names in messages.
impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.role, self.db)
    }
}

fn bad_value(message: &str) -> DocDbError {
    DocDbError::new(ErrorCode::BadValue, message)
}

fn invalid_role_modification(message: String) -> DocDbError {
    DocDbError::new(INVALID_ROLE_MODIFICATION, message)
}

/// A role on `role_db` may hold `privilege` only if `role_db` is `admin` or the privilege is on
/// `role_db` itself (the database or one of its collections): no cluster, anyResource, other
/// database or wildcard database. InvalidRoleModification otherwise, with MongoDB's message.
pub fn check_privilege_scope(role_db: &str, privilege: &Privilege) -> DocDbResult<()> {
    if role_db == "admin" {
        return Ok(());
    }
    match &privilege.resource {
        Resource::Namespace { db, .. } if db == role_db => Ok(()),
        _ => Err(invalid_role_modification(format!(
            "Roles on the '{role_db}' database cannot be granted privileges that target other databases or the cluster"
        ))),
    }
}

/// A role on `role_db` may inherit `inherited` only if `role_db` is `admin` or `inherited` is
/// defined on `role_db` too. InvalidRoleModification otherwise, with MongoDB's message.
pub fn check_inherited_role_scope(role_db: &str, inherited: &RoleName) -> DocDbResult<()> {
    if role_db == "admin" || inherited.db == role_db {
        return Ok(());
    }
    Err(invalid_role_modification(format!(
        "Roles on the '{role_db}' database cannot be granted roles from other databases"
    )))
}

/// The checks MongoDB makes, in its order, before `inherited` is granted to `role`
/// (createRole, updateRole, grantRolesToRole): not the role itself, then
/// [`check_inherited_role_scope`]. Whether `inherited` exists and whether the grant would close
/// a cycle need the catalog and are the caller's.
pub fn check_role_grant(role: &RoleName, inherited: &RoleName) -> DocDbResult<()> {
    if role == inherited {
        return Err(invalid_role_modification(format!("Cannot grant role {role} to itself.")));
    }
    check_inherited_role_scope(&role.db, inherited)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;
    use bson::{rawbson, rawdoc};

    fn parse(value: bson::RawBson) -> DocDbResult<RoleName> {
        RoleName::parse(value.as_raw_bson_ref(), "app")
    }

    #[test]
    fn role_names_parse_from_strings_and_documents() {
        // https://www.mongodb.com/docs/manual/reference/command/createRole/ (roles field)
        assert_eq!(parse(rawbson!("read")).unwrap(), RoleName::new("read", "app"));
        assert_eq!(parse(rawbson!({ "role": "read", "db": "other" })).unwrap(), RoleName::new("read", "other"));
        // Unknown fields are ignored, as the server's RoleName parser is not strict.
        assert_eq!(parse(rawbson!({ "db": "x", "role": "r", "extra": 1 })).unwrap(), RoleName::new("r", "x"));
        let name = RoleName::new("r", "x");
        assert_eq!(name.to_document(), rawdoc! { "role": "r", "db": "x" });
        assert_eq!(name.to_string(), "r@x");
    }

    #[test]
    fn role_name_errors_are_mongodbs() {
        let cases = [
            (rawbson!(1), "RoleName must be either a string or an object"),
            (rawbson!({ "db": "x" }), "RoleName must contain a field named: role"),
            (rawbson!({ "role": "r" }), "RoleName must contain a field named: db"),
            (rawbson!({ "role": 1, "db": "x" }), "RoleName must contain a string field named: role. But, has type int"),
            (rawbson!({ "role": "r", "role": "s", "db": "x" }), "RoleName has more than one field named: role"),
        ];
        for (value, message) in cases {
            let err = parse(value).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadValue);
            assert_eq!(err.message, message);
        }
    }

    #[test]
    fn privilege_scope_of_non_admin_roles() {
        let p = |resource| Privilege::new(resource, [Action::Find]);
        assert!(check_privilege_scope("app", &p(Resource::database("app"))).is_ok());
        assert!(check_privilege_scope("app", &p(Resource::namespace("app", "c"))).is_ok());
        for resource in [
            Resource::Cluster,
            Resource::AnyResource,
            Resource::database("other"),
            Resource::namespace("other", "c"),
            Resource::any_normal(),
            Resource::namespace("", "c"),
        ] {
            let err = check_privilege_scope("app", &p(resource.clone())).unwrap_err();
            assert_eq!(err.code.code(), 49, "{resource:?}");
            assert_eq!(
                err.message,
                "Roles on the 'app' database cannot be granted privileges that target other databases or the cluster"
            );
            // Roles on admin may hold anything.
            assert!(check_privilege_scope("admin", &p(resource)).is_ok());
        }
    }

    #[test]
    fn inherited_role_scope_and_self_grant() {
        assert!(check_inherited_role_scope("app", &RoleName::new("read", "app")).is_ok());
        assert!(check_inherited_role_scope("admin", &RoleName::new("read", "app")).is_ok());
        let err = check_inherited_role_scope("app", &RoleName::new("read", "other")).unwrap_err();
        assert_eq!(err.code, INVALID_ROLE_MODIFICATION);
        assert_eq!(err.message, "Roles on the 'app' database cannot be granted roles from other databases");

        let me = RoleName::new("mine", "app");
        let err = check_role_grant(&me, &me).unwrap_err();
        assert_eq!(err.code, INVALID_ROLE_MODIFICATION);
        assert_eq!(err.message, "Cannot grant role mine@app to itself.");
        assert!(check_role_grant(&me, &RoleName::new("read", "app")).is_ok());
        assert!(check_role_grant(&me, &RoleName::new("read", "admin")).is_err());
    }
}
