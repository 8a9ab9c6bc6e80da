//! Internal subtransactions, so one statement of a write batch can fail (and be reported
//! as a `writeErrors` entry) without aborting the whole command — the same mechanism
//! PL/pgSQL's EXCEPTION blocks use.

use documentdb_errors::{DocDbError, ErrorCode};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

/// Why a subtransaction failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Our own error (raised in Rust, or raised by one of our SQL functions inside SPI).
    DocDb(DocDbError),
    /// PostgreSQL reported a unique violation; the detail names the key.
    UniqueViolation { constraint_message: String },
    /// PostgreSQL reported a cardinality violation (a `MERGE` that met a target row twice).
    CardinalityViolation { message: String },
}

impl Failure {
    pub fn into_error(self) -> DocDbError {
        match self {
            Failure::DocDb(e) => e,
            Failure::UniqueViolation { constraint_message } => {
                DocDbError::new(ErrorCode::DuplicateKey, constraint_message)
            }
            Failure::CardinalityViolation { message } => DocDbError::new(ErrorCode::InternalError, message),
        }
    }
}

/// Errors that must never be swallowed into a write error: cancellation, shutdown,
/// out of memory, serialization failures and the like abort the command as a whole.
fn must_propagate(code: PgSqlErrorCode) -> bool {
    use PgSqlErrorCode::*;
    matches!(
        code,
        ERRCODE_QUERY_CANCELED
            | ERRCODE_ADMIN_SHUTDOWN
            | ERRCODE_OUT_OF_MEMORY
            | ERRCODE_T_R_SERIALIZATION_FAILURE
            | ERRCODE_T_R_DEADLOCK_DETECTED
            | ERRCODE_IN_FAILED_SQL_TRANSACTION
            | ERRCODE_LOCK_NOT_AVAILABLE
            | ERRCODE_INSUFFICIENT_PRIVILEGE
    )
}

/// Runs `f` in an internal subtransaction. On success the subtransaction is released; on
/// a DocDb error (returned or raised) or a unique violation it is rolled back and the
/// failure returned; any other error propagates unchanged.
pub fn run<T>(f: impl FnOnce() -> Result<T, DocDbError>) -> Result<T, Failure> {
    // SAFETY: the canonical BeginInternalSubTransaction / Release / RollbackAndRelease
    // sequence with memory context and resource owner restored, as plpgsql does.
    unsafe {
        let old_context = pg_sys::CurrentMemoryContext;
        let old_owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(old_context);

        let rollback = move || {
            pg_sys::MemoryContextSwitchTo(old_context);
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
            pg_sys::MemoryContextSwitchTo(old_context);
            pg_sys::CurrentResourceOwner = old_owner;
        };

        let f = std::panic::AssertUnwindSafe(f);
        PgTryBuilder::new(move || match f() {
            Ok(value) => {
                pg_sys::ReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(old_context);
                pg_sys::CurrentResourceOwner = old_owner;
                Ok(value)
            }
            Err(err) => {
                rollback();
                Err(Failure::DocDb(err))
            }
        })
        .catch_others(|caught| {
            let failure = match &caught {
                CaughtError::PostgresError(report) | CaughtError::ErrorReport(report)
                    if !must_propagate(report.sql_error_code()) =>
                {
                    if report.sql_error_code() == PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION {
                        Some(Failure::UniqueViolation { constraint_message: report.message().to_owned() })
                    } else if report.sql_error_code() == PgSqlErrorCode::ERRCODE_CARDINALITY_VIOLATION {
                        Some(Failure::CardinalityViolation { message: report.message().to_owned() })
                    } else {
                        documentdb_pgbson::error::caught_to_docdb(&caught).map(Failure::DocDb)
                    }
                }
                _ => None,
            };
            rollback();
            match failure {
                Some(failure) => Err(failure),
                None => caught.rethrow(),
            }
        })
        .execute()
    }
}
