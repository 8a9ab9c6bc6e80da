//! Users and roles: `createUser` ... `usersInfo`, `createRole` ... `rolesInfo`. Each is one
//! call of its SQL function with the command document; the extension checks the caller's
//! privileges (the gateway adds nothing of its own).

use super::sql_call::spec_only;
use super::{CommandRequest, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::sql;

/// (command, SQL, whether it changes users or roles).
const USER_COMMANDS: &[(&str, &str, bool)] = &[
    ("createUser", sql::CREATE_USER, true),
    ("dropUser", sql::DROP_USER, true),
    ("updateUser", sql::UPDATE_USER, true),
    ("usersInfo", sql::USERS_INFO, false),
    ("grantRolesToUser", sql::GRANT_ROLES_TO_USER, true),
    ("revokeRolesFromUser", sql::REVOKE_ROLES_FROM_USER, true),
    ("dropAllUsersFromDatabase", sql::DROP_ALL_USERS_FROM_DATABASE, true),
    ("createRole", sql::CREATE_ROLE, true),
    ("updateRole", sql::UPDATE_ROLE, true),
    ("dropRole", sql::DROP_ROLE, true),
    ("dropAllRolesFromDatabase", sql::DROP_ALL_ROLES_FROM_DATABASE, true),
    ("rolesInfo", sql::ROLES_INFO, false),
    ("grantRolesToRole", sql::GRANT_ROLES_TO_ROLE, true),
    ("revokeRolesFromRole", sql::REVOKE_ROLES_FROM_ROLE, true),
    ("grantPrivilegesToRole", sql::GRANT_PRIVILEGES_TO_ROLE, true),
    ("revokePrivilegesFromRole", sql::REVOKE_PRIVILEGES_FROM_ROLE, true),
];

pub async fn run(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let Some((_, statement, changes)) = USER_COMMANDS.iter().find(|(name, _, _)| *name == req.name) else {
        return Err(CommandError::internal(format!("{} is not a user or role command", req.name)));
    };
    let result = spec_only(ctx, req, statement).await;
    if *changes {
        // Pooled connections set to a dropped and re-created user set their role afresh,
        // and connections re-read their users' cluster privileges.
        ctx.gw.pool.invalidate_roles();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_admin_command_has_its_statement() {
        for c in super::super::COMMANDS.iter().filter(|c| c.handler == super::super::Handler::UserAdmin) {
            assert!(USER_COMMANDS.iter().any(|(n, _, _)| *n == c.name), "{} has no SQL", c.name);
        }
    }
}
