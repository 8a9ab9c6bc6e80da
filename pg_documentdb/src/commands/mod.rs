//! MongoDB commands, one module per family. Each returns `DocDbResult`; the
//! `#[pg_extern]` wrappers in `sql_api/` raise errors.

pub mod aggregate;
pub mod collection;
pub mod cursor;
pub mod explain;
pub mod find;
pub mod index_sql;
pub mod indexes;
pub mod insert;
pub mod meta_fields;
pub mod new_collection;
pub mod out_merge;
pub mod query_plan;
pub mod query_sql;
pub mod query_text;
pub mod retryable;
pub mod roles;
pub mod spec;
pub mod ttl;
pub mod update_delete;
pub mod users;
pub mod validation;
pub mod vars;
pub mod write_result;
