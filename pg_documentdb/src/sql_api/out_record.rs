//! The OUT-parameter records the CRUD and cursor entry points return: the command's reply
//! first, then the function's other OUT parameters, in the order `sql/documentdb_api.sql`
//! declares them.

use bson::RawDocumentBuf;
use pgrx::pg_sys;

use crate::record::{Column, Record};

/// The record `(reply bson, rest...)`.
pub(super) fn reply_record(
    fcinfo: pg_sys::FunctionCallInfo,
    reply: RawDocumentBuf,
    rest: impl IntoIterator<Item = Column>,
) -> Record {
    Record::build(fcinfo, std::iter::once(Column::Bson(reply.into_bytes())).chain(rest).collect())
}

/// A cursor's `continuation` column: NULL when there is nothing to continue.
pub(super) fn continuation_column(continuation: Option<RawDocumentBuf>) -> Column {
    continuation.map_or(Column::Null, |c| Column::Bson(c.into_bytes()))
}
