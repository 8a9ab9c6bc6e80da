//! Command errors and their wire form `{ok: 0, errmsg, code, codeName}`; PostgreSQL errors
//! are mapped here (class-`M` SQLSTATEs carry the MongoDB code).

use std::fmt;

use bson::{doc, Document};
use documentdb_errors::ErrorCode;

/// A failed command: what the client gets back as `{ok: 0, ...}`.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
    pub labels: Vec<String>,
    /// Where the error came from, for the log line: "gateway", "postgres" or "protocol".
    pub kind: &'static str,
    /// Extra reply fields the extension attached (keyPattern/keyValue, errInfo...), as BSON.
    pub extra: Option<Vec<u8>>,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> CommandError {
        CommandError { code, message: message.into(), labels: Vec::new(), kind: "gateway", extra: None }
    }

    pub fn bad_value(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorCode::BadValue, message)
    }

    pub fn type_mismatch(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorCode::TypeMismatch, message)
    }

    pub fn internal(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorCode::InternalError, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorCode::Unauthorized, message)
    }

    pub fn auth_failed() -> CommandError {
        CommandError::new(ErrorCode::AuthenticationFailed, "Authentication failed.")
    }

    pub fn with_label(mut self, label: &str) -> CommandError {
        if !self.labels.iter().any(|l| l == label) {
            self.labels.push(label.to_owned());
        }
        self
    }

    pub fn to_document(&self) -> Document {
        let mut d = doc! {
            "ok": 0.0,
            "errmsg": self.message.as_str(),
            "code": self.code.code(),
            "codeName": self.code.name().into_owned(),
        };
        if !self.labels.is_empty() {
            d.insert("errorLabels", self.labels.iter().map(|l| bson::Bson::from(l.as_str())).collect::<Vec<_>>());
        }
        if let Some(extra) = self.extra.as_ref().and_then(|b| bson::Document::from_reader(b.as_slice()).ok()) {
            for (k, v) in extra {
                d.entry(k).or_insert(v);
            }
        }
        d
    }

    /// Maps a PostgreSQL error (or a lost connection) to a MongoDB error.
    pub fn from_postgres(e: &tokio_postgres::Error) -> CommandError {
        let Some(db) = e.as_db_error() else {
            // tokio-postgres' Display omits the cause ("error connecting to server"): add it.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            let what = if e.is_closed() { "connection to PostgreSQL was lost" } else { "PostgreSQL connection error" };
            let mut err = CommandError::new(ErrorCode::HostUnreachable, format!("{what}: {text}"));
            err.kind = "postgres";
            return err;
        };
        let state = db.code().code();
        let message = db.message().to_owned();
        let mut err = if let Some(code) = ErrorCode::from_sqlstate(state) {
            CommandError::new(code, message)
        } else {
            match state {
                "23505" => CommandError::new(ErrorCode::DuplicateKey, format!("E11000 duplicate key error: {message}")),
                // A cancel request (killOp, killSessions) rather than the statement timeout
                // (maxTimeMS).
                "57014" if message.contains("user request") => {
                    CommandError::new(ErrorCode::Interrupted, "operation was interrupted (killOp or killSessions)")
                }
                "57014" => CommandError::new(ErrorCode::MaxTimeMSExpired, "operation exceeded time limit"),
                "42501" => CommandError::new(ErrorCode::Unauthorized, message),
                "42883" | "42P01" => {
                    // A missing function is a command the extension doesn't have; a missing
                    // relation is a namespace that doesn't exist.
                    if state == "42883" {
                        CommandError::new(ErrorCode::CommandNotFound, message)
                    } else {
                        CommandError::new(ErrorCode::NamespaceNotFound, message)
                    }
                }
                // A serialization failure or deadlock, and (transactions run with a short
                // lock_timeout) a row another open transaction has written: MongoDB's write
                // conflict. Labels are added by error_labels, which knows the command.
                "40001" | "40P01" | "55P03" => CommandError::new(
                    ErrorCode::WriteConflict,
                    format!("Write conflict during plan execution and yielding is disabled: {message}"),
                ),
                "57P01" | "57P02" => CommandError::new(ErrorCode::InterruptedAtShutdown, message),
                "57P03" => CommandError::new(ErrorCode::ShutdownInProgress, message),
                "53300" => CommandError::new(ErrorCode::HostUnreachable, message),
                _ => CommandError::new(ErrorCode::InternalError, message),
            }
        };
        err.kind = "postgres";
        err.extra = db.detail().and_then(documentdb_errors::DocDbError::details_from_text);
        err
    }
}

impl From<tokio_postgres::Error> for CommandError {
    fn from(e: tokio_postgres::Error) -> CommandError {
        CommandError::from_postgres(&e)
    }
}

impl From<bson::error::Error> for CommandError {
    fn from(e: bson::error::Error) -> CommandError {
        CommandError::new(ErrorCode::InvalidBSON, e.to_string())
    }
}

impl fmt::Debug for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}): {}", self.code, self.code.code(), self.message)
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document_shape() {
        let e = CommandError::new(ErrorCode::CommandNotFound, "no such command: 'foo'");
        let d = e.to_document();
        assert_eq!(d.get_f64("ok").unwrap(), 0.0);
        assert_eq!(d.get_i32("code").unwrap(), 59);
        assert_eq!(d.get_str("codeName").unwrap(), "CommandNotFound");
        assert_eq!(d.get_str("errmsg").unwrap(), "no such command: 'foo'");
        assert!(!d.contains_key("errorLabels"));
        let t = CommandError::new(ErrorCode::WriteConflict, "x").with_label("TransientTransactionError");
        assert_eq!(t.to_document().get_array("errorLabels").unwrap().len(), 1);
        let host = CommandError::new(ErrorCode::new(6), "x").to_document();
        assert_eq!(host.get_str("codeName").unwrap(), "HostUnreachable");
        let location = CommandError::new(ErrorCode::new(123456), "x").to_document();
        assert_eq!(location.get_str("codeName").unwrap(), "Location123456");
    }
}
