//! TTL indexes: `expireAfterSeconds` on a single-field index removes documents whose indexed
//! value is a date (for an array, its earliest element) older than that many seconds, as
//! MongoDB's TTL monitor does. [`delete_expired_documents`] is one pass of the monitor; the
//! extension's background worker (`ttl_worker.rs`) runs it every
//! `documentdb.ttl_task_interval_seconds` (60 by default, as mongod's `ttlMonitorSleepSecs`).

use bson::{RawBsonRef, RawDocument};
use documentdb_errors::{bail, DocDbResult};

use super::index_sql::{key_bytes, sort_key_expression};
use crate::catalog;
use crate::spi::{self, Param, Value};
use crate::sql_names::BSON;

/// MongoDB's largest `expireAfterSeconds` (a 32-bit signed number of seconds).
const MAX_EXPIRE_AFTER_SECONDS: f64 = i32::MAX as f64;

/// Validates an `expireAfterSeconds` value for index `key`; returns it as stored (an int32,
/// as mongod stores it).
pub fn validate_expire_after_seconds(key: &RawDocument, value: RawBsonRef<'_>) -> DocDbResult<i32> {
    let seconds = match value {
        RawBsonRef::Int32(v) => f64::from(v),
        RawBsonRef::Int64(v) => v as f64,
        RawBsonRef::Double(v) => v,
        RawBsonRef::Decimal128(_) => bail!(CannotCreateIndex, "TTL index 'expireAfterSeconds' option must be numeric"),
        _ => bail!(CannotCreateIndex, "TTL index 'expireAfterSeconds' option must be numeric"),
    };
    if seconds.is_nan() || !(0.0..=MAX_EXPIRE_AFTER_SECONDS).contains(&seconds) {
        bail!(
            CannotCreateIndex,
            "TTL index 'expireAfterSeconds' option must be within an acceptable range, try a lower number"
        );
    }
    let mut fields = key.iter().flatten();
    match (fields.next(), fields.next()) {
        (Some((path, _)), None) if path.as_str() == "_id" => bail!(
            InvalidIndexSpecificationOption,
            "The field 'expireAfterSeconds' is not valid for an _id index specification."
        ),
        (Some(_), None) => {}
        _ => bail!(CannotCreateIndex, "TTL indexes are single-field indexes, compound indexes do not support TTL."),
    }
    Ok(seconds as i32)
}

/// One pass of the TTL monitor over every TTL index of the database: deletes the expired
/// documents, at most `batch` per index and round, until none is left. Returns how many.
pub fn delete_expired_documents(batch: i64) -> DocDbResult<i64> {
    // The monitor also drops retryable-write records of expired sessions.
    super::retryable::delete_expired()?;
    let rows = spi::execute(
        "SELECT c.database_name, c.collection_name FROM documentdb_api_catalog.collections c \
         WHERE c.view_definition IS NULL AND EXISTS (SELECT 1 FROM documentdb_api_catalog.collection_indexes i \
         WHERE i.collection_id = c.collection_id AND i.index_name <> '_id_') ORDER BY 1, 2",
        &[],
        true,
        0,
    )?;
    let now_ms = now_millis()?;
    let mut deleted = 0;
    for row in rows {
        let (Some(db), Some(coll)) = (row.first().and_then(Value::as_text), row.get(1).and_then(Value::as_text)) else {
            continue;
        };
        let Some(collection) = catalog::lookup(db, coll)? else { continue };
        for index in &collection.indexes {
            let Ok(Some(seconds)) = index.spec.get("expireAfterSeconds") else { continue };
            let seconds = match seconds {
                RawBsonRef::Int32(v) => i64::from(v),
                RawBsonRef::Int64(v) => v,
                RawBsonRef::Double(v) => v as i64,
                _ => continue,
            };
            let Some((path, _)) = index.key().and_then(|k| k.iter().flatten().next()) else { continue };
            // The ascending sort key is the value, or an array's smallest element (its
            // earliest date among dates): expired when it is a date before the cutoff.
            let ascending = index.ascending_on(path.as_str()).filter(|_| !index.multikey).unwrap_or(true);
            let key = sort_key_expression("document", path.as_str(), ascending)?;
            let cutoff = now_ms.saturating_sub(seconds.saturating_mul(1000));
            let lowest = key_bytes(RawBsonRef::DateTime(bson::DateTime::from_millis(i64::MIN)));
            let expired_before = key_bytes(RawBsonRef::DateTime(bson::DateTime::from_millis(cutoff)));
            let table = collection.table();
            let sql = format!(
                "DELETE FROM {table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {table} \
                 WHERE {key} OPERATOR(documentdb_core.>=) $1::{BSON} AND {key} OPERATOR(documentdb_core.<) $2::{BSON} \
                 LIMIT {batch})) RETURNING 1"
            );
            loop {
                let n =
                    spi::execute(&sql, &[Param::Bson(&lowest), Param::Bson(&expired_before)], false, 0)?.len() as i64;
                deleted += n;
                if n < batch {
                    break;
                }
            }
        }
    }
    Ok(deleted)
}

/// The transaction's timestamp in milliseconds since the epoch.
fn now_millis() -> DocDbResult<i64> {
    let rows = spi::execute("SELECT (extract(epoch FROM now()) * 1000)::int8", &[], true, 1)?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0))
}
