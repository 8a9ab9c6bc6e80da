//! Writes and the single-result reads: `insert`, `insert_one`, `update`, `delete`,
//! `find_and_modify`, `count_query`, `distinct_query`.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef, BsonSequenceRef};
use pgrx::prelude::*;

use super::out_record::reply_record;
use crate::commands::retryable::{self, Recorded};
use crate::commands::write_result::WriteResult;
use crate::commands::{find, insert, update_delete};
use crate::record::{Column, Record};
use crate::spi::with_spi;

/// `(p_result bson, p_success bool)`.
fn write_record(fcinfo: pg_sys::FunctionCallInfo, result: Recorded) -> Record {
    reply_record(fcinfo, result.reply, [Column::Bool(result.success)])
}

/// A write's reply and success, for recording (retryable writes).
fn recorded(result: WriteResult) -> Recorded {
    Recorded { success: result.success(), reply: result.to_reply() }
}

/// `insert`, `update` and `delete` share one SQL signature (`p_database_name text, <spec>
/// bson, p_insert_documents bsonsequence, p_transaction_id text`) and differ only in the
/// command they run.
macro_rules! write_commands {
    ($($name:ident => $command:path),+ $(,)?) => {$(
        #[pg_extern(sql = false)]
        fn $name(
            p_database_name: &str,
            p_spec: BsonRef<'_>,
            p_insert_documents: Option<BsonSequenceRef<'_>>,
            p_transaction_id: Option<&str>,
            fcinfo: pg_sys::FunctionCallInfo,
        ) -> Record {
            let result = docdb_guard(|| {
                with_spi(|| {
                    retryable::once(p_transaction_id, || {
                        $command(p_database_name, p_spec.document(), p_insert_documents).map(recorded)
                    })
                })
            });
            write_record(fcinfo, result)
        }
    )+};
}

write_commands! {
    insert => insert::insert,
    update => update_delete::update,
    delete => update_delete::delete,
}

#[pg_extern(sql = false)]
fn insert_one(
    p_database_name: &str,
    p_collection_name: &str,
    p_document: BsonRef<'_>,
    _p_transaction_id: Option<&str>,
) -> Bson {
    docdb_guard(|| {
        let spec = bson::rawdoc! { "insert": p_collection_name, "documents": [p_document.document().to_owned()] };
        with_spi(|| insert::insert(p_database_name, &spec, None)).map(|r| Bson::from(r.to_reply()))
    })
}

#[pg_extern(sql = false)]
fn find_and_modify(
    p_database_name: &str,
    p_message: BsonRef<'_>,
    p_transaction_id: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let result = docdb_guard(|| {
        with_spi(|| {
            retryable::once(p_transaction_id, || {
                update_delete::find_and_modify(p_database_name, p_message.document())
                    .map(|reply| Recorded { reply, success: true })
            })
        })
    });
    write_record(fcinfo, result)
}

#[pg_extern(sql = false)]
fn count_query(database: &str, countspec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| find::count(database, countspec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn distinct_query(database: &str, distinctspec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| find::distinct(database, distinctspec.document())).map(Bson::from))
}
