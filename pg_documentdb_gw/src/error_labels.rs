//! The `errorLabels` a replica set member attaches to a failed command (and to an ok reply
//! carrying a `writeConcernError`), which drivers act on: `RetryableWriteError` (retry the
//! write once), `TransientTransactionError` (retry the whole transaction) and
//! `UnknownTransactionCommitResult` (retry the commit). One place decides them, for errors
//! raised here, by PostgreSQL, or by a `failCommand` fail point without explicit labels.
//!
//! The rules are those of the retryable-writes and transactions specifications: a label
//! depends on the error code and on what the command was (a retryable write, a statement
//! of a transaction, or its commit/abort).

use bson::{RawBsonRef, RawDocument};
use documentdb_errors::ErrorCode;

pub const RETRYABLE_WRITE_ERROR: &str = "RetryableWriteError";
pub const TRANSIENT_TRANSACTION_ERROR: &str = "TransientTransactionError";
pub const UNKNOWN_TRANSACTION_COMMIT_RESULT: &str = "UnknownTransactionCommitResult";

/// What a command is, as far as labels go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// No label applies.
    Other,
    /// insert/update/delete/findAndModify with `txnNumber` outside a transaction.
    RetryableWrite,
    /// A statement of a multi-document transaction (`autocommit: false`).
    InTransaction,
    CommitTransaction,
    AbortTransaction,
}

impl CommandKind {
    /// Classifies a command by its name and body.
    pub fn of(name: &str, body: &RawDocument) -> CommandKind {
        match name {
            "commitTransaction" => return CommandKind::CommitTransaction,
            "abortTransaction" => return CommandKind::AbortTransaction,
            _ => {}
        }
        if body.get("autocommit").ok().flatten().is_some() {
            return CommandKind::InTransaction;
        }
        if is_write_command(name) && body.get("txnNumber").ok().flatten().is_some() {
            return CommandKind::RetryableWrite;
        }
        CommandKind::Other
    }

    fn retryable(self) -> bool {
        matches!(self, CommandKind::RetryableWrite | CommandKind::CommitTransaction | CommandKind::AbortTransaction)
    }
}

/// The write commands (those a `txnNumber` makes retryable).
pub fn is_write_command(name: &str) -> bool {
    matches!(name, "insert" | "update" | "delete" | "findAndModify" | "findandmodify")
}

/// Errors after which a retryable write may be retried (retryable-writes specification).
pub fn is_retryable_code(code: i32) -> bool {
    matches!(code, 6 | 7 | 89 | 91 | 189 | 262 | 9001 | 10107 | 11600 | 11602 | 13435 | 13436)
}

/// "Not primary" errors: the member cannot take writes right now.
fn is_not_primary_code(code: i32) -> bool {
    matches!(code, 189 | 10107 | 11602 | 13435 | 13436)
}

/// Labels for a failed command with `code`.
pub fn for_error(kind: CommandKind, code: ErrorCode) -> Vec<&'static str> {
    let code = code.code();
    let mut labels = Vec::new();
    if kind.retryable() && is_retryable_code(code) {
        labels.push(RETRYABLE_WRITE_ERROR);
    }
    let transient_everywhere = code == ErrorCode::WriteConflict.code()
        || code == ErrorCode::LockTimeout.code()
        || code == ErrorCode::PreparedTransactionInProgress.code()
        || code == ErrorCode::NoSuchTransaction.code();
    match kind {
        CommandKind::InTransaction => {
            // The transaction is gone with the member's connection or role: start it again.
            if transient_everywhere || is_not_primary_code(code) || code == ErrorCode::HostUnreachable.code() {
                labels.push(TRANSIENT_TRANSACTION_ERROR);
            }
        }
        CommandKind::CommitTransaction | CommandKind::AbortTransaction => {
            if transient_everywhere {
                labels.push(TRANSIENT_TRANSACTION_ERROR);
            }
            // Whether the commit took effect is not known: the driver may retry the commit.
            let unknown = is_retryable_code(code) || code == ErrorCode::MaxTimeMSExpired.code();
            if kind == CommandKind::CommitTransaction && unknown {
                labels.push(UNKNOWN_TRANSACTION_COMMIT_RESULT);
            }
        }
        CommandKind::RetryableWrite | CommandKind::Other => {}
    }
    labels
}

/// Labels for an ok reply whose write concern failed with `code`.
pub fn for_write_concern_error(kind: CommandKind, code: i32) -> Vec<&'static str> {
    let mut labels = Vec::new();
    if kind.retryable() && is_retryable_code(code) {
        labels.push(RETRYABLE_WRITE_ERROR);
    }
    // A commit whose write concern failed may or may not be durable on a majority, unless
    // the concern could never be satisfied (too many members, unknown tag set).
    let unsatisfiable =
        code == ErrorCode::UnsatisfiableWriteConcern.code() || code == ErrorCode::UnknownReplWriteConcern.code();
    if kind == CommandKind::CommitTransaction && !unsatisfiable {
        labels.push(UNKNOWN_TRANSACTION_COMMIT_RESULT);
    }
    labels
}

