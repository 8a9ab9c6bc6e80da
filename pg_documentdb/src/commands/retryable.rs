//! Retryable writes (MongoDB's retryable-writes spec): a write command sent with a logical
//! session and a `txnNumber` is applied once. Its reply is recorded in the same PostgreSQL
//! transaction as its effects (`documentdb_api_catalog.retryable_writes`), and a retry with
//! the same session and `txnNumber` answers that reply without running again — also after a
//! gateway restart. Writers of one session take turns (an advisory lock), so a retry racing
//! the original waits for it and then answers its reply. Records are dropped with the
//! session timeout (`delete_expired_retryable_writes`, run by the TTL monitor).

use bson::RawDocumentBuf;
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};

use crate::authz;
use crate::spi::{self, Param, Value};

/// A write's reply and whether every statement succeeded.
pub struct Recorded {
    pub reply: RawDocumentBuf,
    pub success: bool,
}

/// MongoDB's 225 TransactionTooOld.
const TRANSACTION_TOO_OLD: ErrorCode = ErrorCode::new(225);

/// `session:txnNumber`, as the gateway passes it (`p_transaction_id`).
fn parse(transaction_id: &str) -> DocDbResult<(&str, i64)> {
    let (session, number) =
        transaction_id.rsplit_once(':').ok_or_else(|| docdb_error!(BadValue, "malformed transaction id"))?;
    let number = number.parse::<i64>().map_err(|_| docdb_error!(BadValue, "malformed transaction id"))?;
    if session.is_empty() {
        bail!(BadValue, "malformed transaction id");
    }
    Ok((session, number))
}

/// Runs `write` once per (session, txnNumber): the recorded reply when it already ran.
pub fn once(transaction_id: Option<&str>, write: impl FnOnce() -> DocDbResult<Recorded>) -> DocDbResult<Recorded> {
    let Some(transaction_id) = transaction_id else { return write() };
    let (session, number) = parse(transaction_id)?;
    let previous = authz::privileged(|| {
        spi::execute(
            "SELECT 1 FROM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))",
            &[Param::Text(session)],
            false,
            1,
        )?;
        spi::execute(
            "SELECT txn_number, reply, success FROM documentdb_api_catalog.retryable_writes \
             WHERE session_id = $1 ORDER BY txn_number DESC LIMIT 1",
            &[Param::Text(session)],
            true,
            1,
        )
    })?;
    if let Some(row) = previous.into_iter().next() {
        let mut c = row.into_iter();
        let latest = c.next().and_then(|v| v.as_i64()).unwrap_or(i64::MIN);
        if latest == number {
            let reply = c
                .next()
                .and_then(Value::into_bson)
                .and_then(|b| RawDocumentBuf::from_bytes(b).ok())
                .ok_or_else(|| docdb_error!(InternalError, "a recorded retryable write lost its reply"))?;
            let success = c.next().and_then(|v| v.as_bool()).unwrap_or(true);
            return Ok(Recorded { reply, success });
        }
        if latest > number {
            return Err(DocDbError::new(
                TRANSACTION_TOO_OLD,
                format!(
                    "Retryable write with txnNumber {number} is prohibited on session because a newer retryable write with txnNumber {latest} has already started on this session."
                ),
            ));
        }
    }
    let recorded = write()?;
    authz::privileged(|| {
        spi::execute(
            "INSERT INTO documentdb_api_catalog.retryable_writes (session_id, txn_number, reply, success) \
             VALUES ($1, $2, $3, $4::text::boolean)",
            &[
                Param::Text(session),
                Param::Int8(number),
                Param::Bson(recorded.reply.as_bytes()),
                Param::Text(if recorded.success { "true" } else { "false" }),
            ],
            false,
            0,
        )
    })?;
    Ok(recorded)
}

/// Drops the records of writes older than MongoDB's session timeout (30 minutes): a
/// session unused that long has expired, and with it the right to retry.
pub fn delete_expired() -> DocDbResult<i64> {
    let rows = authz::privileged(|| {
        spi::execute(
            "WITH gone AS (DELETE FROM documentdb_api_catalog.retryable_writes \
             WHERE written_at < pg_catalog.now() - interval '30 minutes' RETURNING 1) SELECT count(*) FROM gone",
            &[],
            false,
            1,
        )
    })?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn transaction_ids_are_session_and_number() {
        assert_eq!(parse("ab12:7").ok(), Some(("ab12", 7)));
        assert_eq!(parse("a:b:9").ok(), Some(("a:b", 9)));
        assert!(parse("abc").is_err() && parse(":1").is_err() && parse("a:x").is_err());
    }
}
