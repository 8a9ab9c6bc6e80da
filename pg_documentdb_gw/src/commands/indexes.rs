//! Index commands: createIndexes, dropIndexes, listIndexes, reIndex.

use super::cursors::first_page;
use super::sql_call::db_and_spec;
use super::{CommandRequest, Ctx};
use crate::error::CommandResult;
use crate::sql;

pub async fn create_indexes(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_and_spec(ctx, req, sql::CREATE_INDEXES).await
}

pub async fn drop_indexes(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_and_spec(ctx, req, sql::DROP_INDEXES).await
}

pub async fn re_index(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_and_spec(ctx, req, sql::RE_INDEX).await
}

pub async fn list_indexes(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    first_page(ctx, req, sql::LIST_INDEXES).await
}
