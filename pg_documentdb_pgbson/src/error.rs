//! Raising MongoDB errors from Rust as PostgreSQL errors with class-`M` SQLSTATEs.
//!
//! pgrx's safe `ereport!` only accepts PostgreSQL's own error codes, and when a PostgreSQL
//! error crosses one of pgrx's FFI guards (for example an error raised by one of our
//! functions while SPI runs a query for another) pgrx maps any SQLSTATE it doesn't know to
//! `XX000`. So:
//!
//! * [`throw`] raises directly through the one raw `errstart`/`errfinish` call in this file,
//!   and remembers the error in a per-backend stash;
//! * [`docdb_guard`] wraps a function body that may see such a converted error and, when
//!   an `XX000` arrives whose message is the stashed one, re-raises it with its real code.
//!
//! `throw` longjmps out of Rust. Callers must therefore only use it at the outermost level
//! of a `#[pg_extern]` body (via [`ok_or_throw`]) or where no Rust value with a destructor
//! is alive on the stack between the call and PostgreSQL; deeper code returns `DocDbResult`.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgSqlErrorCode;

thread_local! {
    static LAST_RAISED: RefCell<Option<DocDbError>> = const { RefCell::new(None) };
}

// PostgreSQL's error entry points; pgrx deliberately leaves them out of its bindings.
unsafe extern "C-unwind" {
    fn errstart(elevel: c_int, domain: *const c_char) -> bool;
    fn errcode(sqlerrcode: c_int) -> c_int;
    fn errmsg(fmt: *const c_char, ...) -> c_int;
    fn errdetail(fmt: *const c_char, ...) -> c_int;
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
}

/// Raises `err` as a PostgreSQL ERROR with the SQLSTATE of its MongoDB code. Never returns.
pub fn throw(err: DocDbError) -> ! {
    let sqlstate = err.code.sqlstate_packed();
    // Interior NULs cannot travel through errmsg's %s; replace them visibly.
    let message = CString::new(err.message.replace('\0', "\\0")).unwrap_or_default();
    let detail = err.detail_text().and_then(|d| CString::new(d).ok());
    LAST_RAISED.with(|slot| *slot.borrow_mut() = Some(err));

    // SAFETY: the raw ereport sequence as PostgreSQL's ereport() macro expands it. errmsg
    // copies `message` into ErrorContext, so we free our copy before errfinish longjmps;
    // no other value with a destructor is alive in this frame at that point.
    unsafe {
        if errstart(pgrx::PgLogLevel::ERROR as c_int, std::ptr::null()) {
            errcode(sqlstate);
            errmsg(c"%s".as_ptr(), message.as_ptr());
            drop(message);
            if let Some(detail) = &detail {
                errdetail(c"%s".as_ptr(), detail.as_ptr());
            }
            drop(detail);
            pg_sys::thread_check::active_thread::clear();
            errfinish(c"documentdb".as_ptr(), 0, std::ptr::null());
        }
    }
    unreachable!("errfinish returned for an ERROR")
}

/// Unwraps a result at the outermost level of a `#[pg_extern]`, raising the error.
#[inline]
pub fn ok_or_throw<T>(result: DocDbResult<T>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => throw(err),
    }
}

/// Runs `body`, and re-raises our own errors that pgrx converted to `XX000` on the way
/// (see the module comment) with their real MongoDB code. Other errors and panics pass
/// through untouched. An `Err` result is raised too.
pub fn docdb_guard<T>(body: impl FnOnce() -> DocDbResult<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => ok_or_throw(result),
        Err(payload) => {
            let restored = match payload.downcast_ref::<CaughtError>() {
                Some(CaughtError::PostgresError(report))
                    if report.sql_error_code() == PgSqlErrorCode::ERRCODE_INTERNAL_ERROR =>
                {
                    take_stashed_matching(report.message())
                }
                _ => None,
            };
            match restored {
                Some(err) => {
                    drop(payload);
                    throw(err)
                }
                None => resume_unwind(payload),
            }
        }
    }
}

/// Maps a PostgreSQL error caught from SPI back to our error when it is one we raised.
pub fn caught_to_docdb(caught: &CaughtError) -> Option<DocDbError> {
    match caught {
        CaughtError::PostgresError(report) | CaughtError::ErrorReport(report) => {
            if report.sql_error_code() == PgSqlErrorCode::ERRCODE_INTERNAL_ERROR {
                take_stashed_matching(report.message())
            } else {
                None
            }
        }
        CaughtError::RustPanic { .. } => None,
    }
}

fn take_stashed_matching(message: &str) -> Option<DocDbError> {
    LAST_RAISED.with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_ref() {
            Some(err) if err.message.replace('\0', "\\0") == message => slot.take(),
            _ => None,
        }
    })
}

/// Convenience for raising a fresh error at the outermost level.
pub fn throw_code(code: ErrorCode, message: impl Into<String>) -> ! {
    throw(DocDbError::new(code, message))
}
