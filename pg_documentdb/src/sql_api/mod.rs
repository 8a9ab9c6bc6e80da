//! Every SQL entry point of the extension, one file per family of commands. Each is a thin
//! `#[pg_extern(sql = false)]` wrapper: read the arguments, run the command (which returns
//! `DocDbResult`), raise MongoDB errors with their codes. Their SQL declarations (schema,
//! OUT parameters, defaults, volatility) are hand-written, symbol `<name>_wrapper`:
//! `sql/documentdb_api.sql` for the public `documentdb_api` functions and
//! `sql/documentdb_api_internal.sql` for the internal functions generated queries call.

mod bucket_auto;
mod collections;
mod crud;
mod cursors;
mod densify;
mod diagnostics;
mod group_accumulator;
mod indexes;
mod out_merge;
mod out_record;
mod per_row;
mod text_search;
mod users;
mod window;
