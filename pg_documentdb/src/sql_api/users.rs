//! Users and roles: `createUser` ... `connectionStatus`, `createRole` ... `rolesInfo`, and
//! the authentication lookup the gateway makes.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use pgrx::prelude::*;

use crate::commands::{roles, users};
use crate::spi::with_spi;

/// Each entry point takes the command's spec document and returns its reply; the command
/// in `commands::users` / `commands::roles` has the entry point's name.
macro_rules! spec_commands {
    ($module:ident: $($name:ident),+ $(,)?) => {$(
        #[pg_extern(sql = false)]
        fn $name(p_spec: BsonRef<'_>) -> Bson {
            docdb_guard(|| with_spi(|| $module::$name(p_spec.document())).map(Bson::from))
        }
    )+};
}

spec_commands!(users: create_user, drop_user, update_user, users_info, connection_status, grant_roles_to_user,
    revoke_roles_from_user, drop_all_users_from_database);
spec_commands!(roles: create_role, drop_role, update_role, roles_info, grant_roles_to_role, revoke_roles_from_role,
    grant_privileges_to_role, revoke_privileges_from_role, drop_all_roles_from_database);

/// The PostgreSQL login role that authenticates as MongoDB user `p_user` of database
/// `p_db` (the gateway's SCRAM lookup): the catalog's, or on admin a PostgreSQL role of
/// that name that is no other database's user (psql-created roles log in as admin users).
#[pg_extern(sql = false)]
fn authentication_role(p_db: &str, p_user: &str) -> Option<String> {
    docdb_guard(|| with_spi(|| users::authentication_role(p_db, p_user)))
}

/// The actions the current user holds on the cluster resource (serverStatus, inprog,
/// killop, listSessions, killAnySession ...), for the commands the gateway answers itself.
#[pg_extern(sql = false)]
fn cluster_actions() -> Vec<String> {
    docdb_guard(|| with_spi(crate::authz::cluster_actions))
}