/// The `writeConcernError.code` of an ok reply, if it has one and no labels yet.
pub fn unlabelled_write_concern_error(reply: &RawDocument) -> Option<i32> {
    if reply.get("errorLabels").ok().flatten().is_some() {
        return None;
    }
    match reply.get("writeConcernError").ok()?? {
        RawBsonRef::Document(wce) => match wce.get("code").ok()?? {
            RawBsonRef::Int32(c) => Some(c),
            RawBsonRef::Int64(c) => i32::try_from(c).ok(),
            RawBsonRef::Double(c) => Some(c as i32),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn classifies_commands() {
        let of = |name: &str, body: bson::RawDocumentBuf| CommandKind::of(name, &body);
        assert_eq!(of("insert", rawdoc! {"insert": "c", "txnNumber": 1i64}), CommandKind::RetryableWrite);
        assert_eq!(of("insert", rawdoc! {"insert": "c"}), CommandKind::Other);
        assert_eq!(of("find", rawdoc! {"find": "c", "txnNumber": 1i64}), CommandKind::Other);
        let in_txn = rawdoc! {"insert": "c", "txnNumber": 1i64, "autocommit": false};
        assert_eq!(of("insert", in_txn), CommandKind::InTransaction);
        assert_eq!(of("commitTransaction", rawdoc! {"autocommit": false}), CommandKind::CommitTransaction);
        assert_eq!(of("abortTransaction", rawdoc! {}), CommandKind::AbortTransaction);
    }

    /// transactions spec, error-labels.json: which errors of a transaction are transient.
    #[test]
    fn transaction_statement_labels() {
        let t = |code: i32| for_error(CommandKind::InTransaction, ErrorCode::new(code));
        assert_eq!(t(112), vec![TRANSIENT_TRANSACTION_ERROR]);
        assert_eq!(t(251), vec![TRANSIENT_TRANSACTION_ERROR]);
        assert_eq!(t(10107), vec![TRANSIENT_TRANSACTION_ERROR]);
        // DuplicateKey and MaxTimeMSExpired inside a transaction carry no label.
        assert!(t(11000).is_empty());
        assert!(t(50).is_empty());
        assert!(t(263).is_empty());
    }

    #[test]
    fn commit_labels() {
        let c = |code: i32| for_error(CommandKind::CommitTransaction, ErrorCode::new(code));
        assert_eq!(c(251), vec![TRANSIENT_TRANSACTION_ERROR]);
        assert_eq!(c(50), vec![UNKNOWN_TRANSACTION_COMMIT_RESULT]);
        assert_eq!(c(91), vec![RETRYABLE_WRITE_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT]);
        assert!(c(256).is_empty());
        let a = |code: i32| for_error(CommandKind::AbortTransaction, ErrorCode::new(code));
        assert_eq!(a(91), vec![RETRYABLE_WRITE_ERROR]);
        let w = |code: i32| for_write_concern_error(CommandKind::CommitTransaction, code);
        assert_eq!(w(64), vec![UNKNOWN_TRANSACTION_COMMIT_RESULT]);
        assert_eq!(w(50), vec![UNKNOWN_TRANSACTION_COMMIT_RESULT]);
        assert!(w(100).is_empty());
        assert!(w(79).is_empty());
    }

    /// retryable-writes spec: retryable codes label a retryable write, never a statement of
    /// a transaction.
    #[test]
    fn retryable_write_labels() {
        assert_eq!(for_error(CommandKind::RetryableWrite, ErrorCode::new(91)), vec![RETRYABLE_WRITE_ERROR]);
        assert!(for_error(CommandKind::RetryableWrite, ErrorCode::new(11000)).is_empty());
        assert!(for_error(CommandKind::Other, ErrorCode::new(91)).is_empty());
        assert_eq!(for_write_concern_error(CommandKind::RetryableWrite, 91), vec![RETRYABLE_WRITE_ERROR]);
        assert!(for_write_concern_error(CommandKind::InTransaction, 91).is_empty());
    }

    #[test]
    fn finds_unlabelled_write_concern_errors() {
        let r = rawdoc! {"ok": 1.0, "writeConcernError": {"code": 64, "errmsg": "x"}};
        assert_eq!(unlabelled_write_concern_error(&r), Some(64));
        let r = rawdoc! {"ok": 1.0, "writeConcernError": {"code": 64}, "errorLabels": []};
        assert_eq!(unlabelled_write_concern_error(&r), None);
        assert_eq!(unlabelled_write_concern_error(&rawdoc! {"ok": 1.0}), None);
    }
}
