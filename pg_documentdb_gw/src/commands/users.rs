//! User management commands: createUser, dropUser, updateUser, usersInfo.

use super::sql_call::spec_only;
use super::{CommandRequest, Ctx};
use crate::error::CommandResult;
use crate::sql;

pub async fn create_user(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    spec_only(ctx, req, sql::CREATE_USER).await
}

pub async fn users_info(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    spec_only(ctx, req, sql::USERS_INFO).await
}

pub async fn drop_user(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    role_change(ctx, req, sql::DROP_USER).await
}

pub async fn update_user(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    role_change(ctx, req, sql::UPDATE_USER).await
}

/// dropUser/updateUser: afterwards pooled connections set to some role set it afresh before
/// their next command (a re-created user is a new PostgreSQL role).
async fn role_change(ctx: &mut Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let result = spec_only(ctx, req, statement).await;
    ctx.gw.pool.invalidate_roles();
    result
}
