//! MongoDB's authorization model as plain data (no PostgreSQL here): privilege actions,
//! resources, privileges, the built-in roles' privileges as the MongoDB manual lists them,
//! and the check "may a holder of these privileges perform this action on this target".
//!
//! The extension maps each role to PostgreSQL roles and grants (see docs/authorization.md);
//! this crate is the one place that says what each MongoDB role allows.
//!
//! Manual pages this follows (MongoDB 7.0):
//! - Privilege Actions: https://www.mongodb.com/docs/manual/reference/privilege-actions/
//! - Resource Document: https://www.mongodb.com/docs/manual/reference/resource-document/
//! - Built-In Roles: https://www.mongodb.com/docs/manual/reference/built-in-roles/
//! - createRole, grantPrivilegesToRole, grantRolesToRole, rolesInfo command pages.

// A pure crate: no PostgreSQL, no unsafe.
#![forbid(unsafe_code)]

mod action;
mod bson_util;
mod builtin_roles;
mod privilege;
mod resource;
mod role_name;

pub use action::Action;
pub use builtin_roles::BuiltinRole;
pub use privilege::{parse_privileges, Privilege, PrivilegeSet};
pub use resource::{is_normal_collection, Resource, Target};
pub use role_name::{
    check_inherited_role_scope, check_privilege_scope, check_role_grant, RoleName, INVALID_ROLE_MODIFICATION,
};
